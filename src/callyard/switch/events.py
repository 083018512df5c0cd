"""The closed vocabulary of events the switch reports, each with a monotonic timestamp."""

from __future__ import annotations

from dataclasses import dataclass

from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party

# The legs of a call, as LegRinging, LegAnswered and LegFailed name them.
AGENT_LEG, CUSTOMER_LEG = "agent", "customer"


@dataclass(frozen=True)
class Registered:
    at: float
    number: str
    company_id: int
    source: tuple[str, int]


@dataclass(frozen=True)
class Unregistered:
    at: float
    number: str
    company_id: int
    reason: str  # "unregistered", "expired", "disabled"


@dataclass(frozen=True)
class LegCalling:
    """The switch sent an INVITE to `number` as leg `leg` of a call (a call's first
    party, the next extension of a group, a transfer's target)."""

    at: float
    call_id: str
    leg: str
    number: str


@dataclass(frozen=True)
class LegRinging:
    """A leg of a call got a provisional answer with ringing (180/183)."""

    at: float
    call_id: str
    leg: str  # "agent" or "customer"


@dataclass(frozen=True)
class LegAnswered:
    at: float
    call_id: str
    leg: str


@dataclass(frozen=True)
class LegFailed:
    """A leg that does not end its call failed: an agent's phone attached to a held
    customer (a Dial's, a queued caller) was busy, declined, did not answer in time or
    could not be reached. The call is held again."""

    at: float
    call_id: str
    leg: str  # "agent"
    cause: EndReason
    sip_status: int | None  # the final response that ended the leg, if any


@dataclass(frozen=True)
class LegEnded:
    """A leg that had answered left a call that goes on (a party consulted, a supervisor,
    an agent who handed the call over): its party hung up (`by_party`) or services
    dropped it."""

    at: float
    call_id: str
    leg: str
    by_party: bool


@dataclass(frozen=True)
class LegHeld:
    """A leg's phone put a bridged call on hold (a re-INVITE sendonly or inactive), or
    took it off (`held` False): services choose what the others hear meanwhile."""

    at: float
    call_id: str
    leg: str
    held: bool


@dataclass(frozen=True)
class CallBridged:
    """Both parties answered and media flows between them through the relay."""

    at: float
    call_id: str


@dataclass(frozen=True)
class CallEnded:
    at: float
    call_id: str
    cause: EndReason
    by: Party  # the side that ended it: the call's first party, or the other
    sip_status: int | None  # the final response that ended an unanswered leg, if any
    captures: tuple[str, str] | None  # relay capture files (from agent, from customer)


@dataclass(frozen=True)
class IncomingCall:
    """A registered phone dialed `dialed`, or a carrier called one of a company's numbers
    (`from_carrier`). The switch routed it already: it calls the destination, or refuses
    the call (CallEnded follows); or, for a queued number (`queued`), it holds the caller
    (ringing) for services' commands: Answer, Attach, Play, Hangup."""

    at: float
    call_id: str
    company_id: int
    caller: str  # the calling extension, or the number a carrier's call comes from
    dialed: str
    kind: CallKind  # a phone's call: internal or phone_outbound; a carrier's:
    # inbound_extension or inbound_group
    caller_id: str  # the number shown to the destination ("" when refused before a pick)
    from_carrier: bool = False
    user_data: str = ""  # what a company's PBX sent to be echoed back (its X-User-Data)
    queued: bool = False  # held for services to distribute (the caller is the customer leg)


CallEvent = (
    IncomingCall
    | LegCalling
    | LegRinging
    | LegAnswered
    | LegFailed
    | LegEnded
    | LegHeld
    | CallBridged
    | CallEnded
)
SwitchEvent = Registered | Unregistered | CallEvent
