"""G.711 against audioop, value by value."""

from __future__ import annotations

import audioop

import numpy as np
import pytest

from callyard.mixer import g711
from callyard.testing.audio import tone, tone_power, tones_heard

EVERY_CODE = bytes(range(256))
EVERY_SAMPLE = np.arange(-32768, 32768, dtype=np.int16)


def test_mu_law_decodes_every_code_as_audioop_does() -> None:
    assert g711.decode(EVERY_CODE, g711.PCMU).tobytes() == audioop.ulaw2lin(EVERY_CODE, 2)


def test_a_law_decodes_every_code_as_audioop_does() -> None:
    assert g711.decode(EVERY_CODE, g711.PCMA).tobytes() == audioop.alaw2lin(EVERY_CODE, 2)


def test_mu_law_encodes_every_sample_as_audioop_does() -> None:
    expected = audioop.lin2ulaw(EVERY_SAMPLE.tobytes(), 2)
    assert g711.encode(EVERY_SAMPLE, g711.PCMU) == expected


def test_a_law_encodes_every_sample_as_audioop_does() -> None:
    expected = audioop.lin2alaw(EVERY_SAMPLE.tobytes(), 2)
    assert g711.encode(EVERY_SAMPLE, g711.PCMA) == expected


@pytest.mark.parametrize("payload_type", [g711.PCMU, g711.PCMA])
def test_the_side_by_side_tables_are_the_codecs_own(payload_type: int) -> None:
    codec = g711.codec_index(payload_type)
    codes = np.frombuffer(EVERY_CODE, dtype=np.uint8)
    decoded = g711.DECODING[codes.astype(np.intp) + 256 * codec]
    assert decoded.tobytes() == g711.decode(EVERY_CODE, payload_type).tobytes()
    encoded = g711.ENCODING[EVERY_SAMPLE.view(np.uint16).astype(np.intp) + 65536 * codec]
    assert encoded.tobytes() == g711.encode(EVERY_SAMPLE, payload_type)


@pytest.mark.parametrize("payload_type", [g711.PCMU, g711.PCMA])
def test_silence_is_the_code_nearest_zero(payload_type: int) -> None:
    code = bytes([g711.silence(payload_type)])
    # A-law has no zero: its smallest steps are ±8.
    assert abs(int(g711.decode(code, payload_type)[0])) <= 8


def test_other_payload_types_are_refused() -> None:
    with pytest.raises(ValueError, match=r"not G\.711"):
        g711.decode(b"\x00", 101)
    with pytest.raises(ValueError, match=r"not G\.711"):
        g711.encode(np.zeros(1, dtype=np.int16), 9)


@pytest.mark.parametrize("payload_type", [g711.PCMU, g711.PCMA])
def test_a_tone_keeps_its_level_through_the_codec(payload_type: int) -> None:
    full = tone(1000.0, 8000, amplitude=1.0)
    assert tone_power(full, 1000.0) == pytest.approx(1.0, abs=0.001)
    quarter = tone(440.0, 8000)
    through = g711.decode(g711.encode(quarter, payload_type), payload_type)
    assert tone_power(through, 440.0) == pytest.approx(0.25, abs=0.005)
    assert tone_power(through.tobytes(), 440.0) == tone_power(through, 440.0)
    assert tones_heard(through, [440.0, 600.0, 1000.0]) == {440.0}
