"""The soft phone SDK against callyard's switch: SIP over WebSocket from headless
Chromium. A soft phone registers on an extension; a customer's WebRTC desk (loginType 3,
the vendor's pattern) signs its agent in and its soft phone registers, as the server's
extension listing shows."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from callyard.testing.browser import Browser
from callyard.testing.receiver import Receiver
from tests.browser.pages import CustomerSite
from tests.switch.pbx import AGENT, COMPANY, Pbx
from tests.switch.test_cti_e2e import PASSWORD, agent_with_group

pytestmark = pytest.mark.e2e


def registration(pbx: Pbx, number: str) -> str:
    """`reg` or `nreg`, as GetSipnumberInfo lists the extension."""
    reply = pbx.api("App.Sip_Sipnum.GetSipnumberInfo", extnumber=number)
    rows: list[dict[str, Any]] = reply["data"]["result"]
    return str(rows[0]["register"])


def seen_in(page: Page, name: str, timeout_ms: float = 10_000) -> None:
    page.wait_for_function("name => seen.includes(name)", arg=name, timeout=timeout_ms)


def test_a_soft_phone_registers_on_the_switch(pbx: Pbx, browser: Browser) -> None:
    with CustomerSite(pbx.server.url) as site:
        page = browser.page()
        page.goto(f"{site.url}/webrtc_desk.html")  # any page of the customer's
        host, port = pbx.sip_ws.removeprefix("ws://").split(":")
        page.evaluate(
            """([host, port, account, password]) => {
              window.seen = [];
              window.phone = new SoftPhoneSdk(
                { wss: 'ws://' + host, wssport: port, account, password, logLevel: 1 });
              for (const name of ['Connected', 'Registered', 'RegistrationFailed']) {
                phone.on(name, () => seen.push(name));
              }
              phone.register();
            }""",
            [host, port, AGENT, pbx.password(AGENT)],
        )
        seen_in(page, "Registered")
        assert page.evaluate("[seen, phone.isRegistered()]") == [["Connected", "Registered"], True]
        assert registration(pbx, AGENT) == "reg"
        page.evaluate("phone.stop()")
        page.wait_for_function("!phone.isRegistered()")


def test_a_webrtc_desk_signs_in_and_its_soft_phone_registers(
    pbx: Pbx, receiver: Receiver, browser: Browser
) -> None:
    agent_with_group(pbx, receiver)
    with CustomerSite(pbx.server.url) as site:
        page = browser.page()
        page.goto(f"{site.url}/webrtc_desk.html?company={COMPANY}&agent=0001&password={PASSWORD}")
        seen_in(page, "Registered")
        assert page.evaluate("seen") == ["Login", "Connected", "Registered"]
        assert page.evaluate("[agent.getLoginType(), failures]") == [3, []]
        # The switch's address came with the Login event.
        assert page.evaluate("agent.getSoftPhoneInstance()._socketUrl()") == pbx.sip_ws
        assert registration(pbx, AGENT) == "reg"
