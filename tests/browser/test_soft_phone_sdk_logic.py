"""The soft phone SDK's own logic in Chromium, on a stand-in registrar
(`data/fake_sip_socket.js`): the WebSocket address and SIP identity of its options, its
events as it registers, fails, unregisters and is offered a call, and what it refuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from callyard.testing.browser import Browser
from callyard.web import SOFT_PHONE_SDK
from tests.browser.pages import blank_page_with


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = blank_page_with(browser.page(), SOFT_PHONE_SDK, "fake_sip_socket.js")
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("options", "url", "request_uri"),
    [
        ({"wss": "127.0.0.1", "wssport": 5066}, "wss://127.0.0.1:5066", "sip:127.0.0.1"),
        ({"wss": "ws://127.0.0.1", "wssport": "5066"}, "ws://127.0.0.1:5066", "sip:127.0.0.1"),
        ({"wss": "wss://sip.example:7443"}, "wss://sip.example:7443", "sip:sip.example"),
        (
            {"wss": "ws://127.0.0.1", "wssport": 5066, "domain": "cc.example"},
            "ws://127.0.0.1:5066",
            "sip:cc.example",
        ),
    ],
)
def test_the_address_and_identity_of_the_options(
    page: Page, options: dict[str, object], url: str, request_uri: str
) -> None:
    found = page.evaluate(
        """async (options) => {
          const phone = recordedPhone(options);
          phone.register();
          await until(() => phone.isRegistered());
          const socket = sipSockets[0];
          return [socket.url, socket.protocol, socket.received[0].split('\\r\\n')[0]];
        }""",
        options,
    )
    assert found == [url, "sip", f"REGISTER {request_uri} SIP/2.0"]
    assert page.evaluate("phoneEvents") == ["Connected", "Registered"]


def test_registering_unregistering_and_stopping(page: Page) -> None:
    page.evaluate(
        """async () => {
          const phone = recordedPhone({ wss: 'ws://127.0.0.1', wssport: 5066 });
          phone.register();
          await until(() => phone.isRegistered());
          phone.unregister();
          await until(() => phoneEvents.includes('UnRegistered'));
          phone.stop();
          await until(() => phoneEvents.includes('Disconnected'));
        }"""
    )
    assert page.evaluate("phoneEvents") == [
        "Connected", "Registered", "UnRegistered", "Disconnected",
    ]  # fmt: skip
    register = page.evaluate("sipSockets[0].received[0]")
    assert "From: <sip:10010001@127.0.0.1>" in register


def test_a_refused_registration(page: Page) -> None:
    page.evaluate(
        """async () => {
          registerStatus = 403;
          const phone = recordedPhone({ wss: 'ws://127.0.0.1', wssport: 5066 });
          phone.register();
          await until(() => phoneEvents.includes('RegistrationFailed'));
          window.registered = phone.isRegistered();
        }"""
    )
    assert page.evaluate("[phoneEvents, registered]") == [
        ["Connected", "RegistrationFailed"],
        False,
    ]


def test_an_offered_call_rings_until_hung_up(page: Page) -> None:
    outcome = page.evaluate(
        """async () => {
          const phone = recordedPhone({ wss: 'ws://127.0.0.1', wssport: 5066, autoAnswer: false });
          let invite = null;
          phone.on('Invite', (e) => { invite = { caller: e.caller, name: e.displayName }; });
          phone.register();
          await until(() => phone.isRegistered());
          sipSockets[0].invite('10010001');
          await until(() => invite !== null);
          const ringing = phone.getSession() !== null && !phone.getSession().isEstablished();
          phone.hangup();
          await until(() => phoneEvents.includes('CallTerminated'));
          const replies = sipSockets[0].received.filter((m) => m.startsWith('SIP/2.0'));
          return { invite, ringing, replies: replies.map((m) => m.split('\\r\\n')[0]) };
        }"""
    )
    assert outcome["invite"] == {"caller": "628123456789", "name": "Customer"}
    assert outcome["ringing"]
    assert outcome["replies"][:2] == ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing"]
    assert outcome["replies"][-1].startswith("SIP/2.0 4")  # rejected
    assert page.evaluate("phoneEvents").count("Answer") == 0
    assert page.evaluate("phoneEvents")[-2:] == ["Terminated", "CallTerminated"]


def test_what_it_refuses(page: Page) -> None:
    refusals = page.evaluate(
        """async () => {
          const refusals = [];
          const attempt = (action) => {
            try { action(); refusals.push(null); } catch (e) { refusals.push(e.message); }
          };
          const phone = recordedPhone({ wss: 'ws://127.0.0.1', wssport: 5066 });
          attempt(() => phone.call('2000'));
          attempt(() => recordedPhone({ wss: '', account: '1' }).register());
          attempt(() => recordedPhone({ wss: '127.0.0.1', wssport: 70000 }).register());
          attempt(() => recordedPhone({ wss: '127.0.0.1', account: '' }).register());
          phone.register();
          await until(() => phone.isRegistered());
          attempt(() => phone.call(''));
          attempt(() => phone.dtmf('x'));
          attempt(() => phone.dtmf('12'));
          attempt(() => phone.dtmf('5'));
          attempt(() => phone.answer());
          attempt(() => phone.mute());
          return refusals;
        }"""
    )
    assert refusals == [
        "SoftPhoneSdk.call: register first",
        "SoftPhoneSdk: wss (the SIP WebSocket address) is required",
        "SoftPhoneSdk: wssport 70000 is not a port",
        "SoftPhoneSdk: account is required",
        "SoftPhoneSdk.call: called is required",
        "SoftPhoneSdk.dtmf: x is not 0-9, # or *",
        "SoftPhoneSdk.dtmf: 12 is not 0-9, # or *",
        "SoftPhoneSdk.dtmf: no call is up",
        "SoftPhoneSdk.answer: no incoming call to answer",
        "SoftPhoneSdk.mute: no call is up",
    ]


def test_defaults_and_auto_answer(page: Page) -> None:
    assert page.evaluate(
        """() => {
          const phone = new SoftPhoneSdk({ wss: '127.0.0.1' });
          const before = phone._options.autoAnswer;
          phone.setAutoAnswer(false);
          return [before, phone._options.autoAnswer, phone._options.logLevel, phone.getVersion()];
        }"""
    ) == [True, False, 3, "1.0.19"]
