"""The little SDP the switch writes and reads: one audio stream, codecs by name.

Browsers (WebRTC) send and take the same stream encrypted (DTLS-SRTP) after ICE checks:
their bodies say so in `UDP/TLS/RTP/SAVPF` streams (`SecureMedia`), and the relay, which
terminates both, has its own to put in the bodies the switch writes them.

Codecs are told apart by encoding name and clock rate, never by payload-type number
alone: a dynamic number (telephone-event at 96-127) means what its `a=rtpmap` says. The
relay forwards packets as they are and cannot transcode, so the switch carries only
codecs both legs have, and the SDP it gives one leg numbers them as the other leg does:
what one side sends then arrives numbered as the other side expects.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

SENDRECV, SENDONLY, RECVONLY, INACTIVE = "sendrecv", "sendonly", "recvonly", "inactive"
DIRECTIONS = (SENDRECV, SENDONLY, RECVONLY, INACTIVE)
_ANSWER_DIRECTION = {SENDRECV: SENDRECV, SENDONLY: RECVONLY, RECVONLY: SENDONLY, INACTIVE: INACTIVE}


@dataclass(frozen=True)
class Codec:
    """An RTP payload format, numbered as one side numbers it."""

    payload_type: int
    name: str
    rate: int = 8000
    parameters: str = ""  # its a=fmtp

    @property
    def key(self) -> tuple[str, int]:
        """What makes two sides' codecs the same: encoding name and clock rate."""
        return self.name.lower(), self.rate

    @property
    def is_audio(self) -> bool:
        """A voice codec (not DTMF events, not comfort noise)."""
        return self.key not in _NOT_AUDIO


PCMU = Codec(0, "PCMU")
PCMA = Codec(8, "PCMA")
TELEPHONE_EVENT = Codec(101, "telephone-event", 8000, "0-15")
# What the switch offers when nothing constrains it, in its order of preference.
DEFAULT_CODECS = (PCMU, PCMA, TELEPHONE_EVENT)
# What the relay carries (it forwards packets untouched, so G.711 is every phone's
# and carrier's common ground; DTMF events go along).
RELAYED = frozenset({PCMU.key, PCMA.key, TELEPHONE_EVENT.key})
_NOT_AUDIO = frozenset({TELEPHONE_EVENT.key, ("cn", 8000)})
# Static payload types (RFC 3551) a body may use without an a=rtpmap line.
_STATIC = {
    0: PCMU,
    3: Codec(3, "GSM"),
    4: Codec(4, "G723"),
    8: PCMA,
    9: Codec(9, "G722"),
    13: Codec(13, "CN"),
    18: Codec(18, "G729"),
}
_session_ids = itertools.count(1)


SECURE_PROFILE = "UDP/TLS/RTP/SAVPF"


@dataclass(frozen=True)
class SecureMedia:
    """One end of an encrypted, ICE-checked stream (WebRTC): its DTLS role
    (`a=setup`) and certificate fingerprint, its ICE credentials and UDP candidates
    (`a=candidate` values), and the SSRC it sends with, if it says."""

    setup: str
    fingerprint: str
    ice_ufrag: str
    ice_pwd: str
    candidates: tuple[str, ...] = ()
    ssrc: str | None = None


@dataclass(frozen=True)
class MediaOffer:
    """Where and how a party receives audio: address, port, codecs, direction, and for a
    browser the DTLS and ICE of its end."""

    address: str
    port: int
    codecs: tuple[Codec, ...]
    direction: str = SENDRECV
    secure: SecureMedia | None = None

    @property
    def on_hold(self) -> bool:
        """The party does not want to receive (a hold, old style or new; a browser's
        address says nothing: ICE finds where it receives)."""
        return self.direction in (SENDONLY, INACTIVE) or (
            self.secure is None and ipaddress.ip_address(self.address).is_unspecified
        )


def build(
    address: str,
    port: int,
    codecs: Iterable[Codec] = DEFAULT_CODECS,
    direction: str = SENDRECV,
    origin: tuple[int, int] | None = None,
    secure: SecureMedia | None = None,
) -> str:
    """An SDP body offering (or answering with) `codecs` at address:port; `origin` is
    the o= line's session id and version (a later body of the same session keeps the
    id and raises the version). With `secure` (the relay's end of a browser's stream),
    the stream is DTLS-SRTP after ICE, RTP and RTCP on one port."""
    codecs = tuple(codecs)
    profile = SECURE_PROFILE if secure is not None else "RTP/AVP"
    session, version = origin or (next(_session_ids), 1)
    family = "IP6" if ":" in address else "IP4"
    lines = [
        "v=0",
        f"o=callyard {session} {version} IN {family} {address}",
        "s=callyard",
        f"c=IN {family} {address}",
        "t=0 0",
        f"m=audio {port} {profile} {' '.join(str(c.payload_type) for c in codecs)}",
    ]
    for codec in codecs:
        lines.append(f"a=rtpmap:{codec.payload_type} {codec.name}/{codec.rate}")
        if codec.parameters:
            lines.append(f"a=fmtp:{codec.payload_type} {codec.parameters}")
    lines += ["a=ptime:20", f"a={direction}"]
    if secure is not None:
        lines += [
            "a=rtcp-mux",
            "a=ice-lite",
            f"a=ice-ufrag:{secure.ice_ufrag}",
            f"a=ice-pwd:{secure.ice_pwd}",
            *(f"a=candidate:{candidate}" for candidate in secure.candidates),
            f"a=setup:{secure.setup}",
            f"a=fingerprint:{secure.fingerprint}",
        ]
    return "\r\n".join(lines) + "\r\n"


def relayed(codecs: Iterable[Codec]) -> tuple[Codec, ...]:
    """The codecs among `codecs` the relay carries, in their order."""
    return tuple(codec for codec in codecs if codec.key in RELAYED)


def has_audio(codecs: Iterable[Codec]) -> bool:
    """Whether a voice codec is among `codecs`."""
    return any(codec.is_audio for codec in codecs)


def shared(codecs: Iterable[Codec], other: Iterable[Codec]) -> tuple[Codec, ...]:
    """The codecs of `codecs` that `other` has too (by name and rate), in the order and
    numbering of `codecs`."""
    keys = {codec.key for codec in other}
    return tuple(codec for codec in codecs if codec.key in keys)


def first_voice(codecs: Iterable[Codec]) -> tuple[Codec, ...]:
    """The first voice codec of `codecs` with those that are not voice (DTMF events), in
    their order: an answer that leaves the other side one voice codec to send."""
    codecs = tuple(codecs)
    voice = next((codec for codec in codecs if codec.is_audio), None)
    return tuple(codec for codec in codecs if codec is voice or not codec.is_audio)


def answer_direction(offered: str) -> str:
    """The direction that answers an offer's (a hold is answered recvonly or inactive)."""
    return _ANSWER_DIRECTION[offered]


# Bounds on what the switch takes from an SDP body; a body past them is malformed.
MAX_LINE = 1024  # characters in one line
MAX_PAYLOAD_TYPES = 32  # formats of one media line
_MEDIA = re.compile(r"m=audio ([0-9]+) (RTP/AVPF?|UDP/TLS/RTP/SAVPF?) ([0-9 ]+)")
_CONN = re.compile(r"c=IN IP[46] (\S+)")
_RTPMAP = re.compile(r"a=rtpmap:([0-9]{1,3}) ([A-Za-z0-9_.+-]{1,32})/([0-9]{1,6})(?:/[0-9]{1,2})?")
_FMTP = re.compile(r"a=fmtp:([0-9]{1,3}) (.*)")


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
        stream = _stream(media.group(1), media.group(3))
        if stream is None:
            return None
        port, payload_types = stream
        if port == 0:
            continue  # a rejected stream
        section = lines[start + 1 : end]
        # Media-level c= and direction lines override the session-level ones.
        has_own = any(line.startswith("c=") for line in section)
        address = _connection(section if has_own else session)
        if address is None:
            return None
        direction = _direction(section) or _direction(session) or SENDRECV
        codecs = _codecs(payload_types, section)
        if not media.group(2).startswith("UDP/TLS/"):
            return MediaOffer(address, port, codecs, direction)
        secure = _secure(section, session)
        if secure is None:
            return None
        if ipaddress.ip_address(address).is_unspecified and secure.candidates:
            # Before its candidates were gathered a browser names no address.
            parts = secure.candidates[0].split()
            address, port = parts[4], int(parts[5])
        return MediaOffer(address, port, codecs, direction, secure)
    return None


_ICE_CANDIDATE = re.compile(r"\S+ [0-9]+ (\S+) [0-9]+ (\S+) [0-9]+ typ \S+.*")


def _secure(section: list[str], session: list[str]) -> SecureMedia | None:
    """A browser's DTLS and ICE: each attribute from the stream, else the session; None
    when one is missing. Only UDP candidates at IP addresses are kept (not TCP, not mDNS
    `.local` names, which the relay cannot reach)."""

    def attribute(name: str) -> str | None:
        prefix = f"a={name}:"
        for lines in (section, session):
            for line in lines:
                if line.startswith(prefix):
                    return line[len(prefix) :].strip()
        return None

    setup, fingerprint = attribute("setup"), attribute("fingerprint")
    ufrag, pwd = attribute("ice-ufrag"), attribute("ice-pwd")
    if not (setup and fingerprint and ufrag and pwd):
        return None
    candidates = []
    for line in section:
        if line.startswith("a=candidate:"):
            candidate = line[len("a=candidate:") :].strip()
            found = _ICE_CANDIDATE.fullmatch(candidate)
            if found is not None and found.group(1).lower() == "udp" and _is_ip(found.group(2)):
                candidates.append(candidate)
    ssrc = attribute("ssrc")
    return SecureMedia(
        setup, fingerprint, ufrag, pwd, tuple(candidates), ssrc.split()[0] if ssrc else None
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _stream(port: str, formats: str) -> tuple[int, tuple[int, ...]] | None:
    """The port and payload types of an m= line, None if out of bounds."""
    types = formats.split()
    if len(port) > 5 or int(port) > 65535 or not 0 < len(types) <= MAX_PAYLOAD_TYPES:
        return None
    if any(len(pt) > 3 or int(pt) > 127 for pt in types):
        return None
    return int(port), tuple(int(pt) for pt in types)


def _codecs(payload_types: tuple[int, ...], section: list[str]) -> tuple[Codec, ...]:
    """The stream's formats by name: from its a=rtpmap lines, else the static table; a
    dynamic number without a map names nothing the switch knows."""
    maps: dict[int, tuple[str, int]] = {}
    parameters: dict[int, str] = {}
    for line in section:
        if (found := _RTPMAP.fullmatch(line)) is not None:
            maps.setdefault(int(found.group(1)), (found.group(2), int(found.group(3))))
        elif (found := _FMTP.fullmatch(line)) is not None:
            parameters.setdefault(int(found.group(1)), found.group(2).strip())
    codecs = []
    for pt in payload_types:
        if pt in maps:
            name, rate = maps[pt]
            codecs.append(Codec(pt, name, rate, parameters.get(pt, "")))
        elif pt in _STATIC:
            codecs.append(_STATIC[pt])
        else:
            codecs.append(Codec(pt, f"unknown-{pt}", 0))
    return tuple(codecs)


def _direction(lines: list[str]) -> str | None:
    for line in lines:
        if line.startswith("a=") and line[2:] in DIRECTIONS:
            return line[2:]
    return None


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
