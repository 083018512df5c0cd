"""The little SDP the switch writes and reads: one audio stream, G.711 and DTMF events."""

from __future__ import annotations

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


_MEDIA = re.compile(r"^m=audio (\d+) RTP/[A-Z/]+ ([\d ]+)", re.MULTILINE)
_CONN = re.compile(r"^c=IN IP[46] (\S+)", re.MULTILINE)


def parse(body: str) -> MediaOffer | None:
    """The audio address, port and payload types of an SDP body; None if it has none."""
    media = _MEDIA.search(body)
    if media is None:
        return None
    # A media-level c= line overrides the session-level one.
    head, _, tail = body.partition(media.group(0))
    conn = _CONN.search(tail.split("\nm=", 1)[0]) or _CONN.search(head)
    if conn is None:
        return None
    types = tuple(int(pt) for pt in media.group(2).split())
    return MediaOffer(conn.group(1), int(media.group(1)), types)


def common_codecs(offer: tuple[int, ...]) -> tuple[int, ...]:
    """The relay's codecs the other side offered, in its order (at least one audio codec)."""
    return tuple(pt for pt in offer if pt in CODECS)
