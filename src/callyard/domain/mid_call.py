"""The middle of a call: what an agent or its supervisor may do to a call in progress,
how each request comes out, and the part each agent takes in the call.

An agent talking to a customer may put it on hold, mute itself, hand the call over
(transfer: at once, or once the new party answers), consult another party while the
customer waits, hand the call to the party consulted, or talk with both. A supervisor
may listen to an agent's call, whisper to the agent, barge in, take the call over
(intercept), or end it. Each request comes out in phases: a party is being called,
the request is done, or it failed (and nothing changed).
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """A request in the middle of a call."""

    HOLD = "hold"
    UNHOLD = "unhold"
    MUTE = "mute"
    UNMUTE = "unmute"
    TRANSFER = "transfer"
    TRANSFER_CANCEL = "transfer_cancel"
    CONSULT = "consult"
    CONSULT_CANCEL = "consult_cancel"
    CONSULT_TRANSFER = "consult_transfer"
    THREE_WAY = "three_way"
    CONSULTED_LEFT = "consulted_left"  # the party consulted hung up (not a request)
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"
    INTERCEPT = "intercept"
    FORCE_RELEASE = "force_release"


class Phase(StrEnum):
    """How far a request has come."""

    CALLING = "calling"  # the party it needs is being called
    DONE = "done"
    FAILED = "failed"


class Part(StrEnum):
    """The part an agent takes in a call (the events' `callType`)."""

    NORMAL = "normal"  # it took or placed the call
    CONSULT = "consult"  # it was consulted
    TRANSFER = "transfer"  # the call was handed to it
    LISTEN = "listen"  # a supervisor listening
    WHISPER = "whisper"  # a supervisor heard by the agent alone
    BARGE = "barge"  # a supervisor talking with both
    INTERCEPT = "intercept"  # a supervisor who took the call over


class TargetKind(StrEnum):
    """Who a transfer or a consult goes to."""

    AGENT = "agent"  # an agent, by work number
    NUMBER = "number"  # a phone number, through the company's trunk
    GROUP = "group"  # a skill group: its queue, or one of its ready agents
    IVR = "ivr"  # a voice menu


# A supervisor's part in an agent's call, by what it asked.
MONITORING = {
    Action.LISTEN: Part.LISTEN,
    Action.WHISPER: Part.WHISPER,
    Action.BARGE: Part.BARGE,
    Action.INTERCEPT: Part.INTERCEPT,
}
