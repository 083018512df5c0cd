"""captures_to_wav: the relay's pcap captures become the same stereo WAV, byte for byte, as
the straightforward conversion kept here as the reference."""

from __future__ import annotations

import audioop
import random
import struct
import wave
from pathlib import Path

import pytest

from callyard.switch.recording import RATE, captures_to_wav

ETHERNET, RAW_IP = 1, 101
PCMU, PCMA, COMFORT_NOISE, TELEPHONE_EVENT = 0, 8, 13, 101
# (magic as written, byte order, fraction units per second)
FORMATS = [
    (0xA1B2C3D4, "<", 1_000_000),  # what rtpproxy writes
    (0xA1B2C3D4, ">", 1_000_000),
    (0xA1B23C4D, "<", 1_000_000_000),
    (0xA1B23C4D, ">", 1_000_000_000),
]


# -- the reference: one object per packet, decoded and placed one by one -------------------


def _reference_packets(path: Path) -> list[tuple[float, int, bytes]]:
    if not path.exists():
        return []
    data = path.read_bytes()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nanos = magic in (0xA1B23C4D, 0x4D3CB2A1)
    link = struct.unpack(endian + "I", data[20:24])[0]
    packets = []
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, length, _ = struct.unpack(endian + "IIII", data[offset : offset + 16])
        frame = data[offset + 16 : offset + 16 + length]
        offset += 16 + length
        start = 14 if link == ETHERNET else 0
        if len(frame) < start + 20:
            continue
        ihl = (frame[start] & 0x0F) * 4
        rtp = frame[start + ihl + 8 :]
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        csrc = (rtp[0] & 0x0F) * 4
        packets.append((sec + frac / (1e9 if nanos else 1e6), rtp[1] & 0x7F, rtp[12 + csrc :]))
    return packets


def _reference_track(packets: list[tuple[float, int, bytes]], start: float, frames: int) -> bytes:
    track = bytearray(frames * 2)
    for moment, payload_type, payload in packets:
        if payload_type == PCMU:
            pcm = audioop.ulaw2lin(payload, 2)
        elif payload_type == PCMA:
            pcm = audioop.alaw2lin(payload, 2)
        else:
            continue
        at = round((moment - start) * RATE) * 2
        end = min(at + len(pcm), len(track))
        if at < end:
            track[at:end] = pcm[: end - at]
    return bytes(track)


def reference_captures_to_wav(from_agent: Path, from_customer: Path, out: Path) -> float:
    agent, customer = _reference_packets(from_agent), _reference_packets(from_customer)
    moments = [p[0] for p in agent + customer]
    if not moments:
        return 0.0
    start = min(moments)
    frames = round((max(moments) - start) * RATE) + 160
    left, right = _reference_track(agent, start, frames), _reference_track(customer, start, frames)
    stereo = audioop.add(audioop.tostereo(left, 2, 1, 0), audioop.tostereo(right, 2, 0, 1), 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(stereo)
    return frames / RATE


# -- capture files -------------------------------------------------------------------------


def pcap_header(link: int, magic: int = 0xA1B2C3D4, endian: str = "<") -> bytes:
    return struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, link)


def pcap_record(
    moment: float,
    payload_type: int,
    payload: bytes,
    *,
    link: int = ETHERNET,
    endian: str = "<",
    units: int = 1_000_000,
    csrcs: int = 0,
    ip_options: int = 0,
    version: int = 2,
) -> bytes:
    """One captured RTP packet, framed as rtpproxy frames it (or as raw IP)."""
    rtp = struct.pack("!BBHII", version << 6 | csrcs, payload_type, 1, 160, 42)
    rtp += bytes(4 * csrcs) + payload
    udp = struct.pack("!HHHH", 40000, 30000, 8 + len(rtp), 0) + rtp
    ip_length = 20 + 4 * ip_options + len(udp)
    ip = struct.pack("!BBHHHBBH", 0x45 + ip_options, 0, ip_length, 0, 0, 64, 17, 0)
    ip += b"\x7f\x00\x00\x01" * 2 + bytes(4 * ip_options) + udp
    frame = (bytes(12) + b"\x08\x00" if link == ETHERNET else b"") + ip
    sec = int(moment)
    frac = min(round((moment - sec) * units), units - 1)
    return struct.pack(endian + "IIII", sec, frac, len(frame), len(frame)) + frame


def random_capture(rng: random.Random, t0: float) -> bytes:
    """A capture with what calls bring (jitter, DTMF, comfort noise, both codecs, 20 and
    30 ms packets, reordering, overlaps) and what they should not (non-RTP, cut frames)."""
    magic, endian, units = rng.choice(FORMATS)
    link = rng.choice([ETHERNET, ETHERNET, RAW_IP, 0])
    ptime = rng.choice([0.02, 0.03])
    codec = rng.choice([PCMU, PCMA])
    records = [pcap_header(link, magic, endian)]
    moment = t0
    for _ in range(rng.randint(0, 120)):
        moment += ptime + rng.uniform(-0.004, 0.004)
        if rng.random() < 0.05:
            moment += rng.uniform(0.05, 0.5)  # a gap
        roll = rng.random()
        if roll < 0.05:
            payload_type = TELEPHONE_EVENT
        elif roll < 0.08:
            payload_type = COMFORT_NOISE
        elif roll < 0.1:
            payload_type = PCMA if codec == PCMU else PCMU  # a switch of codec mid-call
        else:
            payload_type = codec
        size = round(ptime * RATE) if rng.random() < 0.9 else rng.randint(0, 300)
        at = moment - rng.uniform(0, 0.1) if rng.random() < 0.05 else moment  # reordered
        records.append(
            pcap_record(
                at,
                payload_type,
                rng.randbytes(size),
                link=link,
                endian=endian,
                units=units,
                csrcs=rng.choice([0] * 9 + [2, 15]),
                ip_options=rng.choice([0] * 9 + [1]),
                version=2 if rng.random() < 0.97 else 1,
            )
        )
        if rng.random() < 0.02:
            records.append(struct.pack(endian + "IIII", int(at), 0, 10, 10) + bytes(10))
    data = b"".join(records)
    if rng.random() < 0.3:
        data = data[: len(data) - rng.randint(1, 40)]  # the last record cut short
    return data


# -- tests ---------------------------------------------------------------------------------


def convert_both(tmp_path: Path, agent: bytes | None, customer: bytes | None) -> bytes:
    """The WAV captures_to_wav writes, once checked against the reference's."""
    from_agent, from_customer = tmp_path / "agent.rtp", tmp_path / "customer.rtp"
    for path, data in ((from_agent, agent), (from_customer, customer)):
        if data is not None:
            path.write_bytes(data)
    expected = reference_captures_to_wav(from_agent, from_customer, tmp_path / "ref" / "out.wav")
    out = tmp_path / "new" / "out.wav"
    assert captures_to_wav(from_agent, from_customer, out) == expected
    if expected == 0:
        assert not out.exists()
        return b""
    written = out.read_bytes()
    assert written == (tmp_path / "ref" / "out.wav").read_bytes()
    return written


@pytest.mark.parametrize("seed", range(40))
def test_random_captures_convert_byte_for_byte_as_the_reference(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    t0 = 1_790_000_000 + rng.uniform(0, 1)
    agent = random_capture(rng, t0)
    customer = random_capture(rng, t0 + rng.uniform(-0.5, 0.5))
    convert_both(tmp_path, agent, customer)


def test_a_long_call_converts_byte_for_byte_as_the_reference(tmp_path: Path) -> None:
    rng = random.Random(7)
    for name, codec in (("pcmu", PCMU), ("pcma", PCMA)):
        agent = [pcap_header(ETHERNET)]
        customer = [pcap_header(ETHERNET)]
        for n in range(3000):  # 60 s of 20 ms packets each way
            at = 1_790_000_000.5 + n * 0.02
            agent.append(pcap_record(at + rng.uniform(0, 0.002), codec, rng.randbytes(160)))
            customer.append(pcap_record(at + 0.011, codec, rng.randbytes(160)))
        (tmp_path / name).mkdir()
        convert_both(tmp_path / name, b"".join(agent), b"".join(customer))


def test_packets_land_on_their_channel_at_their_capture_time(tmp_path: Path) -> None:
    agent_voice, customer_voice = bytes(range(0, 160)), bytes(range(96, 256))
    agent = pcap_header(ETHERNET) + pcap_record(100.0, PCMU, agent_voice)
    customer = (
        pcap_header(RAW_IP)
        + pcap_record(100.01, PCMA, customer_voice, link=RAW_IP)
        + pcap_record(100.05, TELEPHONE_EVENT, bytes(4), link=RAW_IP)  # not audio; ends the call
    )
    written = convert_both(tmp_path, agent, customer)
    with wave.open(str(tmp_path / "new" / "out.wav")) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, RATE)
        assert wav.getnframes() == 400 + 160  # the last packet's 50 ms, then one 20 ms packet
        frames = wav.readframes(wav.getnframes())
    assert len(written) == 44 + len(frames)
    left, right = audioop.tomono(frames, 2, 1, 0), audioop.tomono(frames, 2, 0, 1)
    assert left == audioop.ulaw2lin(agent_voice, 2) + bytes(2 * 400)
    assert right == bytes(2 * 80) + audioop.alaw2lin(customer_voice, 2) + bytes(2 * 320)


def test_a_later_packet_overwrites_an_earlier_one_it_overlaps(tmp_path: Path) -> None:
    first, second = bytes([0x10]) * 160, bytes([0x20]) * 160
    agent = pcap_header(ETHERNET) + pcap_record(5.0, PCMU, first) + pcap_record(5.01, PCMU, second)
    convert_both(tmp_path, agent, None)
    with wave.open(str(tmp_path / "new" / "out.wav")) as wav:
        frames = wav.readframes(wav.getnframes())
    left = audioop.tomono(frames, 2, 1, 0)
    expected = audioop.ulaw2lin(first[:80] + second, 2)
    assert left == expected
    assert audioop.tomono(frames, 2, 0, 1) == bytes(len(expected))


def test_half_a_sample_rounds_to_even_as_the_reference(tmp_path: Path) -> None:
    # Only nanosecond captures near the epoch place packets exactly half a sample apart.
    agent = pcap_header(ETHERNET, 0xA1B23C4D) + b"".join(
        pcap_record(n * 62_500 / 1e9, PCMU, bytes([0x40 + n]) * 3, units=1_000_000_000)
        for n in (0, 3, 5, 7)  # 0, 1.5, 2.5 and 3.5 samples in
    )
    convert_both(tmp_path, agent, None)
    with wave.open(str(tmp_path / "new" / "out.wav")) as wav:
        left = audioop.tomono(wav.readframes(wav.getnframes()), 2, 1, 0)
    assert left[:12] == audioop.ulaw2lin(bytes([0x40, 0x40, 0x45, 0x45, 0x47, 0x47]), 2)


@pytest.mark.parametrize(
    ("agent", "customer"),
    [
        (None, None),  # the relay captured nothing
        (b"", b""),
        (pcap_header(ETHERNET), pcap_header(ETHERNET)[:10]),
        (pcap_header(ETHERNET) + pcap_record(1.0, PCMU, b"x", version=1), None),
    ],
)
def test_no_rtp_no_recording(tmp_path: Path, agent: bytes | None, customer: bytes | None) -> None:
    assert convert_both(tmp_path, agent, customer) == b""
