"""Credentials: access-key hashing, token generation and digests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

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

    def verify(self, secret: str, stored: str) -> bool:
        key = (stored, hashlib.sha256(secret.encode()).hexdigest())
        if key in self._seen:
            return True
        if not verify_secret(secret, stored):
            return False
        if len(self._seen) >= self._capacity:
            self._seen.pop(next(iter(self._seen)))
        self._seen[key] = None
        return True


def new_token() -> str:
    """A 32-hex-digit API token."""
    return secrets.token_hex(16)


def new_accesskey() -> str:
    return secrets.token_hex(16)


def new_appid() -> str:
    return "cy" + secrets.token_hex(8)


def new_sip_password(length: int = 12) -> str:
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def token_digest(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
