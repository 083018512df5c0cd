"""RTP headers read and written, and datagrams that are not RTP turned away."""

from __future__ import annotations

import struct

import pytest

from callyard.mixer import rtp


def test_the_short_cut_reads_what_parse_reads() -> None:
    plain = rtp.build(0, 1, 160, 7, b"\xff" * 160)
    assert rtp.payload_of(plain) == (0, b"\xff" * 160)
    with_csrc = b"\x81" + plain[1:12] + b"\x00\x00\x00\x01" + b"\xff" * 160
    assert rtp.payload_of(with_csrc) == (0, b"\xff" * 160)
    assert rtp.payload_of(b"\x80\x00") is None
    assert rtp.payload_of(b"\x00" * 40) is None


def test_a_built_packet_reads_back() -> None:
    datagram = rtp.build(8, 65535, 2**32 - 1, 0xDEADBEEF, b"\xd5" * 160, marker=True)
    assert len(datagram) == rtp.HEADER_SIZE + 160
    assert rtp.parse(datagram) == rtp.RtpPacket(
        payload_type=8,
        sequence=65535,
        timestamp=2**32 - 1,
        ssrc=0xDEADBEEF,
        payload=b"\xd5" * 160,
        marker=True,
    )


def test_csrcs_extension_and_padding_are_read_past() -> None:
    first = 0x80 | 0x20 | 0x10 | 2  # version 2, padding, extension, two CSRCs
    header = struct.pack("!BBHII", first, 0x80 | 101, 7, 1600, 42)
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x10\xff\x00\x00"
    datagram = header + csrcs + extension + b"\x05\x0a\x00\xa0" + b"\x00\x00\x03"
    packet = rtp.parse(datagram)
    assert packet is not None
    assert packet.payload_type == 101
    assert packet.marker
    assert packet.csrcs == (1, 2)
    assert packet.extension == (0xBEDE, b"\x10\xff\x00\x00")
    assert packet.payload == b"\x05\x0a\x00\xa0"


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\x80\x00\x00",  # shorter than a header
        b"\x40" + b"\x00" * 20,  # version 1
        b"\x00" * 20,  # version 0 (STUN, for one)
        b"\x8f" + b"\x00" * 20,  # 15 CSRCs announced, fewer there
        b"\x90" + b"\x00" * 11 + b"\x00\x00\x00\x09",  # an extension longer than the packet
        b"\xa0" + b"\x00" * 11 + b"\x00",  # padding of 0
        b"\xa0" + b"\x00" * 11 + b"\x01\x02\x30",  # more padding than payload
    ],
)
def test_what_is_not_rtp_is_none(datagram: bytes) -> None:
    assert rtp.parse(datagram) is None
    assert rtp.payload_of(datagram) is None
