"""The RTP header (RFC 3550): read from a datagram, and written for the mixer's packets."""

from __future__ import annotations

import struct
from dataclasses import dataclass

VERSION = 2
HEADER_SIZE = 12
_FIXED = struct.Struct("!BBHII")
_EXTENSION = struct.Struct("!HH")


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None  # profile-defined value, its data


def parse(datagram: bytes) -> RtpPacket | None:
    """The packet in a datagram, or None when it is not RTP version 2 or is cut short."""
    size = len(datagram)
    if size < HEADER_SIZE:
        return None
    first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(datagram)
    if first >> 6 != VERSION:
        return None
    csrc_count = first & 0x0F
    offset = HEADER_SIZE + 4 * csrc_count
    if offset > size:
        return None
    csrcs = struct.unpack_from(f"!{csrc_count}I", datagram, HEADER_SIZE) if csrc_count else ()
    extension = None
    if first & 0x10:
        if offset + 4 > size:
            return None
        profile, words = _EXTENSION.unpack_from(datagram, offset)
        start = offset + 4
        offset = start + 4 * words
        if offset > size:
            return None
        extension = (profile, bytes(datagram[start:offset]))
    end = size
    if first & 0x20:
        padding = datagram[-1]
        if padding == 0 or offset + padding > size:
            return None
        end -= padding
    return RtpPacket(
        payload_type=second & 0x7F,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        payload=bytes(datagram[offset:end]),
        marker=bool(second & 0x80),
        csrcs=csrcs,
        extension=extension,
    )


def payload_of(datagram: bytes) -> tuple[int, bytes] | None:
    """The payload type and payload of a datagram, or None when it is not RTP: `parse`
    with a short cut for the plain header (no CSRC, extension or padding) phones send."""
    if datagram[:1] == b"\x80" and len(datagram) >= HEADER_SIZE:
        return datagram[1] & 0x7F, datagram[HEADER_SIZE:]
    packet = parse(datagram)
    return None if packet is None else (packet.payload_type, packet.payload)


def build(
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    marker: bool = False,
) -> bytes:
    """A datagram with a plain header (no CSRC, no extension, no padding)."""
    second = (0x80 if marker else 0) | (payload_type & 0x7F)
    header = _FIXED.pack(
        VERSION << 6, second, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF
    )
    return header + payload
