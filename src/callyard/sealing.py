"""Secrets callyard must be able to read back (a dialect's signing secret), sealed at rest
with a server key: AES-256-GCM, a random 96-bit nonce per secret, the row's identity as
associated data so a sealed value cannot be moved to another row."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class Unsealable(Exception):
    """A sealed value that this key cannot open (another key, altered, another row)."""


class SecretBox:
    """Seals and opens secrets with one server key (any text: it is hashed to 256 bits)."""

    def __init__(self, server_key: str) -> None:
        self._aead = AESGCM(hashlib.sha256(server_key.encode()).digest())

    def seal(self, secret: str, context: str) -> str:
        """`v1.<nonce>.<ciphertext>`, base64url, bound to `context`."""
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), context.encode())
        return ".".join((_VERSION, _b64(nonce), _b64(sealed)))

    def open(self, sealed: str, context: str) -> str:
        try:
            version, nonce, body = sealed.split(".")
            if version != _VERSION:
                raise ValueError(version)
            return self._aead.decrypt(_unb64(nonce), _unb64(body), context.encode()).decode()
        except (ValueError, InvalidTag) as exc:
            raise Unsealable("sealed secret cannot be opened with this server key") from exc


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
