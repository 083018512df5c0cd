"""Which tones a stretch of audio holds: for tests that give each party of a call or a
conference a tone of its own and check what each one hears.

`tone_power` is the Goertzel measure of one frequency (the DFT term at exactly that
frequency, computed with numpy over Hann-windowed blocks of 50 ms, their powers averaged),
scaled to the tone's amplitude as a fraction of full scale: a full-scale sine gives 1.0,
a sine at a quarter of full scale 0.25, a frequency that is absent about 0. Averaging
blocks rather than taking one term over the whole stretch keeps the measure steady when
the tone's phase jumps (a frame lost or dropped by a jitter buffer); silent stretches
lower it (a tone present in a share p of the blocks gives sqrt(p) of its amplitude).
"""

from __future__ import annotations

import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

FULL_SCALE = 32768.0
BLOCK_MS = 50
HEARD_FLOOR = 0.02  # a tone at 2 % of full scale (-34 dBFS) and above is heard


def wav_samples(path: Path) -> tuple[NDArray[np.int16], int]:
    """The samples of a 16-bit WAV file (a stereo one's interleaved), and its rate."""
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"), rate


def samples_of(audio: NDArray[np.int16] | bytes | bytearray) -> NDArray[np.float64]:
    """16-bit samples as floats: from an int16 array or 16-bit little-endian PCM."""
    if isinstance(audio, bytes | bytearray):
        return np.frombuffer(audio, dtype="<i2").astype(np.float64)
    return np.asarray(audio, dtype=np.float64)


def tone_power(
    samples: NDArray[np.int16] | bytes | bytearray, frequency: float, rate: int = 8000
) -> float:
    """The amplitude of the `frequency` component, as a fraction of full scale (a
    full-scale sine: 1.0), from the mean power of 50 ms blocks."""
    values = samples_of(samples)
    block = min(len(values), rate * BLOCK_MS // 1000)
    if block < 2:
        return 0.0
    blocks = values[: len(values) // block * block].reshape(-1, block)
    window = np.hanning(block)
    phase = np.exp(-2j * np.pi * frequency / rate * np.arange(block))
    terms = blocks @ (window * phase)
    # A sine of amplitude A gives |term| = A * sum(window) / 2 in every block.
    amplitudes = 2 * np.abs(terms) / window.sum()
    return float(np.sqrt(np.mean(amplitudes**2)) / FULL_SCALE)


def tones_heard(
    samples: NDArray[np.int16] | bytes | bytearray,
    frequencies: Iterable[float],
    floor: float = HEARD_FLOOR,
    rate: int = 8000,
) -> set[float]:
    """Those of `frequencies` whose amplitude (`tone_power`) is at least `floor`."""
    return {f for f in frequencies if tone_power(samples, f, rate) >= floor}


def tone(
    frequency: float, samples: int, amplitude: float = 0.25, rate: int = 8000, start: int = 0
) -> NDArray[np.int16]:
    """A sine of `amplitude` (fraction of full scale), from sample number `start` on."""
    n = np.arange(start, start + samples)
    wave = amplitude * 32767 * np.sin(2 * np.pi * frequency / rate * n)
    result: NDArray[np.int16] = np.round(wave).astype(np.int16)
    return result
