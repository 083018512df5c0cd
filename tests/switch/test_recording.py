"""captures_to_wav: packets are placed by their RTP timestamps on the call's timeline.

A sender without jitter is recorded byte for byte as by the straightforward conversion kept
here as the reference, which places packets by capture time. Jitter, reordering, losses,
duplicates, new streams, wrapping and jumping timestamps and packets that are not audio are
checked against a clean copy of the same call."""

from __future__ import annotations

import audioop
import itertools
import math
import operator
import random
import struct
import wave
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from callyard.switch.recording import RATE, captures_to_wav

ETHERNET, RAW_IP = 1, 101
PCMU, PCMA, COMFORT_NOISE, DYNAMIC, TELEPHONE_EVENT = 0, 8, 13, 96, 101
# (magic as written, byte order, fraction units per second)
FORMATS = [
    (0xA1B2C3D4, "<", 1_000_000),  # what rtpproxy writes
    (0xA1B2C3D4, ">", 1_000_000),
    (0xA1B23C4D, "<", 1_000_000_000),
    (0xA1B23C4D, ">", 1_000_000_000),
]
PACKET = 160  # samples in 20 ms
T0 = 1_790_000_000.0  # on the 8 kHz grid: packets captured on time are whole samples apart


# -- the reference: one object per packet, decoded and placed one by one by capture time --


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
    # Every packet captured (one that is not audio as 20 ms) and every sample of audio.
    ends = [
        round((moment - start) * RATE) + len(payload)
        for moment, payload_type, payload in agent + customer
        if payload_type in (PCMU, PCMA)
    ]
    frames = max(round((max(moments) - start) * RATE) + 160, *ends)
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
    seq: int = 1,
    timestamp: int = 160,
    ssrc: int = 42,
    marker: bool = False,
    link: int = ETHERNET,
    endian: str = "<",
    units: int = 1_000_000,
    csrcs: int = 0,
    extension: int = 0,
    padding: int = 0,
    ip_options: int = 0,
    version: int = 2,
) -> bytes:
    """One captured RTP packet, framed as rtpproxy frames it (or as raw IP), with `extension`
    32-bit words of header extension and `padding` bytes of padding."""
    flags = version << 6 | (0x20 if padding else 0) | (0x10 if extension else 0) | csrcs
    rtp = struct.pack("!BBHII", flags, marker << 7 | payload_type, seq, timestamp, ssrc)
    rtp += bytes(4 * csrcs)
    if extension:
        rtp += struct.pack("!HH", 0xBEDE, extension) + bytes(range(1, 4 * extension + 1))
    rtp += payload + (bytes(padding - 1) + bytes([padding]) if padding else b"")
    udp = struct.pack("!HHHH", 40000, 30000, 8 + len(rtp), 0) + rtp
    ip_length = 20 + 4 * ip_options + len(udp)
    ip = struct.pack("!BBHHHBBH", 0x45 + ip_options, 0, ip_length, 0, 0, 64, 17, 0)
    ip += b"\x7f\x00\x00\x01" * 2 + bytes(4 * ip_options) + udp
    frame = (bytes(12) + b"\x08\x00" if link == ETHERNET else b"") + ip
    sec = int(moment)
    frac = min(round((moment - sec) * units), units - 1)
    return struct.pack(endian + "IIII", sec, frac, len(frame), len(frame)) + frame


def random_capture(rng: random.Random, t0: float) -> bytes:
    """A capture of a sender without jitter (each packet captured at its timestamp's time),
    with what calls bring (silences, new streams, wrapping counters, DTMF, comfort noise,
    both codecs, 20 and 30 ms packets, overlaps) and what they should not (non-RTP, cut
    frames)."""
    magic, endian, units = rng.choice(FORMATS)
    link = rng.choice([ETHERNET, ETHERNET, RAW_IP, 0])
    step = rng.choice([160, 240])
    codec = rng.choice([PCMU, PCMA])
    records = [pcap_header(link, magic, endian)]
    sample = 0  # where the sender is, in samples from t0
    seq, ssrc = rng.randrange(1 << 16), rng.randrange(1 << 32)
    base = rng.randrange(1 << 32)  # the timestamp at t0
    for _ in range(rng.randint(0, 120)):
        sample += step
        if rng.random() < 0.05:
            sample += rng.randint(400, 4000)  # silence, the timestamps going on
        if rng.random() < 0.03:  # a new stream
            seq, ssrc, base = rng.randrange(1 << 16), rng.randrange(1 << 32), rng.randrange(1 << 32)
        seq += 1
        roll = rng.random()
        if roll < 0.05:
            payload_type = TELEPHONE_EVENT
        elif roll < 0.08:
            payload_type = COMFORT_NOISE
        elif roll < 0.1:
            payload_type = PCMA if codec == PCMU else PCMU  # a switch of codec mid-call
        else:
            payload_type = codec
        size = step if rng.random() < 0.9 else rng.randint(0, 300)
        at = t0 + sample / RATE
        records.append(
            pcap_record(
                at,
                payload_type,
                rng.randbytes(size),
                seq=seq & 0xFFFF,
                timestamp=(base + sample) & 0xFFFFFFFF,
                ssrc=ssrc,
                marker=rng.random() < 0.1,
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


@dataclass(frozen=True)
class Sent:
    """An RTP packet as sent, and when the relay captured it."""

    moment: float
    payload: bytes
    seq: int
    timestamp: int
    ssrc: int
    payload_type: int = PCMU
    marker: bool = False


def capture(packets: Iterable[Sent]) -> bytes:
    """The relay's capture of the packets: in the order they arrived, counters wrapped."""
    return pcap_header(ETHERNET) + b"".join(
        pcap_record(
            p.moment,
            p.payload_type,
            p.payload,
            seq=p.seq & 0xFFFF,
            timestamp=p.timestamp & 0xFFFFFFFF,
            ssrc=p.ssrc,
            marker=p.marker,
        )
        for p in sorted(packets, key=operator.attrgetter("moment"))
    )


def tone(seconds: float, frequency: int = 1000, amplitude: float = 0.5) -> bytes:
    """A sine tone, 16-bit samples, none of them zero (a zero is silence)."""
    return array(
        "h",
        (
            round(amplitude * 32767 * math.sin(math.pi * (2 * frequency * n / RATE + 1 / 8)))
            for n in range(round(seconds * RATE))
        ),
    ).tobytes()


def silence(seconds: float) -> bytes:
    return bytes(2 * round(seconds * RATE))


def send(
    pcm: bytes,
    *,
    at: float,
    seq: int = 1000,
    timestamp: int = 123_456,
    ssrc: int = 0x5EED,
    codec: int = PCMU,
) -> list[Sent]:
    """A steady sender: a 20 ms packet of every 160 samples of `pcm` (16-bit), the first
    sent at `at`, each captured when sent."""
    encode = audioop.lin2ulaw if codec == PCMU else audioop.lin2alaw
    return [
        Sent(
            at + n * PACKET / RATE,
            encode(pcm[n * 2 * PACKET : (n + 1) * 2 * PACKET], 2),
            seq + n,
            timestamp + n * PACKET,
            ssrc,
            codec,
            marker=n == 0,
        )
        for n in range(len(pcm) // (2 * PACKET))
    ]


def jittered(packets: list[Sent], rng: random.Random, jitter: float) -> list[Sent]:
    """The packets captured up to `jitter` seconds earlier or later."""
    return [replace(p, moment=p.moment + rng.uniform(-jitter, jitter)) for p in packets]


def recorded(tmp_path: Path, agent: list[Sent], customer: list[Sent]) -> tuple[bytes, bytes]:
    """The left (agent) and right (customer) channels of the WAV recorded from the packets."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "agent.rtp").write_bytes(capture(agent))
    (tmp_path / "customer.rtp").write_bytes(capture(customer))
    out = tmp_path / "out.wav"
    duration = captures_to_wav(tmp_path / "agent.rtp", tmp_path / "customer.rtp", out)
    with wave.open(str(out)) as wav:
        frames = wav.readframes(wav.getnframes())
        assert duration == wav.getnframes() / RATE
    return audioop.tomono(frames, 2, 1, 0), audioop.tomono(frames, 2, 0, 1)


def tone_level(pcm: bytes, frequency: int = 1000, window: int = 400) -> float:
    """The tone's amplitude (full scale 1) in each `window` samples, averaged: silence,
    overwritten samples and a broken phase within a window all lower it."""
    cosine = array("d", (math.cos(2 * math.pi * frequency * n / RATE) for n in range(window)))
    sine = array("d", (math.sin(2 * math.pi * frequency * n / RATE) for n in range(window)))
    samples = array("h", pcm)
    levels = []
    for start in range(0, len(samples) - window + 1, window):
        chunk = samples[start : start + window]
        real = sum(map(operator.mul, chunk, cosine))
        imaginary = sum(map(operator.mul, chunk, sine))
        levels.append(2 * math.hypot(real, imaginary) / window / 32767)
    return sum(levels) / len(levels)


def silences(pcm: bytes) -> list[tuple[int, int]]:
    """(first sample, length) of every run of zero samples between sounds."""
    runs, at = [], 0
    for zero, run in itertools.groupby(array("h", pcm), key=operator.not_):
        length = sum(1 for _ in run)
        if zero and at > 0 and at + length < len(pcm) // 2:
            runs.append((at, length))
        at += length
    return runs


def onset(pcm: bytes) -> int:
    """The first sample of sound."""
    return next(n for n, sample in enumerate(array("h", pcm)) if abs(sample) > 1000)


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
    agent = random_capture(rng, T0 + rng.randrange(RATE) / RATE)
    customer = random_capture(rng, T0 + rng.randrange(RATE) / RATE)
    convert_both(tmp_path, agent, customer)


def test_a_long_call_converts_byte_for_byte_as_the_reference(tmp_path: Path) -> None:
    rng = random.Random(7)
    for name, codec in (("pcmu", PCMU), ("pcma", PCMA)):
        agent = [pcap_header(ETHERNET)]
        customer = [pcap_header(ETHERNET)]
        for n in range(3000):  # 60 s of 20 ms packets each way
            at, seq, timestamp = T0 + n * 0.02, (60_000 + n) & 0xFFFF, n * 160
            payload = rng.randbytes(160)
            agent.append(pcap_record(at, codec, payload, seq=seq, timestamp=timestamp))
            payload = rng.randbytes(160)
            customer.append(pcap_record(at + 0.011, codec, payload, seq=seq, timestamp=timestamp))
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
    agent = (
        pcap_header(ETHERNET)
        + pcap_record(5.0, PCMU, first, seq=1, timestamp=0)
        + pcap_record(5.01, PCMU, second, seq=2, timestamp=80)
    )
    convert_both(tmp_path, agent, None)
    with wave.open(str(tmp_path / "new" / "out.wav")) as wav:
        frames = wav.readframes(wav.getnframes())
    left = audioop.tomono(frames, 2, 1, 0)
    expected = audioop.ulaw2lin(first[:80] + second, 2)
    assert left == expected
    assert audioop.tomono(frames, 2, 0, 1) == bytes(len(expected))


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


# -- a sender's packets placed by their timestamps -----------------------------------------


@pytest.mark.parametrize("jitter", [0.0005, 0.005, 0.02])
def test_a_jittery_sender_is_recorded_as_cleanly_as_a_steady_one(
    tmp_path: Path, jitter: float
) -> None:
    rng = random.Random(round(jitter * 1e6))
    sent = send(tone(6), at=T0, seq=rng.randrange(1 << 16), timestamp=rng.randrange(1 << 32))
    lost = {40, 41, 150, 222}
    kept = [packet for n, packet in enumerate(sent) if n not in lost]
    arrived = jittered(kept, rng, jitter)
    for n in (10, 100, 200):  # overtaken by the two packets after it
        arrived[n] = replace(arrived[n], moment=arrived[n].moment + 0.045)
    arrived += [replace(packet, moment=packet.moment + 0.003) for packet in arrived[::50]]
    clean, _ = recorded(tmp_path / "clean", kept, [])
    left, right = recorded(tmp_path / "jittery", arrived, [])
    assert tone_level(clean) == pytest.approx(0.5, rel=0.05)
    assert tone_level(left) == pytest.approx(tone_level(clean), rel=0.1)
    gaps = silences(left)
    assert [length for _, length in gaps] == [2 * PACKET, PACKET, PACKET]
    assert [at - gaps[0][0] for at, _ in gaps] == [0, 110 * PACKET, 182 * PACKET]
    assert [length for _, length in silences(clean)] == [2 * PACKET, PACKET, PACKET]
    assert abs(len(left) - len(clean)) <= 2 * round(2 * jitter * RATE)
    assert not any(right)


@pytest.mark.parametrize("restart", ["new SSRC", "sequence numbers restarted"])
def test_a_new_stream_is_anchored_by_its_capture_time(tmp_path: Path, restart: str) -> None:
    rng = random.Random(3)
    first = send(tone(3), at=T0, seq=500, timestamp=900_000, ssrc=0xA)
    # Half a second later, the tone goes on from another stream with counters of its own.
    second = send(
        tone(3),
        at=T0 + 3.5,
        seq=40_000,
        timestamp=rng.randrange(1 << 32),
        ssrc=0xB if restart == "new SSRC" else 0xA,
    )
    clean, _ = recorded(tmp_path / "clean", first + second, [])
    left, _ = recorded(tmp_path / "jittery", jittered(first + second, rng, 0.005), [])
    assert tone_level(left) == pytest.approx(tone_level(clean), rel=0.1)
    [(_, gap)] = silences(left)
    assert abs(gap - RATE // 2) <= PACKET
    assert abs(len(left) - 2 * round(6.5 * RATE)) <= 2 * PACKET


def test_timestamps_and_sequence_numbers_wrap_around(tmp_path: Path) -> None:
    rng = random.Random(4)
    # Both counters wrap about 2 s in; packet 150 is lost after that.
    sent = send(tone(6), at=T0, seq=(1 << 16) - 100, timestamp=(1 << 32) - 100 * PACKET - 77)
    kept = sent[:150] + sent[151:]
    clean, _ = recorded(tmp_path / "clean", kept, [])
    left, _ = recorded(tmp_path / "jittery", jittered(kept, rng, 0.005), [])
    assert tone_level(left) == pytest.approx(tone_level(clean), rel=0.1)
    assert [length for _, length in silences(left)] == [PACKET]
    assert abs(len(left) - len(clean)) <= 2 * PACKET


@pytest.mark.parametrize(
    ("pause", "step", "exact"),
    [
        (1, RATE, True),  # the timestamps went on through the silence
        (1, 0, False),  # held through it
        (0.1, 0, False),  # held through a short one
        (1, 3 * 3600 * RATE, False),  # jumped three hours ahead
        (1, -1_000_000, False),  # jumped back
    ],
)
def test_silence_suppressed_keeps_its_length(
    tmp_path: Path, pause: float, step: int, exact: bool
) -> None:
    rng = random.Random(5)
    spurt = send(tone(2), at=T0, seq=7, timestamp=4_000_000_000)
    # After `pause` seconds of silence the next talk spurt starts, marked, its timestamp
    # `step` further on than the packet after the last one.
    after = send(
        tone(2), at=T0 + 2 + pause, seq=7 + 100, timestamp=4_000_000_000 + 100 * PACKET + step
    )
    clean, _ = recorded(tmp_path / "clean", spurt + after, [])
    left, _ = recorded(tmp_path / "jittery", jittered(spurt + after, rng, 0.005), [])
    assert tone_level(left) == pytest.approx(tone_level(clean), rel=0.1)
    [(_, gap)] = silences(left)
    if exact:
        assert gap == pause * RATE
    else:
        assert abs(gap - pause * RATE) <= PACKET
    assert abs(len(left) - 2 * (4 + pause) * RATE) <= 2 * PACKET


def test_a_sender_that_marks_every_packet_marks_no_talk_spurt(tmp_path: Path) -> None:
    rng = random.Random(12)
    # Half a second of silence, the timestamps held through it.
    sent = send(tone(3), at=T0) + send(tone(3), at=T0 + 3.5, seq=1150, timestamp=123_456 + 24_000)
    sent = [replace(packet, marker=True) for packet in sent]
    clean, _ = recorded(tmp_path / "clean", sent, [])
    left, _ = recorded(tmp_path / "jittery", jittered(sent, rng, 0.02), [])
    assert tone_level(left) == pytest.approx(tone_level(clean), rel=0.1)
    [(_, gap)] = silences(left)
    assert abs(gap - RATE // 2) <= PACKET


def test_packets_that_are_not_audio_leave_the_timeline_alone(tmp_path: Path) -> None:
    rng = random.Random(6)
    audio = send(tone(6), at=T0, seq=0, timestamp=1_000)
    stream: list[Sent] = []
    for n, packet in enumerate(audio):
        stream.append(packet)
        if 100 <= n < 110:  # a key pressed 2 s in: events stamped with its start
            event = struct.pack("!BBH", 5, 10 if n < 109 else 0x8A, 160 * (n - 99))
            key = Sent(packet.moment + 0.01, event, 0, audio[100].timestamp, packet.ssrc)
            stream.append(replace(key, payload_type=TELEPHONE_EVENT, marker=n == 100))
        elif n == 200:
            noise = Sent(packet.moment, bytes([40]), 0, packet.timestamp + 12_345, packet.ssrc)
            stream.append(replace(noise, payload_type=COMFORT_NOISE))
        elif n == 250:
            stream.append(Sent(packet.moment, bytes(20), 0, 7, packet.ssrc, DYNAMIC))
    # Each packet takes the next sequence number, whatever it carries.
    stream = [replace(packet, seq=n) for n, packet in enumerate(stream)]
    clean, _ = recorded(tmp_path / "clean", audio, [])
    left, _ = recorded(tmp_path / "jittery", jittered(stream, rng, 0.005), [])
    assert tone_level(left) == pytest.approx(tone_level(clean), rel=0.1)
    assert silences(left) == []
    assert abs(len(left) - len(clean)) <= 2 * PACKET


def test_a_stream_may_switch_law_from_packet_to_packet(tmp_path: Path) -> None:
    rng = random.Random(8)
    pcm = tone(6)
    mulaw, alaw = send(pcm, at=T0), send(pcm, at=T0, codec=PCMA)
    mixed = [rng.choice(pair) for pair in zip(mulaw, alaw, strict=True)]
    assert {packet.payload_type for packet in mixed} == {PCMU, PCMA}
    clean, _ = recorded(tmp_path / "clean", mulaw, [])
    left, _ = recorded(tmp_path / "jittery", jittered(mixed, rng, 0.005), [])
    assert tone_level(left) == pytest.approx(tone_level(clean), rel=0.1)
    assert silences(left) == []


def test_what_both_sides_say_at_once_lines_up(tmp_path: Path) -> None:
    rng = random.Random(9)
    # Both say something 1 s into the call; the customer's side was answered 0.34 s in,
    # with counters of its own, and its capture times carry jitter.
    agent = send(silence(1) + tone(0.5) + silence(1.5), at=T0, seq=10, timestamp=10)
    said = silence(0.66) + tone(0.5) + silence(1.5)
    sent = send(said, at=T0 + 0.34, seq=50_000, timestamp=3_000_000_000, ssrc=7)
    customer = jittered(sent, rng, 0.01)
    for n in range(30, 36):  # a spike of delay as the customer starts to speak
        customer[n] = replace(customer[n], moment=customer[n].moment + 0.04)
    left, right = recorded(tmp_path, agent, customer)
    assert onset(left) == RATE
    assert abs(onset(right) - onset(left)) <= PACKET


@pytest.mark.parametrize("change", ["stall", "lasting delay"])
def test_a_change_of_network_delay_moves_no_packet(tmp_path: Path, change: str) -> None:
    rng = random.Random(10)
    sent = send(tone(6), at=T0, seq=300, timestamp=0)
    arrived = jittered(sent, rng, 0.002)
    if change == "stall":  # the network held 300 ms of packets, then delivered them at once
        for n in range(100, 115):
            arrived[n] = replace(arrived[n], moment=sent[115].moment + n * 1e-4)
    else:  # from 2 s in, every packet takes 60 ms longer
        arrived[100:] = [replace(packet, moment=packet.moment + 0.06) for packet in arrived[100:]]
    clean, _ = recorded(tmp_path / "clean", sent, [])
    left, _ = recorded(tmp_path / "delayed", arrived, [])
    assert tone_level(left) == pytest.approx(tone_level(clean), rel=0.1)
    assert silences(left) == []
    assert left.strip(b"\0") == clean.strip(b"\0")


def test_a_packet_with_a_corrupt_timestamp_is_dropped(tmp_path: Path) -> None:
    rng = random.Random(11)
    sent = send(tone(6), at=T0, seq=300, timestamp=0)
    arrived = jittered(sent, rng, 0.005)
    arrived[150] = replace(arrived[150], timestamp=arrived[150].timestamp + 5 * RATE)
    clean, _ = recorded(tmp_path / "clean", sent, [])
    left, _ = recorded(tmp_path / "corrupt", arrived, [])
    assert tone_level(left) == pytest.approx(tone_level(clean), rel=0.1)
    assert [length for _, length in silences(left)] == [PACKET]
    assert abs(len(left) - len(clean)) <= 2 * PACKET


def test_header_extensions_and_padding_are_not_audio(tmp_path: Path) -> None:
    voice = bytes(range(0, 160))
    plain = pcap_header(ETHERNET) + pcap_record(9.0, PCMU, voice)
    padded = pcap_header(ETHERNET) + pcap_record(9.0, PCMU, voice, extension=3, padding=4)
    (tmp_path / "plain.rtp").write_bytes(plain)
    (tmp_path / "padded.rtp").write_bytes(padded)
    captures_to_wav(tmp_path / "plain.rtp", tmp_path / "none", tmp_path / "plain.wav")
    captures_to_wav(tmp_path / "padded.rtp", tmp_path / "none", tmp_path / "padded.wav")
    assert (tmp_path / "padded.wav").read_bytes() == (tmp_path / "plain.wav").read_bytes()
