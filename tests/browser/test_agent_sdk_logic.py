"""The agent SDK's own logic in Chromium, on a stand-in socket (`data/fake_agent_socket.js`):
the requests each method sends, what it refuses, listeners, reconnecting with the
session's token, the heartbeat, and the soft phone of a WebRTC sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from callyard.testing.browser import Browser
from callyard.web import AGENT_SDK
from tests.browser.pages import blank_page_with


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = blank_page_with(browser.page(), AGENT_SDK, "fake_agent_socket.js")
    yield opened
    opened.close()


def sent(page: Page) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = page.evaluate("lastSocket().sent")
    return requests


def test_invalid_calls_throw_synchronously(page: Page) -> None:
    thrown = page.evaluate(
        """async () => {
          const refusals = [];
          const attempt = (action) => {
            try { action(); refusals.push(null); } catch (e) { refusals.push(e.message); }
          };
          attempt(() => new AgentSdk({ url: 'ws://127.0.0.1:9', pingInterval: -1 }));
          attempt(() => new AgentSdk({ url: 'ftp://127.0.0.1:9' }));
          const sdk = new AgentSdk({ url: 'ws://127.0.0.1:9' });
          await until(() => sdk.isConnected());
          attempt(() => sdk.idle());
          const as = { companyShortName: '1001', agentNumber: '0001', password: 'x' };
          attempt(() => sdk.login({ ...as, loginType: 4 }));
          attempt(() => sdk.login({ agentNumber: '0001', password: 'x', loginType: 2 }));
          sdk.login({ ...as, loginType: 2 });
          await until(() => sdk.isLogin());
          attempt(() => sdk.call(''));
          attempt(() => sdk.call('138', 3));
          attempt(() => sdk.transferCall('0002', 5));
          attempt(() => sdk.forceIdle(''));
          attempt(() => sdk.getAutoGroups());
          attempt(() => sdk.surveillanceStart({}, 10));
          return refusals;
        }"""
    )
    assert thrown == [
        "AgentSdk: pingInterval must be a number >= 0",
        "AgentSdk: url ftp://127.0.0.1:9 is not a ws://, wss:// or http(s):// address",
        "AgentSdk.idle: not logged in: call login() first",
        "AgentSdk.login: loginType must be one of 1, 2, 3 (got 4)",
        "AgentSdk.login: companyShortName is required",
        "AgentSdk.call: called is required",
        "AgentSdk.call: calledType must be one of 1, 2 (got 3)",
        "AgentSdk.transferCall: transferType must be one of 1, 2, 3, 4 (got 5)",
        "AgentSdk.forceIdle: target is required",
        "AgentSdk.getAutoGroups: callyard has no automatic (predictive) groups request"
        " on the agent socket",
        "AgentSdk.surveillanceStart: interval must be a number of ms >= 100",
    ]


def test_with_the_built_in_ui_invalid_calls_are_exception_events(page: Page) -> None:
    outcome = page.evaluate(
        """async () => {
          document.body.innerHTML = '<div id="toolbar"></div>';
          const sdk = new AgentSdk({ url: 'ws://127.0.0.1:9', el: '#toolbar' });
          const messages = [];
          sdk.on('Exception', (e) => messages.push(e.message));
          const answer = await sdk.idle();
          const ui = document.querySelector('#toolbar').textContent;
          return { messages, code: answer.code, ui };
        }"""
    )
    assert outcome["messages"] == ["AgentSdk.idle: not logged in: call login() first"]
    assert outcome["code"] == "-1"
    assert "Exception" in outcome["ui"]


def test_each_method_sends_the_request_callyard_implements(page: Page) -> None:
    page.evaluate(
        """async () => {
          const sdk = await signedIn();
          window.sdk = sdk;
          sdk.setUserdata('lead-7');
          const answers = await Promise.all([
            sdk.idle(), sdk.busy('2'), sdk.call('138000', 2, '02150001'), sdk.hangup(),
            sdk.mute(), sdk.unMute(), sdk.transferCall('0002', 1), sdk.transferCancel(),
            sdk.consult('0003'), sdk.consultTransfer(), sdk.tripartiteCall(),
            sdk.forceBusy('0004'), sdk.listen('0004'), sdk.whisper('0004'),
            sdk.getStateByAgentId('0004'),
            sdk.getIdleAgentByGroupId('g-1'), sdk.getGroups(), sdk.surveillance({ groupId: 'g-1' }),
            sdk.logout(),
          ]);
          window.codes = answers.map((a) => a.code);
        }"""
    )
    requests = sent(page)
    login = requests[0]
    assert {k: login[k] for k in ("request", "companyId", "agentNumber", "password")} == {
        "request": "login", "companyId": "1001", "agentNumber": "0001", "password": "pw",
    }  # fmt: skip
    assert login["loginType"] == "2"
    stripped = [{k: v for k, v in r.items() if k != "sequence"} for r in requests[1:]]
    assert stripped == [
        {"request": "idle"},
        {"request": "busy", "busyType": "2"},
        {
            "request": "makeCall",
            "called": "138000",
            "caller": "02150001",
            "callAgentType": "default",
            "userData": "lead-7",
        },
        {"request": "cancelCall"},
        {"request": "mute"},
        {"request": "unmute"},
        {"request": "transferCall", "transferId": "0002", "transferType": "1", "transferMode": 0},
        {"request": "transferCancel"},
        {"request": "consultCall", "consultId": "0003", "consultType": "1"},
        {"request": "consultTransfer"},
        {"request": "tripartiteTalk"},
        {"request": "forceBusy", "beAgentNumber": "0004"},
        {"request": "listen", "beAgentNumber": "0004"},
        {"request": "whisper", "beAgentNumber": "0004"},
        {"request": "surveillance", "filter": {"agentNumber": "0004"}},
        {"request": "idleAgent", "groupId": "g-1"},
        {"request": "getGroups"},
        {"request": "surveillance", "filter": {"groupId": "g-1"}},
        {"request": "logout"},
    ]
    sequences = [r["sequence"] for r in requests]
    assert sequences == sorted(set(sequences))
    assert set(page.evaluate("codes")) == {"0"}


def test_events_pass_through_and_listeners_come_and_go(page: Page) -> None:
    outcome = page.evaluate(
        """async () => {
          const sdk = await signedIn();
          const got = [];
          const id = sdk.on('QueueInfo', (e) => got.push(['on', e.data.groupWaitNumber]));
          sdk.once('QueueInfo', (e) => got.push(['once', e.data.groupWaitNumber]));
          const dropped = (e) => got.push(['dropped']);
          sdk.on('QueueInfo', dropped);
          sdk.off('QueueInfo', dropped);
          sdk.on('QueueInfo', () => { throw new Error('a listener that fails'); });
          const queue = (n) => (
            { type: 'event', event: 'QueueInfo', sequence: 0, data: { groupWaitNumber: n } });
          lastSocket().push(queue(1));
          lastSocket().push(queue(2), true); // a binary frame, as callyard sends
          await until(() => got.length === 3);
          sdk.off('QueueInfo', id);
          lastSocket().push(queue(3));
          await new Promise((r) => setTimeout(r, 50));
          return { got, id: typeof id };
        }"""
    )
    assert outcome == {"got": [["on", 1], ["once", 1], ["on", 2]], "id": "string"}


def test_a_refused_or_unanswered_request_is_an_exception_event(page: Page) -> None:
    answers = page.evaluate(
        """async () => {
          const sdk = await signedIn({ timeout: 200 });
          answers.idle = '-1';
          silent.push('busy');
          return [await sdk.idle(), await sdk.busy()].map((a) => a.code + ' ' + a.msg);
        }"""
    )
    assert answers == ["-1 refused", "-1 no answer (timeout)"]
    assert page.evaluate("seen.filter((s) => s.startsWith('Exception'))") == [
        "Exception: idle: refused",
        "Exception: busy: no answer (timeout)",
    ]


def test_an_unexpected_close_reconnects_with_the_token(page: Page) -> None:
    outcome = page.evaluate(
        """async () => {
          const sdk = await signedIn({ maxReconnect: 2 });
          lastSocket().drop();
          await until(() => sockets.length === 2 && sdk.isConnected());
          lastSocket().push(loginEvent('Reconnect', 2, 0));
          await until(() => seen.includes('Reconnect'));
          const idle = await sdk.idle(); // the session goes on, on the new socket
          lastSocket().drop();
          await until(() => sockets.length === 3 && sdk.isConnected());
          lastSocket().drop(4001); // signed in elsewhere: no more
          await new Promise((r) => setTimeout(r, 1500));
          return { urls: sockets.map((s) => s.url), idle: idle.code, login: sdk.isLogin() };
        }"""
    )
    assert outcome["urls"] == [
        "ws://127.0.0.1:9/ccs/api/agent/ws",
        "ws://127.0.0.1:9/ccs/api/agent/ws?token=tok-1",
        "ws://127.0.0.1:9/ccs/api/agent/ws?token=tok-1",
    ]
    assert (outcome["idle"], outcome["login"]) == ("0", False)
    assert page.evaluate("seen").count("Close") == 3


def test_reconnecting_stops_after_max_reconnect_and_after_break(page: Page) -> None:
    counts = page.evaluate(
        """async () => {
          const sdk = await signedIn({ maxReconnect: 2 });
          refusing = true;
          lastSocket().drop();
          await new Promise((r) => setTimeout(r, 4000)); // retries after 1 s and 2 s
          const afterLimit = sockets.length;
          refusing = false;
          sdk.connect();
          await until(() => sockets.length === afterLimit + 1);
          sdk.break();
          await new Promise((r) => setTimeout(r, 1500));
          return [afterLimit, sockets.length];
        }"""
    )
    assert counts == [3, 4]


def test_the_heartbeat_runs_while_signed_in(page: Page) -> None:
    page.evaluate(
        """async () => {
          const sdk = new AgentSdk({ url: 'ws://127.0.0.1:9', pingInterval: 50 });
          await new Promise((r) => setTimeout(r, 200)); // not before the sign-in
          sdk.login({ companyShortName: '1001', agentNumber: '0001', password: 'pw',
                      loginType: 1 });
          await until(() => lastSocket().sent.filter((r) => r.request === 'heartbeat').length >= 3);
          await sdk.logout();
          lastSocket().push({ type: 'event', event: 'Logout', sequence: 0, data: null });
          await until(() => !sdk.isLogin());
          window.beats = lastSocket().sent.filter((r) => r.request === 'heartbeat').length;
          await new Promise((r) => setTimeout(r, 200));
        }"""
    )
    requests = [r["request"] for r in sent(page)]
    assert requests[0] == "login"
    assert requests.count("heartbeat") == page.evaluate("beats")


FAKE_PHONE = """
  window.phones = [];
  window.FakePhone = class {
    constructor(options) { this.options = options; this.calls = []; phones.push(this); }
    init(options) { this.options = options; this.calls.push('init'); }
    register() { this.calls.push('register'); }
    isRegistered() { return false; }
    stop() { this.calls.push('stop'); }
    getSession() { return null; }
  };
"""


def test_a_webrtc_sign_in_makes_and_registers_the_soft_phone(page: Page) -> None:
    page.add_script_tag(content=FAKE_PHONE)
    outcome = page.evaluate(
        """async () => {
          loginData = { webrtcWss: 'ws://127.0.0.1:5066' };
          const sdk = await signedIn({ softPhoneFactory: FakePhone, autoAnswer: true }, 3);
          const phone = sdk.getSoftPhoneInstance();
          lastSocket().push({ type: 'event', event: 'Logout', sequence: 0, data: null });
          await until(() => !sdk.isLogin());
          return { same: phone === phones[0], options: phone.options, calls: phone.calls,
                   after: sdk.getSoftPhoneInstance(), type: sdk.getLoginType() };
        }"""
    )
    assert outcome["same"]
    assert outcome["options"] == {
        "wss": "ws://127.0.0.1:5066",
        "wssport": "",
        "account": "10010001",
        "password": "sip-secret",
        "domain": "127.0.0.1",
        "autoAnswer": True,
    }
    assert outcome["calls"] == ["register", "stop"]
    assert (outcome["after"], outcome["type"]) == (None, None)


def test_the_soft_phones_address_from_an_option_or_an_exception(page: Page) -> None:
    page.add_script_tag(content=FAKE_PHONE)
    outcome = page.evaluate(
        """async () => {
          const unknown = await signedIn({ softPhoneFactory: FakePhone }, 3);
          const without = unknown.getSoftPhoneInstance();
          unknown.break();
          const sdk = await signedIn(
            { softPhoneFactory: FakePhone, softPhone: { wss: '127.0.0.1', wssport: 5067 } }, 3);
          return { without, options: sdk.getSoftPhoneInstance().options };
        }"""
    )
    assert outcome["without"] is None
    assert page.evaluate("seen.filter((s) => s.startsWith('Exception'))") == [
        "Exception: soft phone: the SIP WebSocket address is unknown"
        " (give the softPhone.wss option)"
    ]
    assert outcome["options"]["wss"] == "127.0.0.1"
    assert outcome["options"]["wssport"] == 5067
    assert outcome["options"]["autoAnswer"] is False
