"""Commands services give the switch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One party to call: where to send the INVITE and as whom."""

    address: tuple[str, int]  # next hop: a phone's registered source, or a trunk
    user: str  # the Request-URI user: an extension or a phone number
    caller_id: str  # the From user shown to the party
    ring_timeout: float
    username: str | None = None  # credentials for a trunk that challenges (401/407)
    password: str | None = None


@dataclass(frozen=True)
class Bridge:
    """Call `first`; once it answers, call `second` and connect them (click-to-call, two-way)."""

    call_id: str
    first: Target
    second: Target
    record: bool = True


@dataclass(frozen=True)
class Connect:
    """Put a phone's incoming call through to `target`."""

    call_id: str
    target: Target
    record: bool = True


@dataclass(frozen=True)
class Reject:
    """Refuse a phone's incoming call with a SIP final response."""

    call_id: str
    status: int
    reason: str
    cause: int  # the HangupCode the call record gets


@dataclass(frozen=True)
class Hangup:
    call_id: str


Command = Bridge | Connect | Reject | Hangup
