"""HTTP digest authentication for SIP (RFC 2617 / RFC 3261 section 22), server side.

Nonces are self-validating (time, randomness and an HMAC over both and the address
they were issued to), expire, and cannot be replayed: with `qop=auth` each use must
bring a higher nonce count, without qop a nonce is good for one request only. An
answer with a nonce not issued to its own source address tells nothing about the
password, and is not a failure: a forged source address cannot be made to fail.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?')


class Verdict(Enum):
    """Outcome of checking credentials."""

    OK = "ok"
    STALE = "stale"  # a nonce that has expired, or a good answer to one used: challenge again
    BAD = "bad"  # wrong password, wrong realm, malformed answer to a nonce of this source
    UNKNOWN = "unknown"  # a nonce not issued to this source (forged, another's): challenge


@dataclass(frozen=True)
class Credentials:
    """The parameters of an Authorization header."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None


def parse_authorization(value: str) -> Credentials | None:
    """Parse `Digest username="..", ...`; None when it is not a usable digest header."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _PARAM.finditer(rest)
    }
    try:
        return Credentials(
            username=params["username"],
            realm=params["realm"],
            nonce=params["nonce"],
            uri=params["uri"],
            response=params["response"].lower(),
            algorithm=params.get("algorithm", "MD5"),
            qop=params.get("qop"),
            nc=params.get("nc"),
            cnonce=params.get("cnonce"),
        )
    except KeyError:
        return None


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def expected_response(creds: Credentials, password: str, method: str) -> str:
    """The response a client knowing `password` sends (MD5, qop auth or none)."""
    ha1 = _md5(f"{creds.username}:{creds.realm}:{password}")
    ha2 = _md5(f"{method}:{creds.uri}")
    if creds.qop:
        return _md5(f"{ha1}:{creds.nonce}:{creds.nc}:{creds.cnonce}:{creds.qop}:{ha2}")
    return _md5(f"{ha1}:{creds.nonce}:{ha2}")


class DigestAuthority:
    """Issues challenges and checks answers for one realm.

    Remembers the highest nonce count of each nonce in use, until the nonce expires and
    at most `max_nonces` of them; a nonce forgotten early is stale from then on.
    """

    def __init__(
        self,
        realm: str,
        clock: Callable[[], float],
        nonce_ttl: float = 300.0,
        key: bytes | None = None,
        max_nonces: int = 100_000,
    ) -> None:
        self.realm = realm
        self._clock = clock
        self._nonce_ttl = nonce_ttl
        self._key = key or secrets.token_bytes(32)
        self._max_nonces = max_nonces
        # nonce -> (when it was issued, highest nonce count seen), in order of first use
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._forgotten_until = float("-inf")  # nonces issued up to then are stale

    @property
    def nonces_in_use(self) -> int:
        """How many nonces' counts are remembered."""
        return len(self._counts)

    def _mac(self, stamp: str, salt: str, ip: str) -> str:
        message = f"{stamp}.{salt}.{ip}".encode()
        return hmac.new(self._key, message, "sha256").hexdigest()[:24]

    def new_nonce(self, ip: str) -> str:
        """A nonce for a client at `ip` (valid only in answers from there)."""
        stamp = f"{int(self._clock() * 1000):x}"
        salt = secrets.token_hex(6)
        return f"{stamp}.{salt}.{self._mac(stamp, salt, ip)}"

    def challenge(self, ip: str, stale: bool = False) -> str:
        """A `WWW-Authenticate` / `Proxy-Authenticate` value for a client at `ip`."""
        header = (
            f'Digest realm="{self.realm}", nonce="{self.new_nonce(ip)}", algorithm=MD5, qop="auth"'
        )
        return header + (", stale=true" if stale else "")

    def _issued(self, nonce: str, ip: str) -> float | None:
        """When `nonce` was issued to `ip`; None if it was not (by this authority)."""
        try:
            stamp, salt, mac = nonce.split(".")
            if len(stamp) > 16:
                return None
            issued = int(stamp, 16) / 1000
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(stamp, salt, ip)):
            return None
        return issued

    def verify(self, creds: Credentials, password: str | None, method: str, ip: str) -> Verdict:
        """Check an answer from `ip`. `password` None (no such user) is checked like a
        wrong one. An expired nonce is STALE whatever the answer, so that it cannot be
        used to guess without counting."""
        issued = self._issued(creds.nonce, ip)
        if issued is None:
            return Verdict.UNKNOWN
        now = self._clock()
        if not 0 <= now - issued <= self._nonce_ttl or issued <= self._forgotten_until:
            return Verdict.STALE
        if creds.realm != self.realm or creds.algorithm.upper() != "MD5":
            return Verdict.BAD
        if creds.qop not in (None, "auth") or (creds.qop and not (creds.nc and creds.cnonce)):
            return Verdict.BAD
        if creds.nc is not None and not (
            len(creds.nc) <= 8 and all(c in "0123456789abcdefABCDEF" for c in creds.nc)
        ):
            return Verdict.BAD
        # Compute the digest even for unknown users so that timing tells nothing.
        expected = expected_response(creds, password or secrets.token_hex(16), method)
        if not hmac.compare_digest(expected, creds.response) or password is None:
            return Verdict.BAD
        count = int(creds.nc, 16) if creds.qop and creds.nc else 0
        seen = self._counts.get(creds.nonce)
        if seen is not None and count <= seen[1]:
            return Verdict.STALE  # replayed
        self._remember(creds.nonce, issued, count, now)
        return Verdict.OK

    def _remember(self, nonce: str, issued: float, count: int, now: float) -> None:
        if nonce in self._counts:
            self._counts[nonce] = (issued, count)
            return
        self._counts[nonce] = (issued, count)
        # In order of first use, which is within a nonce's lifetime: each expired one
        # goes at most one lifetime late.
        while self._counts:
            first_issued, _ = next(iter(self._counts.values()))
            if now - first_issued <= self._nonce_ttl and len(self._counts) <= self._max_nonces:
                break
            _, (dropped, _) = self._counts.popitem(last=False)
            if now - dropped <= self._nonce_ttl:
                self._forgotten_until = max(self._forgotten_until, dropped)
