"""Credentials: access-key hashing, token generation and digests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

_SCHEME = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 120_000


def hash_secret(secret: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """A salted PBKDF2-SHA256 hash, as `pbkdf2_sha256$iterations$salt$digest`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations)
    return "$".join(
        (_SCHEME, str(iterations), _b64(salt), _b64(digest)),
    )


def verify_secret(secret: str, stored: str) -> bool:
    """Whether `secret` matches a hash made by :func:`hash_secret`."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        computed = hashlib.pbkdf2_hmac("sha256", secret.encode(), _unb64(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(computed, _unb64(digest))


class VerifiedSecrets:
    """Remembers recent successful verifications so repeated logins skip the KDF.

    Only a SHA-256 of the secret is held, in memory, tied to the stored hash it was
    checked against: a changed key invalidates the entry.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._seen: dict[tuple[str, str], None] = {}

    @staticmethod
    def _key(secret: str, stored: str) -> tuple[str, str]:
        return stored, hashlib.sha256(secret.encode()).hexdigest()

    def known(self, secret: str, stored: str) -> bool:
        """Whether `secret` was verified against `stored` lately."""
        return self._key(secret, stored) in self._seen

    def remember(self, secret: str, stored: str) -> None:
        """`secret` was just verified against `stored`."""
        if len(self._seen) >= self._capacity:
            self._seen.pop(next(iter(self._seen)))
        self._seen[self._key(secret, stored)] = None


def new_token() -> str:
    """A 32-hex-digit API token."""
    return secrets.token_hex(16)


def new_accesskey() -> str:
    return secrets.token_hex(16)


def new_appid() -> str:
    return "cy" + secrets.token_hex(8)


def new_sip_password(length: int = 12) -> str:
    """A random SIP password that :func:`sip_password_weakness` finds nothing wrong with."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if sip_password_weakness(password) is None:
            return password


# Words that dictionary attacks on SIP accounts try first, with digits and symbols around.
_COMMON_WORDS = frozenset(
    {
        "password", "passwd", "pass", "secret", "admin", "administrator", "root", "sip",
        "voip", "phone", "asterisk", "freeswitch", "callyard", "qwerty", "qwertz", "azerty",
        "letmein", "welcome", "test", "guest", "user", "default", "changeme", "abc", "abcd",
        "abcdef", "iloveyou", "monkey", "dragon", "master", "login",
    }
)  # fmt: skip
MIN_SIP_PASSWORD = 8


def sip_password_weakness(password: str, numbers: Iterable[str] = ()) -> str | None:
    """Why `password` is too easy to guess for the extensions `numbers`, or None."""
    if len(password) < MIN_SIP_PASSWORD:
        return f"shorter than {MIN_SIP_PASSWORD} characters"
    kinds = (str.islower, str.isupper, str.isdigit)
    used = {i for c in password for i, kind in enumerate(kinds) if kind(c)}
    if any(not (c.islower() or c.isupper() or c.isdigit()) for c in password):
        used.add(len(kinds))
    if len(used) < 2:
        return "made of one kind of character (use letters and digits, or symbols)"
    if len(set(password)) < 4:
        return "fewer than 4 different characters"
    if any(number and number in password for number in numbers):
        return "contains the extension number"
    word = "".join(c for c in password.lower() if c.isalpha())
    if word in _COMMON_WORDS:
        return f"a common word ({word}) with digits or symbols"
    return None


def token_digest(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
