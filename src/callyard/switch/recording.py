"""Turn the relay's per-direction captures into one 8 kHz stereo WAV.

Left channel: the agent (or the employee's mobile); right channel: the customer. Packets
are placed by their RTP timestamps, each stream anchored to the call's timeline by its
capture times (`timeline.place`): jitter and reordering move nothing, silence and losses
keep their length, and both directions line up. The WAV starts with the first packet of
either direction.

This runs in a thread of the server, under the same GIL as the SIP stack and the event
loop, so the work per packet is kept to a few tuple and integer operations and one copy;
decoding and interleaving run in audioop over whole buffers.
"""

from __future__ import annotations

import audioop
import math
import struct
import sys
import wave
from collections.abc import Callable
from pathlib import Path

from callyard.switch.timeline import RATE, Packet, Placed, place

__all__ = ["RATE", "captures_to_wav"]

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
# The length the last packet captured is taken to have (20 ms) when it is not audio.
_LAST_PACKET = RATE // 50

_RTP_HEADER = struct.Struct("!BBHII")  # flags, payload type, sequence, timestamp, SSRC
_EXTENSION_LENGTH = struct.Struct("!H")


def _rtp_packets(capture: bytes) -> tuple[list[Packet], float, float]:
    """The G.711 packets of a pcap capture, their payloads given as spans of the capture,
    and the first and last capture times of any RTP packet (inf and -inf when none)."""
    first, last = math.inf, -math.inf
    if len(capture) < 24:
        return [], first, last
    magic = struct.unpack_from("<I", capture)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    unit = 1e9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e6
    link = struct.unpack_from(endian + "I", capture, 20)[0]
    link_header = 14 if link == _ETHERNET else 0
    record = struct.Struct(endian + "III")  # seconds, fraction, captured length
    header = _RTP_HEADER.unpack_from
    packets: list[Packet] = []
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
        flags, marked_type, seq, timestamp, ssrc = header(capture, rtp)
        moment = sec + frac / unit
        if moment < first:
            first = moment
        if moment > last:
            last = moment
        payload_type = marked_type & 0x7F
        if payload_type not in _DECODERS:
            continue
        payload = rtp + 12 + (flags & 0x0F) * 4  # past the CSRC list; may be > end
        if flags & 0x10 and payload + 4 <= end:  # a header extension, in 32-bit words
            payload += 4 + 4 * _EXTENSION_LENGTH.unpack_from(capture, payload + 2)[0]
        if flags & 0x20 and end == offset:  # padding, counted by its last byte
            end -= capture[end - 1]
        if payload < end:
            marker = marked_type >> 7
            packets.append((moment, payload_type, marker, seq, timestamp, ssrc, payload, end))
    return packets, first, last


def _channel(capture: bytes, placed: list[Placed], shift: int, frames: int, side: int) -> bytearray:
    """One direction's audio as stereo frames, on `side` (_LEFT or _RIGHT), silence on the
    other; a packet's first sample goes to frame `at + shift`."""
    channel = bytearray(frames * 4)
    frames_view = memoryview(channel)  # assigning a bytearray slice would copy the source first
    decoded: dict[int, memoryview] = {}  # the whole capture, per payload type met
    for at, payload_type, begin, end in placed:
        pcm = decoded.get(payload_type)
        if pcm is None:
            # Decoded to 32 bits, a payload's samples lie 4 bytes apart with 2 zero bytes
            # between them: the layout of one side of stereo frames.
            pcm = decoded[payload_type] = memoryview(_DECODERS[payload_type](capture, 4))
        at += shift
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
    agent_packets, agent_first, agent_last = _rtp_packets(agent)
    customer_packets, customer_first, customer_last = _rtp_packets(customer)
    epoch, last = min(agent_first, customer_first), max(agent_last, customer_last)
    if epoch == math.inf:
        return 0.0
    left_placed, right_placed = place(agent_packets, epoch), place(customer_packets, epoch)
    # The WAV covers every packet captured (a last packet that is not audio as 20 ms) and
    # every sample placed, which may start a little before its packet was captured.
    start, end = 0, round((last - epoch) * RATE) + _LAST_PACKET
    for at, _, begin, stop in left_placed + right_placed:
        if at < start:
            start = at
        if at + stop - begin > end:
            end = at + stop - begin
    frames = end - start
    left = _channel(agent, left_placed, -start, frames, _LEFT)
    right = _channel(customer, right_placed, -start, frames, _RIGHT)
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
