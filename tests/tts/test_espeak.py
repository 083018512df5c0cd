"""Prompts spoken by espeak-ng: 8 kHz G.711 files for the relay, rendered once per text."""

from __future__ import annotations

import audioop
import os
import shutil
import subprocess
import threading
import wave
from pathlib import Path

import pytest

from callyard.switch.relay import PCMA, PCMU, prompt_duration, prompt_file
from callyard.tts import SynthesisError, render_prompt
from callyard.tts.espeak import EspeakSynthesizer

TEXT = "Your verification code is four, two, seven, one."


@pytest.fixture(autouse=True)
def _espeak_installed() -> None:
    if shutil.which("espeak-ng") is None:
        if os.environ.get("CI"):
            pytest.fail("espeak-ng is missing (scripts/install installs it)")
        pytest.skip("espeak-ng is missing (scripts/install installs it)")


class CountingSynthesizer(EspeakSynthesizer):
    """Counts how often the engine runs."""

    def __init__(self, cache_dir: Path) -> None:
        super().__init__(cache_dir)
        self.spoken = 0

    def _speak(self, text: str, language: str, wav: Path) -> None:
        self.spoken += 1
        super()._speak(text, language, wav)


def linear(base: Path, payload_type: int = PCMU) -> bytes:
    data = prompt_file(base, payload_type).read_bytes()
    return audioop.ulaw2lin(data, 2) if payload_type == PCMU else audioop.alaw2lin(data, 2)


def espeak_seconds(tmp_path: Path, text: str, language: str) -> float:
    """How long espeak-ng's own WAV of `text` lasts."""
    wav = tmp_path / "reference.wav"
    subprocess.run(["espeak-ng", "-v", language, "-w", str(wav), text], check=True)
    with wave.open(str(wav)) as reference:
        seconds: float = reference.getnframes() / reference.getframerate()
        return seconds


def test_a_prompt_is_speech_at_8_khz_in_both_codecs(tmp_path: Path) -> None:
    base = EspeakSynthesizer(tmp_path / "prompts").render(TEXT, "en")
    assert base.parent == tmp_path / "prompts"
    mulaw, alaw = linear(base, PCMU), linear(base, PCMA)
    # One byte per sample at 8 kHz: as long as the engine's own recording of the text.
    assert len(mulaw) == len(alaw) == 2 * prompt_file(base, PCMU).stat().st_size
    assert prompt_duration(base) == pytest.approx(espeak_seconds(tmp_path, TEXT, "en"), rel=0.01)
    assert 1.5 < prompt_duration(base) < 8
    assert audioop.rms(mulaw, 2) > 2000
    assert audioop.rms(alaw, 2) > 2000
    assert audioop.max(mulaw, 2) < 32767  # normalised below full scale, not clipped


def test_the_same_text_is_spoken_once(tmp_path: Path) -> None:
    synthesizer = CountingSynthesizer(tmp_path / "prompts")
    first = synthesizer.render(TEXT, "en")
    written = {
        pt: (prompt_file(first, pt).stat().st_ino, prompt_file(first, pt).stat().st_mtime_ns)
        for pt in (PCMU, PCMA)
    }
    again = synthesizer.render(f"  {TEXT} ", "EN")
    later = CountingSynthesizer(tmp_path / "prompts").render(TEXT, "en")  # a restart
    assert again == later == first
    assert synthesizer.spoken == 1
    assert written == {
        pt: (prompt_file(first, pt).stat().st_ino, prompt_file(first, pt).stat().st_mtime_ns)
        for pt in (PCMU, PCMA)
    }
    assert synthesizer.render("Another sentence.", "en") != first
    assert synthesizer.spoken == 2


def test_threads_rendering_one_text_run_the_engine_once(tmp_path: Path) -> None:
    synthesizer = CountingSynthesizer(tmp_path / "prompts")
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(synthesizer.render(TEXT, "es")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert len(set(results)) == 1
    assert synthesizer.spoken == 1


def test_languages_speak_differently(tmp_path: Path) -> None:
    synthesizer = EspeakSynthesizer(tmp_path / "prompts")
    text = "Selamat pagi, uno dos tres, good morning."
    bases = {language: synthesizer.render(text, language) for language in ("en", "id", "es")}
    assert len(set(bases.values())) == 3
    audio = {language: linear(base) for language, base in bases.items()}
    assert len(set(audio.values())) == 3
    assert all(audioop.rms(pcm, 2) > 2000 for pcm in audio.values())


def test_bad_text_and_languages_are_refused(tmp_path: Path) -> None:
    synthesizer = EspeakSynthesizer(tmp_path / "prompts")
    with pytest.raises(ValueError, match="no text"):
        synthesizer.render("   ", "en")
    with pytest.raises(ValueError, match="not a language code"):
        synthesizer.render(TEXT, "-w /tmp/elsewhere.wav")
    with pytest.raises(SynthesisError, match="voice does not exist"):
        synthesizer.render(TEXT, "zz")
    # Nothing is left behind by a failed rendering.
    assert list((tmp_path / "prompts").iterdir()) == []


async def test_async_code_renders_in_a_thread(tmp_path: Path) -> None:
    synthesizer = EspeakSynthesizer(tmp_path / "prompts")
    base = await render_prompt(synthesizer, TEXT, "id")
    assert base == synthesizer.render(TEXT, "id")
    assert prompt_duration(base) > 1
