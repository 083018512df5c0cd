"""callyard's pages (the agent desktop, the supervisor wallboard) as people use them on a
laptop without a mouse: signed in with keys only, every control reached with Tab, named
and showing its focus, nothing wider than the screen, and nothing fetched from anywhere
but callyard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from callyard.testing.browser import Browser, chromium_unavailable
from callyard.testing.receiver import Receiver
from callyard.web import DESKTOP, WALLBOARD
from tests.switch.pbx import AGENT, COMPANY, Pbx
from tests.switch.test_queue_e2e import PASSWORD, THIRD_AGENT, WORK_NUMBERS, staffed_queue

pytestmark = [
    pytest.mark.sip,
    pytest.mark.skipif(chromium_unavailable() is not None, reason=str(chromium_unavailable())),
    pytest.mark.skipif(
        not (DESKTOP.built / "main.js").is_file() or not (WALLBOARD.built / "main.js").is_file(),
        reason="the pages are not built (scripts/install)",
    ),
]

LAPTOP = ViewportSize(width=1366, height=768)
WAIT_MS = 20_000

# Numbers every control a keyboard should reach: shown, enabled, not taken out of the
# tab order; returns how many.
MARK_CONTROLS = """() => {
  const controls = [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')]
    .filter(el => el.getClientRects().length > 0 && !el.disabled && el.tabIndex >= 0
                  && !el.closest('[hidden], [inert]'));
  controls.forEach((el, index) => { el.dataset.keyboardCheck = String(index); });
  return controls.length;
}"""

# The focused control: its number (MARK_CONTROLS), its name as read out, whether its
# focus shows.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const label = el.labels && el.labels.length ? el.labels[0].innerText : '';
  const name = (el.getAttribute('aria-label') || label || el.innerText || el.title || '')
    .trim();
  const style = getComputedStyle(el);
  const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return {mark: el.dataset.keyboardCheck ?? null, name, shows: ring || style.boxShadow !== 'none',
          tag: el.tagName, id: el.id};
}"""


def focused(page: Page) -> dict[str, Any] | None:
    found: dict[str, Any] | None = page.evaluate(FOCUSED)
    return found


def tab_to(page: Page, label: str) -> None:
    """Press Tab until the control named `label` has the focus."""
    for _ in range(40):
        page.keyboard.press("Tab")
        now = focused(page)
        if now is not None and now["name"].startswith(label):
            return
    raise AssertionError(f"Tab never reached {label!r}")


def type_into(page: Page, label: str, text: str) -> None:
    tab_to(page, label)
    page.keyboard.type(text)


def every_control_by_keyboard(page: Page) -> None:
    """Tab reaches every control on the page, each named and showing its focus."""
    count = page.evaluate(MARK_CONTROLS)
    assert count > 3
    reached: dict[str, dict[str, Any]] = {}
    for _ in range(3 * count):
        page.keyboard.press("Tab")
        now = focused(page)
        if now is not None and now["mark"] is not None:
            reached[now["mark"]] = now
        if len(reached) == count:
            break
    missing = page.eval_on_selector_all(
        "[data-keyboard-check]",
        "(els, reached) => els.filter(el => !reached.includes(el.dataset.keyboardCheck))"
        ".map(el => el.outerHTML.slice(0, 120))",
        list(reached),
    )
    assert not missing, f"Tab never reaches: {missing}"
    assert not [c for c in reached.values() if not c["name"]], "controls without a name"
    assert not [c for c in reached.values() if not c["shows"]], "focus not shown"


def fits_a_laptop(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= LAPTOP["width"], f"the page is {width} px wide"


def signed_in_by_keyboard(
    browser: Browser, url: str, fields: dict[str, str], fetched: list[str]
) -> Page:
    """A tab at a laptop's size on `url`, its form filled (label: text) with keys only and
    sent with Enter; every URL it requests goes into `fetched`."""
    page = browser.page()
    page.on("request", lambda request: fetched.append(request.url))
    page.set_viewport_size(LAPTOP)
    page.goto(url)
    for label, text in fields.items():
        type_into(page, label, text)
    page.keyboard.press("Enter")
    return page


def test_the_desktop_and_the_wallboard_work_by_keyboard_on_a_laptop_from_callyard_alone(
    pbx: Pbx, receiver: Receiver, tmp_path: Path
) -> None:
    staffed_queue(pbx, receiver, supervisor=THIRD_AGENT)
    fetched: list[str] = []
    with Browser(tmp_path / "browser") as browser:
        desktop = signed_in_by_keyboard(
            browser,
            f"{pbx.server.url}/{DESKTOP.path}/",
            {"Company code": COMPANY, "Agent number": WORK_NUMBERS[AGENT], "Password": PASSWORD},
            fetched,
        )
        expect(desktop.locator("#state")).to_have_attribute("data-state", "Login", timeout=WAIT_MS)
        every_control_by_keyboard(desktop)
        fits_a_laptop(desktop)
        supervisor = WORK_NUMBERS[THIRD_AGENT]
        wallboard = signed_in_by_keyboard(
            browser,
            f"{pbx.server.url}/{WALLBOARD.path}/",
            {"Company": COMPANY, "Agent number": supervisor, "Password": PASSWORD},
            fetched,
        )
        wallboard.wait_for_selector(f'[data-agent="{WORK_NUMBERS[AGENT]}"]', timeout=WAIT_MS)
        every_control_by_keyboard(wallboard)
        fits_a_laptop(wallboard)
    assert fetched
    elsewhere = [
        url for url in fetched if not url.startswith((pbx.server.url + "/", "data:", "blob:"))
    ]
    assert elsewhere == []
