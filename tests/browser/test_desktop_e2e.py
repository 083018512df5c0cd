"""callyard's agent desktop (`/agent/`) worked as an agent works it, by clicks and keys
only: two agents sign in with their browsers as phones (login type 3), one takes a queue
call from a carrier's caller (the screen pop opens with the caller's number), talks,
holds, mutes, sends a tone from the dial pad, calls off a supervised transfer while the
other's phone rings, and hands the call to the other, who hangs up; the audio is checked
in each browser's own statistics (shown on the page) and in the call's recording, and
the call shows in the recent calls with its recording playable.

`CALLYARD_DESKTOP_SCREENSHOT=docs/images/agent-desktop.png` saves a screenshot of the
first agent's desktop in the middle of the call (the README's)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from callyard.testing.audio import tones_heard, wav_samples
from callyard.testing.browser import Browser, chromium_unavailable
from callyard.testing.receiver import Receiver
from callyard.web import DESKTOP
from tests.switch.pbx import AGENT, CALLER_ID, COMPANY, SECOND_AGENT, Pbx
from tests.switch.test_inbound_e2e import download
from tests.switch.test_mid_call_e2e import (
    CALLER,
    CALLER_HZ,
    FIRST_HZ,
    PASSWORD,
    SECOND_HZ,
    VOICES,
)
from tests.switch.test_queue_e2e import WORK_NUMBERS, nothing_left, staffed_queue
from tests.switch.test_queued_call import channel
from tests.switch.test_vcall_calls_e2e import Vcall
from tests.switch.test_webrtc_e2e import carriers_caller

pytestmark = [
    pytest.mark.sip,
    pytest.mark.skipif(chromium_unavailable() is not None, reason=str(chromium_unavailable())),
    pytest.mark.skipif(
        not (DESKTOP.built / "main.js").is_file(),
        reason="the desktop is not built (scripts/install)",
    ),
]

SCREENSHOT = os.environ.get("CALLYARD_DESKTOP_SCREENSHOT", "")
LAPTOP = ViewportSize(width=1366, height=900)
WAIT_MS = 20_000
PACKETS = 100  # 2 s of audio
WRAP_UP_SECONDS = 3


def desktop_settings(pbx: Pbx, receiver: Receiver) -> str:
    """The sales group's screen-pop URL (a page of callyard's own server stands in for the
    CRM) and wrap-up time, set through the vcall API as a CRM would; the URL."""
    vcall = Vcall(pbx, receiver)
    groups = httpx.get(
        f"{pbx.server.url}/api/group/open/page", params={"token": vcall.token, "name": "sales"}
    ).json()["data"]["records"]
    url = f"{pbx.server.url}/healthz?from=crm"
    updated = vcall.post(
        f"/api/group/open/{groups[0]['sn']}",
        popupWindowUrl=url,
        agentAutoIdle="1",
        agentAutoIdleTime=WRAP_UP_SECONDS,
    )
    assert updated["code"] == "0", updated
    return url


def signed_in_desktop(browser: Browser, pbx: Pbx, extension: str) -> Page:
    """The desktop in a new tab, its agent signed in by the form (the browser its phone,
    as the form proposes) and its soft phone registered."""
    page = browser.page()
    page.set_viewport_size(LAPTOP)
    page.goto(f"{pbx.server.url}/{DESKTOP.path}/")
    page.get_by_label("Company code").fill(COMPANY)
    page.get_by_label("Agent number").fill(WORK_NUMBERS[extension])
    assert page.get_by_label("Phone", exact=True).input_value() == "3"  # WebRTC by default
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.locator("#state")).to_have_attribute("data-state", "Login", timeout=WAIT_MS)
    expect(page.locator("#phone-status")).to_have_attribute(
        "data-phone", "registered", timeout=WAIT_MS
    )
    return page


def in_state(page: Page, state: str) -> None:
    expect(page.locator("#state")).to_have_attribute("data-state", state, timeout=WAIT_MS)


def saw(page: Page, event: str) -> None:
    expect(page.locator(f"#event-log li[data-event='{event}']").first).to_be_attached(
        timeout=WAIT_MS
    )


def shown_events(page: Page) -> list[str]:
    """The events the page lists, oldest first."""
    found: list[str] = page.eval_on_selector_all(
        "#event-log li", "items => items.map(item => item.dataset.event).reverse()"
    )
    return found


def in_order(wanted: list[str], shown: list[str]) -> bool:
    remaining = iter(shown)
    return all(event in remaining for event in wanted)


def hears(page: Page) -> dict[str, float]:
    """The audio statistics the page shows (its browser's own), once PACKETS came in."""
    page.wait_for_function(
        "packets => Number(document.getElementById('audio-stats').dataset.packetsReceived)"
        " >= packets",
        arg=PACKETS,
        timeout=WAIT_MS,
    )
    stats: dict[str, str] = page.eval_on_selector("#audio-stats", "element => element.dataset")
    return {name: float(stats[name]) for name in ("packetsReceived", "packetsSent", "energy")}


def click(page: Page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


def test_agents_work_a_queue_call_on_the_desktop(
    pbx: Pbx, receiver: Receiver, tmp_path: Path
) -> None:
    staffed_queue(pbx, receiver, ring_seconds=10, max_wait_seconds=120)
    crm = desktop_settings(pbx, receiver)
    caller = carriers_caller(pbx, tmp_path)
    with (
        Browser(tmp_path / "first", tone_hz=FIRST_HZ) as first_browser,
        Browser(tmp_path / "second", tone_hz=SECOND_HZ) as second_browser,
        caller,
    ):
        first = signed_in_desktop(first_browser, pbx, AGENT)
        second = signed_in_desktop(second_browser, pbx, SECOND_AGENT)
        second.get_by_label("Not ready because").select_option(label="Lunch")
        click(second, "Not ready")
        in_state(second, "Busy")
        expect(second.locator("#state-reason")).to_have_text("(Lunch)")
        click(first, "Ready")
        in_state(first, "Idle")

        with first.expect_popup(timeout=WAIT_MS) as popped:
            caller.dial(f"sip:{CALLER_ID}@127.0.0.1:{pbx.server.sip_port}")
            caller.wait_established(timeout=20)
        in_state(first, "Conversation")  # the soft phone answered by itself
        screen_pop = popped.value
        screen_pop.wait_for_load_state()
        assert screen_pop.url.startswith(crm)
        assert parse_qs(urlsplit(screen_pop.url).query) == {"from": ["crm"], "caller": [CALLER]}
        expect(first.locator("#call-line")).to_contain_text(CALLER)
        assert hears(first)["energy"] > 0
        if SCREENSHOT:
            first.screenshot(path=SCREENSHOT, full_page=True)

        click(first, "Hold")
        saw(first, "Hold")
        expect(first.locator("#hold")).to_have_attribute("aria-pressed", "true")
        click(first, "Unhold")
        saw(first, "UnHold")
        click(first, "Mute")
        saw(first, "Mute")
        click(first, "Unmute")
        saw(first, "Unmute")
        first.get_by_role("button", name="Key 5").focus()
        first.keyboard.press("Enter")  # a tone to the caller, from the dial pad
        saw(first, "DTMF 5")

        click(second, "Ready")
        in_state(second, "Idle")
        first.get_by_label("To", exact=True).select_option(label="Agent number")
        first.get_by_label("Number", exact=True).focus()
        first.keyboard.type(WORK_NUMBERS[SECOND_AGENT])
        # A supervised transfer, called off while the second agent's phone rings.
        auto_answer = second.get_by_label("Answer incoming calls automatically")
        auto_answer.uncheck()
        mode = first.get_by_label("Transfer", exact=True)
        assert mode.input_value() == "0"  # blind
        mode.select_option(value="1")
        click(first, "Transfer")
        saw(second, "AgentRinging")
        click(first, "Cancel transfer")
        saw(first, "TransferCancel")
        in_state(second, "Idle")
        in_state(first, "Conversation")
        auto_answer.check()
        mode.select_option(value="0")
        click(first, "Transfer")
        in_state(second, "Conversation")
        in_state(first, "After")
        expect(first.locator("#wrap-up")).to_contain_text("Wrap-up ends in")
        assert hears(second)["energy"] > 0
        in_state(first, "Idle")  # the group's wrap-up time is over

        click(second, "Hang up")
        caller.wait_closed(timeout=10)
        saw(second, "After")
        in_state(second, "Idle")

        assert in_order(
            ["Login", "Idle", "AgentRinging", "Conversation", "Hold", "UnHold", "Mute",
             "Unmute", "DTMF 5", "TransferCalling", "TransferCancel", "TransferCalling",
             "After", "Idle"],
            shown_events(first),
        ), shown_events(first)  # fmt: skip
        assert in_order(
            ["Login", "Busy", "Idle", "AgentRinging", "Conversation", "After", "Idle"],
            shown_events(second),
        ), shown_events(second)
        expect(second.locator("#desk-error")).to_have_text("")

        record = pbx.record_with(type="callin")
        row = second.locator(f"#recent-calls tr[data-call-id='{record['uuid']}']")
        expect(row).to_be_attached(timeout=WAIT_MS)
        cells = row.locator("td").all_inner_texts()
        assert cells[1:3] == ["In", CALLER]
        assert cells[4] == "answered"
        recording = row.locator("audio")
        recording.evaluate("audio => audio.load()")
        second.wait_for_function(
            "audio => audio.readyState >= 1 && audio.duration > 0",
            arg=recording.element_handle(),
            timeout=WAIT_MS,
        )

    assert record["extnumber"] == SECOND_AGENT  # who had the call last
    assert len([r for r in pbx.records() if r["type"] == "callin"]) == 1
    stereo = download(pbx, record)
    left, right = (channel(stereo, side, tmp_path / f"{side}.wav") for side in (True, False))
    assert tones_heard(wav_samples(left)[0], VOICES) == {FIRST_HZ, SECOND_HZ}
    assert tones_heard(wav_samples(right)[0], VOICES) == {CALLER_HZ}
    samples, rate = wav_samples(caller.received_wav())
    assert tones_heard(samples, VOICES, rate=rate) >= {FIRST_HZ, SECOND_HZ}
    nothing_left(pbx.server.url)
