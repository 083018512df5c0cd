"""Turn the relay's per-direction captures into one 8 kHz stereo WAV.

Left channel: the agent (or the employee's mobile); right channel: the customer. Packets
are placed by capture time, so silence and gaps keep their length.

This runs in a thread of the server, under the same GIL as the SIP stack and the event
loop, so the work per packet is kept to a few integer operations and one copy; decoding
and interleaving run in audioop over whole buffers.
"""

from __future__ import annotations

import audioop
import struct
import sys
import wave
from collections.abc import Callable
from pathlib import Path

RATE = 8000
_ETHERNET, _RAW_IP = 1, 101
_PCMU, _PCMA = 0, 8
# Other payload types (DTMF events, comfort noise) are not audio.
_DECODERS: dict[int, Callable[[bytes, int], bytes]] = {
    _PCMU: audioop.ulaw2lin,
    _PCMA: audioop.alaw2lin,
}
# Where a channel's sample sits in a stereo frame (two native 16-bit samples).
_LEFT, _RIGHT = 0, 2
# Decoded to 32 bits, a G.711 byte is its 16-bit sample over 16 zero bits: in memory, the
# sample's 2 bytes come after the zeros on a little-endian host, before them on a big one.
_SAMPLE = 2 if sys.byteorder == "little" else 0

# (capture time, payload type, payload start, payload end): the payload is capture[start:end],
# empty when start >= end
Packet = tuple[float, int, int, int]


def _rtp_packets(capture: bytes) -> list[Packet]:
    """Every RTP packet of a pcap capture, its payload given as a span of the capture."""
    if len(capture) < 24:
        return []
    magic = struct.unpack_from("<I", capture)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    unit = 1e9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e6
    link = struct.unpack_from(endian + "I", capture, 20)[0]
    link_header = 14 if link == _ETHERNET else 0
    record = struct.Struct(endian + "III")  # seconds, fraction, captured length
    packets = []
    offset, size = 24, len(capture)
    while offset + 16 <= size:
        sec, frac, length = record.unpack_from(capture, offset)
        ip = offset + 16 + link_header
        offset += 16 + length
        end = offset if offset <= size else size  # the last record may be cut short
        if end - ip < 20:
            continue
        rtp = ip + (capture[ip] & 0x0F) * 4 + 8  # past the IP and UDP headers
        if end - rtp < 12 or capture[rtp] >> 6 != 2:
            continue
        payload = rtp + 12 + (capture[rtp] & 0x0F) * 4  # past the CSRC list; may be > end
        packets.append((sec + frac / unit, capture[rtp + 1] & 0x7F, payload, end))
    return packets


def _channel(
    capture: bytes, packets: list[Packet], start: float, frames: int, side: int
) -> bytearray:
    """One direction's audio as stereo frames, on `side` (_LEFT or _RIGHT), silence on the other."""
    channel = bytearray(frames * 4)
    frames_view = memoryview(channel)  # assigning a bytearray slice would copy the source first
    decoded: dict[int, memoryview] = {}  # the whole capture, per payload type met
    for moment, payload_type, begin, end in packets:
        pcm = decoded.get(payload_type)
        if pcm is None:
            decode = _DECODERS.get(payload_type)
            if decode is None:
                continue
            # Decoded to 32 bits, a payload's samples lie 4 bytes apart with 2 zero bytes
            # between them: the layout of one side of stereo frames.
            pcm = decoded[payload_type] = memoryview(decode(capture, 4))
        at = round((moment - start) * RATE)
        count = end - begin
        if at + count > frames:
            count = frames - at
        if count > 0:
            first, source, size = at * 4 + side, begin * 4 + _SAMPLE, count * 4 - 2
            frames_view[first : first + size] = pcm[source : source + size]
    return channel


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def captures_to_wav(from_agent: Path, from_customer: Path, out: Path) -> float:
    """Write the stereo WAV; returns its duration in seconds (0 when nothing was captured)."""
    agent, customer = _read(from_agent), _read(from_customer)
    agent_packets, customer_packets = _rtp_packets(agent), _rtp_packets(customer)
    moments = [packet[0] for packet in agent_packets + customer_packets]
    if not moments:
        return 0.0
    start = min(moments)
    frames = round((max(moments) - start) * RATE) + 160
    left = _channel(agent, agent_packets, start, frames, _LEFT)
    right = _channel(customer, customer_packets, start, frames, _RIGHT)
    # A frame of each carries its sample in one half and zeros in the other, the two on
    # opposite halves: added as 32-bit integers they neither carry nor overflow, which
    # interleaves them.
    stereo = audioop.add(left, right, 4)
    if not out.parent.is_dir():  # cheaper than a mkdir that fails
        out.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(stereo)
    return frames / RATE
