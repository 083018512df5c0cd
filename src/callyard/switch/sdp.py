"""The little SDP the switch writes and reads: one audio stream, G.711 and DTMF events."""

from __future__ import annotations

import ipaddress
import itertools
import re
from dataclasses import dataclass

# RTP payload types the relay carries: PCMU, PCMA, telephone-event.
CODECS = {0: "PCMU/8000", 8: "PCMA/8000", 101: "telephone-event/8000"}
_session_ids = itertools.count(1)


@dataclass(frozen=True)
class MediaOffer:
    """Where and how a party receives audio."""

    address: str
    port: int
    payload_types: tuple[int, ...]


def build(address: str, port: int, payload_types: tuple[int, ...] = (0, 8, 101)) -> str:
    """An SDP body offering (or answering with) `payload_types` at address:port."""
    session = next(_session_ids)
    lines = [
        "v=0",
        f"o=callyard {session} {session} IN IP4 {address}",
        "s=callyard",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(pt) for pt in payload_types)}",
    ]
    lines += [f"a=rtpmap:{pt} {CODECS[pt]}" for pt in payload_types if pt in CODECS]
    if 101 in payload_types:
        lines.append("a=fmtp:101 0-15")
    lines += ["a=ptime:20", "a=sendrecv"]
    return "\r\n".join(lines) + "\r\n"


# Bounds on what the switch takes from an SDP body; a body past them is malformed.
MAX_LINE = 1024  # characters in one line
MAX_PAYLOAD_TYPES = 32  # formats of one media line
_MEDIA = re.compile(r"m=audio ([0-9]+) RTP/[A-Z/]+ ([0-9 ]+)")
_CONN = re.compile(r"c=IN IP[46] (\S+)")


def parse(body: str) -> MediaOffer | None:
    """The first audio stream of an SDP body that is not rejected (port 0): where and
    how it receives. None when there is none, or when the body is malformed: a line
    over MAX_LINE characters, a port over 65535, a payload type over 127 or more than
    MAX_PAYLOAD_TYPES of them, a connection address that is not an IP address."""
    lines = [line.rstrip() for line in body.splitlines()]
    if any(len(line) > MAX_LINE for line in lines):
        return None
    starts = [index for index, line in enumerate(lines) if line.startswith("m=")]
    session = lines[: starts[0]] if starts else lines
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        media = _MEDIA.fullmatch(lines[start])
        if media is None:
            continue  # not an RTP audio stream
        stream = _stream(media.group(1), media.group(2))
        if stream is None:
            return None
        if stream[0] == 0:
            continue  # a rejected stream
        section = lines[start + 1 : end]
        # A media-level c= line overrides the session-level one.
        has_own = any(line.startswith("c=") for line in section)
        address = _connection(section if has_own else session)
        return MediaOffer(address, *stream) if address is not None else None
    return None


def _stream(port: str, formats: str) -> tuple[int, tuple[int, ...]] | None:
    """The port and payload types of an m= line, None if out of bounds."""
    types = formats.split()
    if len(port) > 5 or int(port) > 65535 or not 0 < len(types) <= MAX_PAYLOAD_TYPES:
        return None
    if any(len(pt) > 3 or int(pt) > 127 for pt in types):
        return None
    return int(port), tuple(int(pt) for pt in types)


def _connection(lines: list[str]) -> str | None:
    """The address of the first c= line among `lines`, if it is an IP address."""
    for line in lines:
        if line.startswith("c="):
            conn = _CONN.fullmatch(line)
            if conn is None:
                return None
            try:
                return str(ipaddress.ip_address(conn.group(1)))
            except ValueError:
                return None
    return None


def common_codecs(offer: tuple[int, ...]) -> tuple[int, ...]:
    """The relay's codecs the other side offered, in its order (at least one audio codec)."""
    return tuple(pt for pt in offer if pt in CODECS)
