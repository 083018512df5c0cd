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
class Answer:
    """Answer a caller held on a queued number (200 OK with the relay's SDP); reported as
    LegAnswered of the customer's leg. A caller already answered stays as it is."""

    call_id: str


@dataclass(frozen=True)
class Attach:
    """Put a held customer (a Dial's, or a caller to a queued number, answered or not)
    through to `target` (an agent's phone). If that leg fails the call is held again
    (LegFailed), for another Attach, a Play or a Hangup."""

    call_id: str
    target: Target


@dataclass(frozen=True)
class Detach:
    """Withdraw a held customer's offer: the agent's phone ringing for it stops ringing
    (LegFailed, cause cancelled) and the customer is held again."""

    call_id: str


@dataclass(frozen=True)
class Play:
    """Play a prompt to a held, answered customer: once, then hang up when
    `hangup_after` (else keep the call held); or, with `repeat`, over and over until
    something else happens (an agent answers, another Play, a hangup), the call held.

    `prompt` is the prompt's base path: the relay reads `<prompt>.0` (raw μ-law) or
    `<prompt>.8` (raw A-law), whichever the customer's codec needs (`relay.prompt_file`).
    """

    call_id: str
    prompt: Path
    hangup_after: bool = True  # a prompt that repeats never ends: the call stays held
    repeat: bool = False


@dataclass(frozen=True)
class Hangup:
    """End a call. A held caller never answered is refused with `status` (a SIP final
    response, 480 when None) and the call ends with its cause; an answered party gets a
    BYE and `status` does not apply."""

    call_id: str
    status: int | None = None


@dataclass(frozen=True)
class Hold:
    """Put a bridged call's customer on hold: the customer hears `music` (a prompt's base
    path, as Play names it) over and over, and nobody on the call hears the customer."""

    call_id: str
    music: Path


@dataclass(frozen=True)
class Resume:
    """Take the customer off hold: what the call's parties say reaches it again."""

    call_id: str


@dataclass(frozen=True)
class Mute:
    """Stop (or, `muted` False, restore) what leg `leg` says reaching anyone on the call."""

    call_id: str
    leg: str
    muted: bool = True


@dataclass(frozen=True)
class Release:
    """Every party of a bridged call but the customer leaves (hung up); the customer is
    held, hearing `music` over and over if given, for an Attach, a Play or a Hangup."""

    call_id: str
    music: Path | None = None


@dataclass(frozen=True)
class Invite:
    """Call `target` into a bridged call as leg `leg` (a party consulted, a supervisor);
    the call's parties are mixed from then on, each hearing every other party that it
    may hear: the new leg is heard by the legs `heard_by` names (None: by everyone; an
    empty set: by nobody, a supervisor listening). The leg reports LegCalling,
    LegRinging, LegAnswered, or LegFailed; the call goes on whatever it does."""

    call_id: str
    leg: str
    target: Target
    heard_by: frozenset[str] | None = None


@dataclass(frozen=True)
class Hearing:
    """Who hears leg `leg` of a mixed call from now on: the legs `heard_by` names, or
    everyone (None)."""

    call_id: str
    leg: str
    heard_by: frozenset[str] | None = None


@dataclass(frozen=True)
class Drop:
    """Leg `leg` (not the customer's) leaves a call that goes on: hung up, or its ringing
    cancelled; reported LegEnded (LegFailed for a leg that never answered)."""

    call_id: str
    leg: str


class CallStateError(RuntimeError):
    """The call is not in a state that takes this command (not a held customer, an agent
    already attached, ...)."""


MID_CALL = (Hold, Resume, Mute, Release, Invite, Hearing, Drop)
MidCall = Hold | Resume | Mute | Release | Invite | Hearing | Drop
Command = (
    Bridge
    | Dial
    | Answer
    | Attach
    | Detach
    | Play
    | Hangup
    | Hold
    | Resume
    | Mute
    | Release
    | Invite
    | Hearing
    | Drop
)
