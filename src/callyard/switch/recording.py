"""Turn the relay's per-direction captures into one 8 kHz stereo WAV.

Left channel: the agent (or the employee's mobile); right channel: the customer. Packets
are placed by capture time, so silence and gaps keep their length.
"""

from __future__ import annotations

import audioop
import struct
import wave
from pathlib import Path

RATE = 8000
_ETHERNET, _RAW_IP = 1, 101
_PCMU, _PCMA = 0, 8


def _rtp_packets(path: Path) -> list[tuple[float, int, bytes]]:
    """(capture time, payload type, payload) of each RTP packet in a pcap file."""
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
        start = 14 if link == _ETHERNET else 0
        if len(frame) < start + 20:
            continue
        ihl = (frame[start] & 0x0F) * 4
        rtp = frame[start + ihl + 8 :]
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        csrc = (rtp[0] & 0x0F) * 4
        payload_type = rtp[1] & 0x7F
        packets.append((sec + frac / (1e9 if nanos else 1e6), payload_type, rtp[12 + csrc :]))
    return packets


def _decode(payload_type: int, payload: bytes) -> bytes | None:
    if payload_type == _PCMU:
        return audioop.ulaw2lin(payload, 2)
    if payload_type == _PCMA:
        return audioop.alaw2lin(payload, 2)
    return None  # DTMF events and comfort noise are not audio


def _track(packets: list[tuple[float, int, bytes]], start: float, frames: int) -> bytearray:
    track = bytearray(frames * 2)
    for moment, payload_type, payload in packets:
        pcm = _decode(payload_type, payload)
        if pcm is None:
            continue
        at = round((moment - start) * RATE) * 2
        end = min(at + len(pcm), len(track))
        if at < end:
            track[at:end] = pcm[: end - at]
    return track


def captures_to_wav(from_agent: Path, from_customer: Path, out: Path) -> float:
    """Write the stereo WAV; returns its duration in seconds (0 when nothing was captured)."""
    agent, customer = _rtp_packets(from_agent), _rtp_packets(from_customer)
    moments = [p[0] for p in agent + customer]
    if not moments:
        return 0.0
    start = min(moments)
    frames = round((max(moments) - start) * RATE) + 160
    left, right = _track(agent, start, frames), _track(customer, start, frames)
    stereo = audioop.add(
        audioop.tostereo(bytes(left), 2, 1, 0), audioop.tostereo(bytes(right), 2, 0, 1), 2
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(stereo)
    return frames / RATE
