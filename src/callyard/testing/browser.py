"""Debian's Chromium, headless, driven by Playwright: for tests of the browser SDKs.

The flags are those proven for WebRTC in a loopback-only network namespace: a fake
microphone playing a tone from a WAV file, media permission granted without asking, ICE
over loopback, no background lookups, autoplay without a gesture. Each browser has a
fresh profile in its work directory. Playwright never downloads a browser here: it
launches the system's.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
from numpy.typing import NDArray
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Playwright, sync_playwright

from callyard.testing.sip import write_tone_wav

CHROMIUM = "/usr/bin/chromium"
FAKE_AUDIO_RATE = 48_000  # what Chromium's fake capture device reads best
FAKE_AUDIO_SECONDS = 30.0  # the file loops
HEARD_RATE = 8000  # about what `received_audio` keeps: G.711's own rate

# Taps the first audio track a peer connection receives through Web Audio for `seconds`
# and keeps every n-th sample, n the nearest to the context's rate over `rate` (the track
# came as G.711: next to nothing above 4 kHz folds back).
# The promise is left in the page, so that several pages can listen at once.
_TAP = """([seconds, rate]) => {
  const connection = (%s);
  const track = connection.getReceivers().map(r => r.track).find(t => t && t.kind === 'audio');
  window.callyardTap = (async () => {
    const context = new AudioContext();
    await context.resume();
    const source = context.createMediaStreamSource(new MediaStream([track]));
    const tap = context.createScriptProcessor(4096, 1, 1);
    const step = Math.round(context.sampleRate / rate);
    const kept = [];
    tap.onaudioprocess = (event) => {
      const data = event.inputBuffer.getChannelData(0);
      for (let i = 0; i < data.length; i += step) kept.push(Math.round(data[i] * 32767));
    };
    source.connect(tap);
    tap.connect(context.destination);
    await new Promise(done => setTimeout(done, seconds * 1000));
    source.disconnect();
    tap.disconnect();
    await context.close();
    return {rate: context.sampleRate / step, kept};
  })();
}"""


def chromium_unavailable(executable: str = CHROMIUM) -> str | None:
    """Why the browser tests cannot run here, or None."""
    if shutil.which(executable) is None:
        return f"{executable} is not installed (scripts/install --dev installs chromium)"
    return None


def received_audio(
    pages: Sequence[Page], connection: str, seconds: float
) -> list[tuple[NDArray[np.int16], int]]:
    """What each page's peer connection (the JavaScript expression `connection`) receives
    in the next `seconds`, all pages at once, as the browser decodes it: 16-bit samples
    at about HEARD_RATE, and their rate."""
    for page in pages:
        page.evaluate(_TAP % connection, [seconds, HEARD_RATE])
    heard = []
    for page in pages:
        tap = page.evaluate("window.callyardTap")
        samples = np.clip(np.asarray(tap["kept"], dtype=np.int32), -32768, 32767)
        heard.append((samples.astype(np.int16), round(tap["rate"])))
    return heard


def chromium_flags(fake_audio: Path) -> list[str]:
    """Chromium's command-line flags for loopback-only WebRTC with a fake microphone."""
    return [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_audio}",
        # Without it a loopback-only machine gathers no ICE candidates.
        "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required",
    ]


class _Driver:
    """Playwright's driver, shared by the browsers a thread runs at once (its sync API
    allows one per thread): started with the first, stopped with the last."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._users = 0

    def take(self) -> Playwright:
        if self._playwright is None:
            self._playwright = sync_playwright().start()
        self._users += 1
        return self._playwright

    def give_back(self) -> None:
        self._users -= 1
        if self._users == 0 and self._playwright is not None:
            self._playwright.stop()
            self._playwright = None


_driver = _Driver()


class Browser:
    """A headless Chromium with its own profile under `workdir`; its microphone plays a
    tone of `tone_hz`. Use as a context manager; `page()` opens a tab whose console
    lines are kept in `console`."""

    def __init__(
        self, workdir: Path, *, tone_hz: float = 1000.0, executable: str = CHROMIUM
    ) -> None:
        self.workdir = workdir
        self.tone_hz = tone_hz
        self.executable = executable
        self.console: list[str] = []
        self._playwright: Playwright | None = None
        self._context: BrowserContext | None = None

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Write the microphone's tone and launch the browser."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        tone = write_tone_wav(
            self.workdir / f"tone-{self.tone_hz:g}hz.wav",
            seconds=FAKE_AUDIO_SECONDS,
            frequency=self.tone_hz,
            rate=FAKE_AUDIO_RATE,
        )
        self._playwright = _driver.take()
        try:
            self._context = self._playwright.chromium.launch_persistent_context(
                str(self.workdir / "profile"),
                executable_path=self.executable,
                headless=True,
                args=chromium_flags(tone),
            )
        except BaseException:
            _driver.give_back()
            self._playwright = None
            raise

    def page(self) -> Page:
        """A new tab."""
        if self._context is None:
            raise RuntimeError("the browser is not started")
        page = self._context.new_page()
        page.on("console", self._keep)
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        return page

    def close(self) -> None:
        """Close the browser and its driver."""
        if self._context is not None:
            self._context.close()
            self._context = None
        if self._playwright is not None:
            _driver.give_back()
            self._playwright = None

    def _keep(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")
