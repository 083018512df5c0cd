"""The signature every webhook request carries, and its check for Python receivers."""

from __future__ import annotations

import hashlib
import hmac

from callyard import __version__

SCHEME = "v1"
DEFAULT_TOLERANCE = 300  # seconds a receiver accepts a timestamp for

EVENT_ID_HEADER = "X-Callyard-Event-Id"
EVENT_HEADER = "X-Callyard-Event"
TIMESTAMP_HEADER = "X-Callyard-Timestamp"
SIGNATURE_HEADER = "X-Callyard-Signature"
USER_AGENT = f"callyard/{__version__}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=` and the hex HMAC-SHA256, keyed by the secret, of `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def headers(event_id: str, kind: str, timestamp: int, secret: str, body: bytes) -> dict[str, str]:
    """The headers of one delivery attempt."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event_id,
        EVENT_HEADER: kind,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(
    secret: str,
    timestamp: str,
    signature_header: str,
    body: bytes,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> bool:
    """True when the signature is the secret's over this timestamp and body, and the
    timestamp is within `tolerance` seconds of `now` (a replayed request is refused)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    expected = signature(secret, int(timestamp), body)
    return hmac.compare_digest(expected.encode(), signature_header.strip().encode())
