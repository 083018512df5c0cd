"""The supervisor wallboard through a real `callyard serve`: the page (`/wallboard/`) in
headless Chromium signs its supervisor in through the agent SDK and follows the floor
live, without reloading: agents going ready and not ready, a carrier's caller waiting in
the queue with nobody ready, an agent taking the call. Its listen button puts the
supervisor's phone into the call (what it hears is checked: the caller's and the agent's
tones), and its force buttons move another agent. How long each change took to show is
printed (from the action to the page showing it)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Literal

import httpx
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
    callers,
    desk_of,
    nothing_left,
    staffed_queue,
)
from tests.switch.test_vcall_calls_e2e import Vcall

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


def shown_after(
    page: Page,
    what: str,
    action: Callable[[], object],
    selector: str,
    state: Literal["attached", "detached"] = "attached",
) -> float:
    """Do `action`, wait for the page to show `selector` (or to drop it); print and
    return how long that took (seconds)."""
    started = time.monotonic()
    action()
    page.wait_for_selector(selector, timeout=WAIT_MS, state=state)
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


def desk_phones(pbx: Pbx, tmp_path: Path) -> dict[str, Baresip]:
    """The two agents' and the supervisor's desk phones, each saying its own tone."""
    tones = {AGENT: FIRST_HZ, SECOND_AGENT: SECOND_HZ, SUPERVISOR: SUPERVISOR_HZ}
    return {
        ext: pbx.phone(
            ext, audio=write_tone_wav(tmp_path / f"{ext}.wav", seconds=120, frequency=hz)
        )
        for ext, hz in tones.items()
    }


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
    phones = desk_phones(pbx, tmp_path)
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
        desks = {ext: desk_of(pbx, ext, ready=False) for ext in (AGENT, SECOND_AGENT)}
        try:
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
                    partial(page.click, f'{other} [data-action="{action}"]'),
                    tile(SECOND_AGENT, status),
                )
            delays["forced sign-out"] = shown_after(
                page,
                "an agent forced out",
                partial(page.click, f'{other} [data-action="forceLogout"]'),
                other,
                state="detached",
            )

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


SCREENSHOT = os.environ.get("CALLYARD_WALLBOARD_SCREENSHOT", "")
MORE_AGENTS = {"10010004": ("0004", "Budi"), "10010005": ("0005", "Citra")}


def more_agents(pbx: Pbx, receiver: Receiver) -> dict[str, AgentDesk]:
    """Two more agents of `sales`, signed in on their mobiles: one signed in only, one
    not ready."""
    vcall = Vcall(pbx, receiver)
    groups = httpx.get(
        f"{pbx.server.url}/api/group/open/page", params={"token": vcall.token}, timeout=10
    ).json()["data"]["records"]
    [sn] = [g["sn"] for g in groups if g["name"] == "sales"]
    desks = {}
    for extension, (number, name) in MORE_AGENTS.items():
        created = vcall.post(
            "/api/agent/open/create", agentName=name, agentNumber=number, password=PASSWORD,
            sipId=extension, groupSn=sn, phone="62811000" + number,
        )  # fmt: skip
        assert created["code"] == "0", created
        desks[extension] = desk = AgentDesk(pbx.server.url)
        login = desk.ask(
            "login", companyId=COMPANY, agentNumber=number, password=PASSWORD, loginType="2"
        )
        assert login["code"] == "0", login
    ask(desks["10010005"], "busy")
    return desks


def task(pbx: Pbx, name: str, numbers: int, windows: str) -> str:
    today = datetime.now().date()
    created = pbx.api(
        "App.Sip_Yccall.TaskCreate",
        name=name,
        groupname="sales",
        numbers=json.dumps([{"telphone": f"6281200{i:05d}"} for i in range(numbers)]),
        startdate=str(today - timedelta(days=1)),
        enddate=str(today + timedelta(days=1)),
        windows=windows,
        ringtimeout="15",
    )
    assert created["data"]["status"] == 0, created
    taskid: str = created["data"]["result"]["taskid"]
    assert pbx.api("App.Sip_Yccall.TaskStart", taskid=taskid)["data"]["status"] == 0
    return taskid


@pytest.mark.skipif(not SCREENSHOT, reason="set CALLYARD_WALLBOARD_SCREENSHOT=PATH.png")
def test_a_busy_wallboard_for_the_readme(pbx: Pbx, receiver: Receiver, tmp_path: Path) -> None:
    """Not a check: the README's picture of a busy floor, saved to the path given."""
    staffed_queue(pbx, receiver, supervisor=SUPERVISOR, ring_seconds=10, max_wait_seconds=300)
    closed = "01:00-02:00" if datetime.now().hour >= 12 else "13:00-14:00"
    task(pbx, "Renewals", 120, closed)
    phones = desk_phones(pbx, tmp_path)
    with running(*phones.values()), Browser(tmp_path / "browser") as browser:
        for phone in phones.values():
            phone.wait_registered()
        desks = more_agents(pbx, receiver)
        desks.update({ext: desk_of(pbx, ext, ready=False) for ext in (AGENT, SECOND_AGENT)})
        try:
            # The last hour: callers who gave up, and some the first agent took.
            ask(desks[AGENT], "idle")
            with running(earlier := callers(pbx, 8, rate=2, seconds=4)):
                earlier.wait()
            # Now: the first agent talks, callers wait.
            with running(now := callers(pbx, 4, rate=1, seconds=240, trunk=False)):
                phones[AGENT].wait_established(timeout=30)
                ask(desks[SECOND_AGENT], "idle")
                phones[SECOND_AGENT].wait_established(timeout=30)
                page = browser.page()
                page.set_viewport_size({"width": 1440, "height": 960})
                sign_in(page, pbx)
                page.wait_for_selector('[data-queue="sales"][data-waiting="2"]', timeout=WAIT_MS)
                time.sleep(12)  # clocks run: times in state, the longest wait
                Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=SCREENSHOT, full_page=True)
                now.stop()
        finally:
            for desk in desks.values():
                desk.close()
