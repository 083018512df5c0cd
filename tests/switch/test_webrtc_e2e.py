"""Browsers as phones: headless Chromium with callyard's soft-phone SDK registers over SIP
over WebSocket, and its calls carry DTLS-SRTP through the relay to ordinary SIP phones,
with the audio checked at both ends."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from callyard.testing.audio import tones_heard, wav_samples
from callyard.testing.browser import Browser, chromium_unavailable
from callyard.testing.sip import write_tone_wav
from tests.switch.pbx import AGENT, SECOND_AGENT, Pbx

pytestmark = [
    pytest.mark.sip,
    pytest.mark.skipif(chromium_unavailable() is not None, reason=str(chromium_unavailable())),
]

BROWSER_HZ, PHONE_HZ = 700.0, 440.0  # what each end's microphone says
TONES = (BROWSER_HZ, PHONE_HZ)


def soft_phone(browser: Browser, pbx: Pbx, number: str) -> Page:
    """A tab with the SDK loaded from callyard, registered as extension `number`; the
    SDK's events are kept in `window.heard`."""
    page = browser.page()
    page.goto(f"{pbx.server.url}/soft-phone-sdk/soft-phone-sdk_1.0.19.js")
    page.set_content("<html><body></body></html>")
    page.add_script_tag(url=f"{pbx.server.url}/soft-phone-sdk/soft-phone-sdk_1.0.19.js")
    port = pbx.sip_ws.rsplit(":", 1)[1]
    page.evaluate(
        """([port, account, password]) => {
          window.heard = [];
          const phone = new SoftPhoneSdk({wss: 'ws://127.0.0.1', wssport: port, account, password});
          for (const name of ['Registered', 'UnRegistered', 'RegistrationFailed', 'Invite',
                              'Accepted', 'Terminated', 'CallTerminated'])
            phone.on(name, () => window.heard.push(name));
          window.phone = phone;
          phone.register();
        }""",
        [port, number, pbx.password(number)],
    )
    wait_for(page, "Registered")
    return page


def wait_for(page: Page, event: str, timeout: float = 15) -> None:
    page.wait_for_function(f"window.heard.includes({event!r})", timeout=timeout * 1000)


def inbound_audio(page: Page) -> dict[str, Any]:
    """The browser's own statistics of the audio it receives and of its transport."""
    stats: dict[str, Any] = page.evaluate(
        """async () => {
          const found = {};
          (await window.phone.getSession().connection.getStats()).forEach(r => {
            if (r.type === 'inbound-rtp' && r.kind === 'audio') found.inbound = r;
            if (r.type === 'transport') found.transport = r;
          });
          return found;
        }"""
    )
    return stats


def registered(pbx: Pbx, number: str) -> bool:
    extensions = pbx.admin("GET", "/extensions")
    return any(e["number"] == number and e["registered"] for e in extensions)


def test_a_browser_registers_answers_and_calls_with_encrypted_audio_both_ways(
    pbx: Pbx, tmp_path: Path
) -> None:
    with (
        Browser(tmp_path / "browser", tone_hz=BROWSER_HZ) as browser,
        pbx.phone(
            SECOND_AGENT,
            audio=write_tone_wav(tmp_path / "phone.wav", seconds=60, frequency=PHONE_HZ),
        ) as phone,
    ):
        page = soft_phone(browser, pbx, AGENT)
        assert registered(pbx, AGENT)
        phone.wait_registered()
        # A desk phone calls the browser's extension; the soft phone answers by itself.
        phone.dial(f"sip:{AGENT}@127.0.0.1:{pbx.server.sip_port}")
        phone.wait_established(timeout=15)
        wait_for(page, "Accepted")
        time.sleep(3)
        stats = inbound_audio(page)
        assert stats["transport"]["dtlsState"] == "connected"
        assert stats["transport"]["srtpCipher"]  # encrypted on the browser's side
        assert stats["inbound"]["packetsReceived"] > 100
        assert stats["inbound"]["totalAudioEnergy"] > 0
        phone.hangup()
        phone.wait_closed(timeout=10)
        wait_for(page, "Terminated")
        samples, rate = wav_samples(phone.received_wav())
        assert tones_heard(samples, TONES, rate=rate) == {BROWSER_HZ}
        # The browser calls the desk phone.
        page.evaluate(f"window.phone.call({SECOND_AGENT!r})")
        phone.wait_established(timeout=15)  # it answers by itself
        time.sleep(3)
        assert inbound_audio(page)["inbound"]["packetsReceived"] > 100
        page.evaluate("window.phone.hangup()")
        phone.wait_closed(timeout=10)
        # A tab that closes takes its registration with it.
        page.close()
        deadline = time.monotonic() + 5
        while registered(pbx, AGENT) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not registered(pbx, AGENT)
