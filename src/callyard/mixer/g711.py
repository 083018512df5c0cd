"""G.711 μ-law (PCMU, payload type 0) and A-law (PCMA, payload type 8) with lookup tables.

Decoding indexes a 256-entry table of 16-bit samples by the code; encoding indexes a
65536-entry table of codes by the 16-bit sample read as unsigned. Both tables are built
once, vectorised, from the segment rules of G.711, and agree with audioop's
`ulaw2lin`/`lin2ulaw`/`alaw2lin`/`lin2alaw` for every value.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

PCMU = 0
PCMA = 8
PAYLOAD_TYPES = (PCMU, PCMA)

# Magnitudes at or under each end fall in that segment (μ-law: 14-bit biased magnitude,
# A-law: 13-bit magnitude); one past the last end is out of range.
_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # the largest 14-bit magnitude before the bias


def _ulaw_decoding() -> NDArray[np.int16]:
    code = ~np.arange(256, dtype=np.int32) & 0xFF  # codes are sent inverted
    segment = (code >> 4) & 0x07
    magnitude = (((code & 0x0F) << 3) + _ULAW_BIAS) << segment
    sample = np.where(code & 0x80, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS)
    return sample.astype(np.int16)


def _alaw_decoding() -> NDArray[np.int16]:
    code = np.arange(256, dtype=np.int32) ^ 0x55  # even bits are sent inverted
    segment = (code >> 4) & 0x07
    step = (code & 0x0F) << 4
    magnitude = np.where(segment == 0, step + 8, (step + 0x108) << np.maximum(segment - 1, 0))
    sample = np.where(code & 0x80, magnitude, -magnitude)
    return sample.astype(np.int16)


def _every_sample() -> NDArray[np.int32]:
    """All 65536 int16 values, in the order of their uint16 reading (0..65535)."""
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)


def _ulaw_encoding() -> NDArray[np.uint8]:
    sample = _every_sample() >> 2
    negative = sample < 0
    magnitude = np.minimum(np.where(negative, -sample, sample), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude)
    shift = np.minimum(segment, 7) + 1
    code = np.where(segment >= 8, 0x7F, (segment << 4) | ((magnitude >> shift) & 0x0F))
    return (code ^ np.where(negative, 0x7F, 0xFF)).astype(np.uint8)


def _alaw_encoding() -> NDArray[np.uint8]:
    sample = _every_sample() >> 3
    negative = sample < 0
    magnitude = np.where(negative, -sample - 1, sample)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, magnitude)
    shift = np.where(segment < 2, 1, np.minimum(segment, 7))
    code = np.where(segment >= 8, 0x7F, (segment << 4) | ((magnitude >> shift) & 0x0F))
    return (code ^ np.where(negative, 0x55, 0xD5)).astype(np.uint8)


ULAW_DECODING = _ulaw_decoding()
ALAW_DECODING = _alaw_decoding()
ULAW_ENCODING = _ulaw_encoding()
ALAW_ENCODING = _alaw_encoding()

# Both codecs side by side, for mixing many parties of either codec in one pass: the
# decoding of code C in codec K is DECODING[256 * K + C], the encoding of sample S is
# ENCODING[65536 * K + S.view(uint16)], K being codec_index(payload type).
DECODING = np.concatenate([ULAW_DECODING, ALAW_DECODING])
ENCODING = np.concatenate([ULAW_ENCODING, ALAW_ENCODING])

_DECODINGS = {PCMU: ULAW_DECODING, PCMA: ALAW_DECODING}
_ENCODINGS = {PCMU: ULAW_ENCODING, PCMA: ALAW_ENCODING}


def codec_index(payload_type: int) -> int:
    """0 for PCMU, 1 for PCMA: the codec's place in DECODING and ENCODING."""
    if payload_type not in _DECODINGS:
        raise ValueError(f"payload type {payload_type} is not G.711 (0 or 8)")
    return 0 if payload_type == PCMU else 1


def silence(payload_type: int) -> int:
    """The code of a zero sample."""
    return int(_ENCODINGS[payload_type][0]) if payload_type in _ENCODINGS else 0


def decode(payload: bytes, payload_type: int) -> NDArray[np.int16]:
    """The 16-bit samples of a G.711 payload."""
    table = _DECODINGS.get(payload_type)
    if table is None:
        raise ValueError(f"payload type {payload_type} is not G.711 (0 or 8)")
    return table[np.frombuffer(payload, dtype=np.uint8)]


def encode(samples: NDArray[np.int16], payload_type: int) -> bytes:
    """The G.711 payload of 16-bit samples."""
    table = _ENCODINGS.get(payload_type)
    if table is None:
        raise ValueError(f"payload type {payload_type} is not G.711 (0 or 8)")
    return table[np.asarray(samples, dtype=np.int16).view(np.uint16)].tobytes()
