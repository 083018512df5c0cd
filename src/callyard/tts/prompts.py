"""Speech audio into prompt files: 8 kHz G.711, one raw file per codec (relay.prompt_file)."""

from __future__ import annotations

import audioop
import math
import os
import uuid
import wave
from pathlib import Path

from callyard.switch.relay import PCMA, PCMU, PROMPT_CODECS, PROMPT_RATE, prompt_file

# Telephone band: keep speech below 3.4 kHz, and nothing above 4 kHz to fold back.
CUTOFF_HZ = 3400.0
FILTER_TAPS = 63
PEAK = round(0.7 * 32767)  # prompts are normalised to about -3 dBFS
MAX_GAIN = 8.0


def read_wav(path: Path) -> tuple[bytes, int]:
    """A WAV file's audio as 16-bit mono PCM, and its sample rate."""
    with wave.open(str(path), "rb") as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        pcm = wav.readframes(wav.getnframes())
    if width != 2:
        pcm = audioop.lin2lin(pcm, width, 2)
    if channels == 2:
        pcm = audioop.tomono(pcm, 2, 0.5, 0.5)
    elif channels != 1:
        raise ValueError(f"{path}: {channels} channels")
    return pcm, rate


def _low_pass_taps(rate: int) -> list[float]:
    """A Hamming-windowed sinc low-pass at CUTOFF_HZ, unity gain at 0 Hz."""
    middle = (FILTER_TAPS - 1) / 2
    fc = CUTOFF_HZ / rate
    taps = []
    for n in range(FILTER_TAPS):
        x = n - middle
        ideal = 2 * fc if x == 0 else math.sin(2 * math.pi * fc * x) / (math.pi * x)
        taps.append(ideal * (0.54 - 0.46 * math.cos(2 * math.pi * n / (FILTER_TAPS - 1))))
    total = sum(taps)
    return [tap / total for tap in taps]


def low_pass(pcm: bytes, rate: int) -> bytes:
    """16-bit mono PCM filtered below CUTOFF_HZ, so that resampling to 8 kHz does not
    alias. One audioop pass per tap: C speed without numpy."""
    if not pcm:
        return pcm
    # 32-bit samples hold the sample in their top 16 bits; scaled down by 8 the sum of
    # the taps cannot overflow, and 13 bits of fraction remain.
    wide = audioop.lin2lin(pcm, 2, 4)
    frames = len(pcm) // 2
    pad = FILTER_TAPS - 1
    total = bytes(4 * (frames + pad))
    for k, tap in enumerate(_low_pass_taps(rate)):
        shifted = bytes(4 * k) + wide + bytes(4 * (pad - k))
        total = audioop.add(total, audioop.mul(shifted, 4, tap / 8), 4)
    delay = pad // 2  # the filter is symmetric: its output lags by half its length
    centred = total[4 * delay : 4 * (delay + frames)]
    return audioop.lin2lin(audioop.mul(centred, 4, 8), 4, 2)


def to_prompt_pcm(pcm: bytes, rate: int) -> bytes:
    """16-bit mono PCM at any rate into 16-bit PCM at 8 kHz, normalised."""
    if rate > PROMPT_RATE:
        pcm = low_pass(pcm, rate)
    if rate != PROMPT_RATE:
        pcm, _ = audioop.ratecv(pcm, 2, 1, rate, PROMPT_RATE, None)
    peak = audioop.max(pcm, 2) if pcm else 0
    if peak:
        pcm = audioop.mul(pcm, 2, min(PEAK / peak, MAX_GAIN))
    return pcm


def write_prompt(base: Path, pcm: bytes, rate: int) -> Path:
    """Write prompt `base` in every codec the relay plays; each file appears whole."""
    audio = to_prompt_pcm(pcm, rate)
    encoded = {PCMU: audioop.lin2ulaw(audio, 2), PCMA: audioop.lin2alaw(audio, 2)}
    # μ-law last: a prompt counts as rendered once all its files exist.
    for payload_type in sorted(PROMPT_CODECS, reverse=True):
        target = prompt_file(base, payload_type)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        partial.write_bytes(encoded[payload_type])
        os.replace(partial, target)
    return base


def is_rendered(base: Path) -> bool:
    return all(prompt_file(base, payload_type).is_file() for payload_type in PROMPT_CODECS)
