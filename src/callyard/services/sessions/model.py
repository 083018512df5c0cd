"""A live session, the views of it services and dialects read, and the notices it
publishes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum

from callyard.domain.agent_sessions import LoginType, Status
from callyard.domain.agents import AgentRole
from callyard.domain.calls import Direction
from callyard.domain.hangups import EndReason, Party
from callyard.domain.mid_call import Action, Part, Phase

# Why callyard itself made an agent not ready (its own busy types beside the agents').
MISSED_OFFER = "missed"  # did not answer a call offered to it
PHONE_LOST = "phone"  # its phone's registration ended
SIGNED_IN_TYPE = ""  # signed in, never made ready or not ready yet


@dataclass(frozen=True)
class GroupRef:
    """A group an agent takes calls of."""

    group_id: int
    sn: str
    name: str
    home: bool


@dataclass
class SessionCall:
    """The call an agent is in, as its session follows it (wall times in epoch ms)."""

    call_id: str
    leg: str  # the switch's leg that reaches the agent
    direction: Direction  # inbound: offered to the agent; outbound: the agent's own
    caller: str
    called: str
    sequence: int  # the request that placed it (0: not placed by a request)
    user_data: str = ""
    predictive: bool = False
    queued_at_ms: int = 0  # when the caller entered a queue (0: never queued)
    begin_ms: int = 0
    ring_ms: int = 0  # the agent's phone rang
    called_ring_ms: int = 0  # the customer's phone rang (the agent's own call)
    answer_ms: int = 0  # both parties talking
    talked: bool = False
    part: Part = Part.NORMAL  # how the agent takes part in the call
    held: bool = False  # the agent put the customer on hold
    muted: bool = False


@dataclass
class AgentSession:
    """One agent's session, as it stands now (monotonic seconds, wall epoch ms)."""

    agent_id: int
    agent_sn: str
    company_id: int
    company_code: int
    number: str  # the agent's work number
    name: str
    extension: str
    extension_id: int
    mobile: str  # where its calls go when it signed in on its mobile
    sip_password: str
    role: AgentRole
    login_type: LoginType
    token_hash: str
    token: str  # the token itself, known to this process since it was given or used
    status: Status
    ready: bool  # what the agent chose last: ready, or not
    busy_type: str
    since: float
    since_ms: int
    signed_in_ms: int
    groups: tuple[GroupRef, ...]
    auto_idle_seconds: float | None  # after a call: ready again after this; None: stays
    agent_makes_calls: bool
    call: SessionCall | None = None
    last_seen: float = 0.0  # its last request, heartbeat or socket message
    sockets: int = 0  # sockets open for it
    wrap_up_timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    @property
    def on_phone(self) -> bool:
        """Whether its calls reach the phone registered on its extension."""
        return self.login_type is not LoginType.MOBILE


@dataclass(frozen=True)
class SessionView:
    """A session as notices and listings show it."""

    key: str  # which session of the agent: its token's digest
    agent_id: int
    agent_sn: str
    company_id: int
    company_code: int
    number: str
    name: str
    extension: str
    role: AgentRole
    login_type: LoginType
    status: Status
    busy_type: str
    since_ms: int
    signed_in_ms: int
    groups: tuple[GroupRef, ...]
    registered: bool
    peer: str  # the other party of its call ("" when none)
    direction: Direction | None  # of its call (None when none)


class Notice(StrEnum):
    """What a session tells its agent's desktop and its company's systems."""

    SIGNED_IN = "signed_in"
    RESUMED = "resumed"
    SIGNED_OUT = "signed_out"
    KICKED = "kicked"  # signed in elsewhere
    READY = "ready"
    NOT_READY = "not_ready"
    RESERVED = "reserved"  # chosen for a queued caller
    CALL_PLACED = "call_placed"  # a call request was accepted
    CALL_FAILED = "call_failed"  # a call request failed before anyone talked
    CALL_CANCELLED = "call_cancelled"
    CALLING_AGENT = "calling_agent"  # the agent's own call is ringing its phone
    RINGING = "ringing"  # the agent's phone rings
    ANSWERED = "answered"  # the agent answered
    CUSTOMER_RINGING = "customer_ringing"
    CUSTOMER_ANSWERED = "customer_answered"
    TALKING = "talking"
    WRAP_UP = "wrap_up"  # the call ended; `detail` is a CallSummary
    PHONE_LOST = "phone_lost"
    FAILED = "failed"  # a request could not be carried out; `detail` is its reason
    AGENTS = "agents"  # a supervisor's listing; `detail` is tuple[SessionView, ...]
    IDLE_AGENTS = "idle_agents"  # `detail` is tuple[SessionView, ...]
    GROUPS = "groups"  # `detail` is tuple[GroupRef, ...]
    QUEUE = "queue"  # `detail` is a QueueView
    MID_CALL = "mid_call"  # a request in the middle of a call; `detail` is a MidCallOutcome


@dataclass(frozen=True)
class SignInFacts:
    """What a signed-in agent's phone and desktop need."""

    token: str
    sip_domain: str
    sip_password: str
    agent_makes_calls: bool
    sip_websocket: str | None = None  # where a browser's soft phone registers


@dataclass(frozen=True)
class CallSummary:
    """A finished call of an agent, for its wrap-up notice."""

    reason: EndReason
    sip_status: int | None
    rang: bool  # the party whose leg ended it had rung
    by_agent: bool  # the agent's side ended it
    recording_link: str  # "" when not recorded
    auto_idle_seconds: float | None
    ended_ms: int


@dataclass(frozen=True)
class WaitingCall:
    """A caller waiting in a group's queue, as agents are shown it."""

    caller: str
    called: str
    queued_ms: int  # when it entered, epoch ms


@dataclass(frozen=True)
class QueueView:
    """A group's queue now, and whether the agent asking takes its calls."""

    group: GroupRef
    waiting: tuple[WaitingCall, ...]
    member: bool


@dataclass(frozen=True)
class MidCallOutcome:
    """How a request in the middle of a call came out (or how far it has come)."""

    action: Action
    phase: Phase
    cause: str = ""  # why it failed
    part: Part = Part.NORMAL  # the part the party it called takes (a consult, ...)


@dataclass(frozen=True)
class AgentNotice:
    """One change of an agent's session, with what the change carries."""

    kind: Notice
    agent: SessionView
    sequence: int  # the request it answers; 0 when nobody asked
    at_ms: int
    call: SessionCall | None = None  # a copy, as it stood
    detail: object = None


def party_is_agent(by: Party, agent_leg_first: bool) -> bool:
    """Whether the side that ended a call is the agent's, given whether the agent's leg
    is the call's first party."""
    return (by is Party.CALLER) == agent_leg_first
