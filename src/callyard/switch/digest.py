"""HTTP digest authentication for SIP (RFC 2617 / RFC 3261 section 22), server side.

Nonces are self-validating (time, randomness and an HMAC), expire, and cannot be
replayed: with `qop=auth` each use must bring a higher nonce count, without qop a
nonce is good for one request only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?')


class Verdict(Enum):
    """Outcome of checking credentials."""

    OK = "ok"
    STALE = "stale"  # a good answer to a nonce that has expired or was used: challenge again
    BAD = "bad"  # wrong password, wrong realm, forged nonce, malformed header


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
    """Issues challenges and checks answers for one realm."""

    def __init__(
        self,
        realm: str,
        clock: Callable[[], float],
        nonce_ttl: float = 300.0,
        key: bytes | None = None,
    ) -> None:
        self.realm = realm
        self._clock = clock
        self._nonce_ttl = nonce_ttl
        self._key = key or secrets.token_bytes(32)
        self._counts: dict[str, int] = {}  # nonce -> highest nonce count seen

    def _mac(self, stamp: str, salt: str) -> str:
        return hmac.new(self._key, f"{stamp}.{salt}".encode(), "sha256").hexdigest()[:24]

    def new_nonce(self) -> str:
        stamp = f"{int(self._clock() * 1000):x}"
        salt = secrets.token_hex(6)
        return f"{stamp}.{salt}.{self._mac(stamp, salt)}"

    def challenge(self, stale: bool = False) -> str:
        """A `WWW-Authenticate` / `Proxy-Authenticate` value."""
        header = (
            f'Digest realm="{self.realm}", nonce="{self.new_nonce()}", algorithm=MD5, qop="auth"'
        )
        return header + (", stale=true" if stale else "")

    def _nonce_age(self, nonce: str) -> float | None:
        try:
            stamp, salt, mac = nonce.split(".")
            issued = int(stamp, 16) / 1000
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(stamp, salt)):
            return None
        return self._clock() - issued

    def verify(self, creds: Credentials, password: str | None, method: str) -> Verdict:
        """Check an answer. `password` None (no such user) is checked like a wrong one."""
        age = self._nonce_age(creds.nonce)
        if age is None or creds.realm != self.realm or creds.algorithm.upper() != "MD5":
            return Verdict.BAD
        if creds.qop not in (None, "auth") or (creds.qop and not (creds.nc and creds.cnonce)):
            return Verdict.BAD
        if creds.nc is not None and not all(c in "0123456789abcdefABCDEF" for c in creds.nc):
            return Verdict.BAD
        # Compute the digest even for unknown users so that timing tells nothing.
        expected = expected_response(creds, password or secrets.token_hex(16), method)
        if not hmac.compare_digest(expected, creds.response) or password is None:
            return Verdict.BAD
        if age < 0 or age > self._nonce_ttl:
            return Verdict.STALE
        count = int(creds.nc, 16) if creds.qop and creds.nc else 0
        if creds.nonce in self._counts and count <= self._counts[creds.nonce]:
            return Verdict.STALE  # replayed
        self._counts[creds.nonce] = count
        self._forget_expired()
        return Verdict.OK

    def _forget_expired(self) -> None:
        if len(self._counts) < 4096:
            return
        for nonce in list(self._counts):
            age = self._nonce_age(nonce)
            if age is None or age > self._nonce_ttl:
                del self._counts[nonce]
