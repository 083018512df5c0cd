"""The music a queued caller hears while waiting, when its group names none: a soft,
slow arpeggio, made once into prompt files the relay plays over and over."""

from __future__ import annotations

import array
import math
from pathlib import Path

from callyard.switch.relay import PROMPT_RATE
from callyard.tts.prompts import is_rendered, write_prompt

# A C major seventh chord, up and down, each note a third of a second.
NOTES_HZ = (261.63, 329.63, 392.00, 493.88, 392.00, 329.63)
NOTE_SECONDS = 0.33
ROUNDS = 4
LEVEL = 0.25  # of full scale, before the prompt's normalisation


def _note(frequency: float) -> list[float]:
    count = round(NOTE_SECONDS * PROMPT_RATE)
    samples = []
    for n in range(count):
        t = n / PROMPT_RATE
        envelope = min(1.0, n / 200) * math.exp(-3.0 * t)  # a soft attack, a bell's decay
        tone = math.sin(2 * math.pi * frequency * t) + 0.3 * math.sin(4 * math.pi * frequency * t)
        samples.append(LEVEL * envelope * tone)
    return samples


HOLD_MUSIC = "hold-music"  # the built-in music's prompt name in a prompts directory


def hold_music(directory: Path) -> Path:
    """The built-in music's prompt base path, written on first use."""
    base = directory / HOLD_MUSIC
    if is_rendered(base):
        return base
    directory.mkdir(parents=True, exist_ok=True)
    samples = [s for _ in range(ROUNDS) for f in NOTES_HZ for s in _note(f)]
    pcm = array.array("h", (round(32767 * max(-1.0, min(1.0, s))) for s in samples))
    return write_prompt(base, pcm.tobytes(), PROMPT_RATE)
