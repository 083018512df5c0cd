"""A customer's agent desk, a static page written only against the vendor's agent-sdk
API, loads the SDK from a real `callyard serve` and works its agent through a shift:
signs in on its mobile, goes ready and on a break, lists its groups and signs out. What
the page saw is checked against the server's own account: the events it pushed to the
company's agent-event URL, and the CTI's answer once the agent has left."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from callyard.testing.browser import Browser
from callyard.testing.receiver import Receiver
from tests.browser.pages import CustomerSite
from tests.switch.pbx import COMPANY, Pbx
from tests.switch.test_cti_e2e import PASSWORD, agent_with_group

pytestmark = pytest.mark.e2e

SHIFT = ["Login", "Idle", "Busy", "GroupInfo", "Logout"]


def wait_seen(page: Page, event: str, timeout_ms: float = 10_000) -> dict[str, Any]:
    """The first event `event` the page saw, waiting for it."""
    page.wait_for_function(
        "name => seen.some(e => e.event === name)", arg=event, timeout=timeout_ms
    )
    found: dict[str, Any] = page.evaluate("name => seen.find(e => e.event === name)", event)
    return found


def test_a_customers_agent_desk_works_a_shift(
    pbx: Pbx, receiver: Receiver, browser: Browser
) -> None:
    vcall = agent_with_group(pbx, receiver)
    with CustomerSite(pbx.server.url) as site:
        page = browser.page()
        page.goto(f"{site.url}/agent_desk.html?company={COMPANY}&agent=0001&password={PASSWORD}")
        wait_seen(page, "Open")
        assert page.evaluate("agent.isConnected() && !agent.isLogin()")

        page.click("#login")
        login = wait_seen(page, "Login")
        assert login["nowState"] == "Login"
        assert login["data"]["loginType"] == "2"
        assert login["data"]["token"]
        assert [g["name"] for g in login["data"]["groupInfoList"]] == ["sales"]
        assert page.evaluate("[agent.isLogin(), agent.getLoginType(), agent.getVersion()]") == [
            True, 2, "1.1.64",
        ]  # fmt: skip

        page.click("#idle")
        assert wait_seen(page, "Idle")["nowState"] == "Idle"
        page.click("#busy")
        busy = wait_seen(page, "Busy")
        assert (busy["nowState"], busy["data"]["currentBusyType"]) == ("Busy", "1")
        page.click("#groups")
        groups = wait_seen(page, "GroupInfo")
        assert [g["name"] for g in groups["data"]["groupList"]] == ["sales"]
        assert page.text_content("#state") == "Busy"

        page.click("#logout")
        wait_seen(page, "Logout")
        close = wait_seen(page, "Close")
        assert close["event"] == "Close"
        assert page.evaluate("agent.isLogin()") is False
        seen = [e["event"] for e in page.evaluate("seen")]
        failures = page.evaluate("failures")

    assert seen[: len(SHIFT) + 1] == ["Open", *SHIFT], seen
    assert "Reconnect" not in seen  # the server ended the session: no reconnecting
    assert failures == [], failures
    # The server's account: the same events pushed to the company, in the same order...
    pushed = [json.loads(r.body) for r in receiver.wait_for(len(SHIFT), timeout=20)]
    assert [p["event"] for p in pushed][: len(SHIFT)] == SHIFT
    assert [p["nowState"] for p in pushed[1:3]] == ["Idle", "Busy"]
    # ...and the agent is signed out: the CTI refuses to act for it.
    answer = httpx.post(
        f"{pbx.server.url}/ccs/api/agent/control",
        json={
            "companyId": COMPANY, "agentNumber": "0001", "request": "idle",
            "sequence": 1, "token": vcall.token,
        },
        timeout=10,
    ).json()  # fmt: skip
    assert answer["code"] != "0", answer
    assert "not signed in" in answer["msg"], answer
