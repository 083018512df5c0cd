"""Prompts spoken by espeak-ng, cached by content."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tempfile
import threading
from pathlib import Path

from callyard.tts import SynthesisError
from callyard.tts.prompts import is_rendered, read_wav, write_prompt

ENGINE = "espeak-ng"
# espeak-ng voice names: a language code with optional variants ("en", "en-us", "es-419").
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{1,8})*$")
MAX_TEXT = 4000  # characters; a prompt is a sentence or a few, not a document
_LOCK_STRIPES = 64


class EspeakSynthesizer:
    """Renders text with espeak-ng into prompts under `cache_dir`, named by the SHA-256 of
    (engine, language, text): the same text in the same language is spoken once."""

    def __init__(self, cache_dir: Path, command: str = ENGINE, timeout: float = 60.0) -> None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.cache_dir = cache_dir
        self.command = command
        self.timeout = timeout
        # Two threads rendering the same text wait for one another instead of both
        # running the engine; a fixed set of locks, whatever the number of texts.
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    def render(self, text: str, language: str) -> Path:
        """The base path of the prompt saying `text` in `language` (an espeak-ng voice)."""
        text = text.strip()
        language = language.strip().lower()
        if not text:
            raise ValueError("no text to speak")
        if len(text) > MAX_TEXT:
            raise ValueError(f"text longer than {MAX_TEXT} characters")
        if not LANGUAGE.match(language):
            raise ValueError(f"{language!r} is not a language code")
        key = prompt_key(ENGINE, language, text)
        base = self.cache_dir / key
        if is_rendered(base):
            return base
        with self._locks[int(key[:8], 16) % _LOCK_STRIPES]:
            if is_rendered(base):
                return base
            with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix=".render-") as work:
                wav = Path(work) / "speech.wav"
                self._speak(text, language, wav)
                pcm, rate = read_wav(wav)
            if not pcm:
                raise SynthesisError(f"{ENGINE} produced no audio")
            return write_prompt(base, pcm, rate)

    def _speak(self, text: str, language: str, wav: Path) -> None:
        """Run the engine: `text` (on standard input) spoken into `wav`."""
        try:
            done = subprocess.run(
                [self.command, "-v", language, "-w", str(wav), "--stdin"],
                input=text.encode(),
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise SynthesisError(f"{self.command} is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise SynthesisError(f"{ENGINE} took longer than {self.timeout:g} s") from exc
        if done.returncode != 0 or not wav.is_file():
            message = done.stderr.decode(errors="replace").strip()
            raise SynthesisError(f"{ENGINE} -v {language} failed: {message}")


def prompt_key(engine: str, language: str, text: str) -> str:
    """The cache name of a prompt: SHA-256 of what determines its sound."""
    return hashlib.sha256(json.dumps([engine, language, text]).encode()).hexdigest()
