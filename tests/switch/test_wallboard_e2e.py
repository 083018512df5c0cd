"""The supervisor wallboard through a real `callyard serve`: the page (`/wallboard/`) in
headless Chromium signs its supervisor in through the agent SDK and follows the floor
live, without reloading: agents going ready and not ready, a carrier's caller waiting in
the queue with nobody ready, an agent taking the call. Its listen button puts the
supervisor's phone into the call (what it hears is checked: the caller's and the agent's
tones), and its force buttons move another agent. How long each change took to show is
printed (from the action to the page showing it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

from callyard.testing.audio import tones_heard, wav_samples
from callyard.testing.browser import Browser, chromium_unavailable
from callyard.testing.cti import AgentDesk
from callyard.testing.receiver import Receiver
from callyard.testing.sip import Baresip, running, write_tone_wav
from callyard.web import WALLBOARD
from tests.switch.pbx import AGENT, CALLER_ID, COMPANY, SECOND_AGENT, Pbx
from tests.switch.test_mid_call_e2e import (
    CALLER,
    CALLER_HZ,
    FIRST_HZ,
    SECOND_HZ,
    SUPERVISOR_HZ,
    VOICES,
)
from tests.switch.test_queue_e2e import (
    PASSWORD,
    THIRD_AGENT,
    WORK_NUMBERS,
    nothing_left,
    staffed_queue,
)

pytestmark = [
    pytest.mark.sip,
    pytest.mark.skipif(chromium_unavailable() is not None, reason=str(chromium_unavailable())),
    pytest.mark.skipif(
        not (WALLBOARD.built / "main.js").is_file(), reason="the pages are not built"
    ),
]

SUPERVISOR = THIRD_AGENT
DESK_PHONE = "1"  # the page's phone choice: the supervisor's desk phone (login type 1)
WAIT_MS = 20_000


def tile(extension: str, status: str | None = None) -> str:
    """The selector of an agent's tile (in `status`)."""
    state = f'[data-status="{status}"]' if status else ""
    return f'[data-agent="{WORK_NUMBERS[extension]}"]{state}'


def shown_after(page: Page, what: str, action: Callable[[], object], selector: str) -> float:
    """Do `action`, wait for the page to show `selector`; print and return how long that
    took (seconds)."""
    started = time.monotonic()
    action()
    page.wait_for_selector(selector, timeout=WAIT_MS, state="attached")
    took = time.monotonic() - started
    print(f"wallboard: {what} shown after {took * 1000:.0f} ms")
    return took


def sign_in(page: Page, pbx: Pbx) -> None:
    """The supervisor signs in on the wallboard, its calls on its desk phone."""
    page.goto(f"{pbx.server.url}/wallboard/?company={COMPANY}&agent={WORK_NUMBERS[SUPERVISOR]}")
    page.fill("#password", PASSWORD)
    page.select_option("#phone", DESK_PHONE)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#board:not([hidden])", timeout=WAIT_MS)


def ask(desk: AgentDesk, request: str) -> None:
    answer = desk.ask(request)
    assert answer["code"] == "0", (request, answer)


def test_the_wallboard_follows_the_floor_and_its_supervisor_listens(
    pbx: Pbx, receiver: Receiver, tmp_path: Path
) -> None:
    staffed_queue(pbx, receiver, supervisor=SUPERVISOR, ring_seconds=10, max_wait_seconds=120)
    pbx.cli(
        "trunk", "add", "--company", COMPANY, "--name", "carrier",
        "--host", "127.0.0.1", "--port", "5999",
    )  # fmt: skip
    time.sleep(0.6)  # the switch's routing table follows the store within 0.5 s
    tones = {AGENT: FIRST_HZ, SECOND_AGENT: SECOND_HZ, SUPERVISOR: SUPERVISOR_HZ}
    phones = {
        ext: pbx.phone(ext, audio=write_tone_wav(tmp_path / f"{ext}.wav", seconds=90, frequency=hz))
        for ext, hz in tones.items()
    }
    caller = Baresip(
        tmp_path / "caller",
        user=CALLER,
        port=pbx.server.sip_port,
        audio=write_tone_wav(tmp_path / "caller.wav", seconds=90, frequency=CALLER_HZ),
    )
    delays: dict[str, float] = {}
    with running(*phones.values(), caller), Browser(tmp_path / "browser") as browser:
        for phone in phones.values():
            phone.wait_registered()
        desks = {ext: AgentDesk(pbx.server.url) for ext in (AGENT, SECOND_AGENT)}
        try:
            for ext, desk in desks.items():
                login = desk.ask(
                    "login", companyId=COMPANY, agentNumber=WORK_NUMBERS[ext],
                    password=PASSWORD, loginType="1",
                )  # fmt: skip
                assert login["code"] == "0", login
                ask(desk, "busy")
            page = browser.page()
            sign_in(page, pbx)
            page.wait_for_selector(tile(AGENT, "busy"), timeout=WAIT_MS)
            page.wait_for_selector(tile(SECOND_AGENT, "busy"), timeout=WAIT_MS)
            assert page.text_content(f"{tile(AGENT)} .detail") == "sales"
            reloads = page.evaluate("performance.getEntriesByType('navigation').length")

            first = desks[AGENT]
            delays["agent ready"] = shown_after(
                page, "an agent ready", lambda: ask(first, "idle"), tile(AGENT, "idle")
            )
            delays["agent not ready"] = shown_after(
                page, "an agent not ready", lambda: ask(first, "busy"), tile(AGENT, "busy")
            )
            assert page.text_content(f"{tile(AGENT)} .label") == "Not ready"
            delays["caller queued"] = shown_after(
                page,
                "a queued caller",
                lambda: caller.dial(f"sip:{CALLER_ID}@127.0.0.1:{pbx.server.sip_port}"),
                '[data-queue="sales"][data-waiting="1"]',
            )
            page.wait_for_selector('#calls tr[data-state="queued"]', timeout=WAIT_MS)
            time.sleep(1.5)  # the longest wait ticks in the page
            longest = page.text_content('[data-queue="sales"] .since') or ""
            assert longest not in ("", "–", "0:00"), longest
            delays["agent takes the call"] = shown_after(
                page, "the agent talking", lambda: ask(first, "idle"), tile(AGENT, "talking")
            )
            page.wait_for_selector('[data-queue="sales"][data-waiting="0"]', timeout=WAIT_MS)
            page.wait_for_selector('#calls tr[data-state="talking"]', timeout=WAIT_MS)
            caller.wait_established(timeout=10)

            # Listening from the wallboard: the supervisor's desk phone joins the call.
            page.click(f'{tile(AGENT)} [data-action="listen"]')
            phones[SUPERVISOR].wait_established(timeout=15)
            time.sleep(3.5)

            # The force buttons on the other agent (not ready).
            other = tile(SECOND_AGENT)
            for label, action, status in (
                ("forced ready", "forceIdle", "idle"),
                ("forced not ready", "forceBusy", "busy"),
            ):
                delays[label] = shown_after(
                    page,
                    f"an agent {label}",
                    lambda action=action: page.click(f'{other} [data-action="{action}"]'),
                    tile(SECOND_AGENT, status),
                )
            started = time.monotonic()
            page.click(f'{other} [data-action="forceLogout"]')
            page.wait_for_selector(other, state="detached", timeout=WAIT_MS)
            delays["forced sign-out"] = time.monotonic() - started
            took = delays["forced sign-out"] * 1000
            print(f"wallboard: an agent forced out shown after {took:.0f} ms")

            caller.hangup()
            caller.wait_closed(timeout=10)
            page.wait_for_selector("#calls tr", state="detached", timeout=WAIT_MS)
            assert page.evaluate("performance.getEntriesByType('navigation').length") == reloads
            assert page.evaluate("wallboard.messages[0].type") == "snapshot"
        finally:
            for desk in desks.values():
                desk.close()
    samples, rate = wav_samples(phones[SUPERVISOR].received_wav())
    assert len(samples) >= 3 * rate, "the supervisor's phone heard too little"
    assert tones_heard(samples[rate : 3 * rate], VOICES, rate=rate) == {CALLER_HZ, FIRST_HZ}
    print("wallboard: delays " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in delays.items()))
    nothing_left(pbx.server.url)
