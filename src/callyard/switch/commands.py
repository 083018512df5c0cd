"""Commands services give the switch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
class Dial:
    """Call one party (a customer through a trunk); once it answers the call is held
    until an Attach, a Play or a Hangup (predictive dialing, voice notifications)."""

    call_id: str
    target: Target
    record: bool = True


@dataclass(frozen=True)
class Attach:
    """Put a held Dial through to `target` (an agent's phone). If that leg fails the call
    is held again (LegFailed), for another Attach or a Play."""

    call_id: str
    target: Target


@dataclass(frozen=True)
class Play:
    """Play a prompt to a held Dial's customer; hang up once it has played when
    `hangup_after`, else keep the call held.

    `prompt` is the prompt's base path: the relay reads `<prompt>.0` (raw μ-law) or
    `<prompt>.8` (raw A-law), whichever the customer's codec needs (`relay.prompt_file`).
    """

    call_id: str
    prompt: Path
    hangup_after: bool = True


@dataclass(frozen=True)
class Hangup:
    call_id: str


class CallStateError(RuntimeError):
    """The call is not in a state that takes this command (not a held Dial, an agent
    already attached, ...)."""


Command = Bridge | Dial | Attach | Play | Hangup
