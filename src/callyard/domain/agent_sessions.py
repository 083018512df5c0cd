"""An agent's working session: signed in on a device, ready or not, offered calls,
talking, wrapping up. One state machine, its transitions in one table.

Every change is a `Step` from a closed vocabulary: what the agent asked for (sign in or
out, ready, not ready), what a queue decided (reserve the agent for a call, withdraw the
offer), and what its phone did (ring, answer, the customer answered, the call ended). A
step the table lacks for the status is refused and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class LoginType(StrEnum):
    """The device a session's calls reach."""

    SIP_PHONE = "sip_phone"  # the phone registered on the agent's extension
    MOBILE = "mobile"  # the agent's mobile, through the company's trunk
    WEBRTC = "webrtc"  # a browser phone registered on the agent's extension


class Status(StrEnum):
    """Where an agent stands."""

    SIGNED_OUT = "signed_out"
    SIGNED_IN = "signed_in"  # signed in, not ready yet
    IDLE = "idle"  # ready: a queue may offer it a call
    BUSY = "busy"  # not ready, for a reason (`busy_type`)
    RESERVED = "reserved"  # chosen for a queued call; its phone is about to ring
    RINGING = "ringing"  # its phone rings: an offered call, or the first leg of its own call
    DIALING = "dialing"  # it answered its own call; the customer is being called
    TALKING = "talking"
    WRAP_UP = "wrap_up"  # after a call, before it is ready again


class Step(StrEnum):
    """What can happen to an agent's session."""

    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RESERVE = "reserve"  # a queue picked the agent for a caller
    RING = "ring"  # the agent's phone is being rung
    ANSWER_OFFER = "answer_offer"  # the agent answered an offered call: talking
    ANSWER_OWN = "answer_own"  # the agent answered its own call's first leg: dialing
    CONNECT = "connect"  # the customer of the agent's own call answered
    RELEASE = "release"  # the call or offer ended before anyone talked
    MISS = "miss"  # the agent did not take an offered call
    HANG_UP = "hang_up"  # a call the agent talked in ended
    RESUME = "resume"  # wrap-up time is over


class Resume(StrEnum):
    """A step's destination that depends on what the agent chose last (ready or not)."""

    CHOSEN = "chosen"


Target = Status | Resume

_OFF_CALL = (Status.SIGNED_IN, Status.IDLE, Status.BUSY, Status.WRAP_UP)

TRANSITIONS: Mapping[Status, Mapping[Step, Target]] = MappingProxyType(
    {
        Status.SIGNED_OUT: {Step.SIGN_IN: Status.SIGNED_IN},
        Status.SIGNED_IN: {
            Step.SIGN_OUT: Status.SIGNED_OUT,
            Step.READY: Status.IDLE,
            Step.NOT_READY: Status.BUSY,
            Step.RING: Status.RINGING,
        },
        Status.IDLE: {
            Step.SIGN_OUT: Status.SIGNED_OUT,
            Step.READY: Status.IDLE,
            Step.NOT_READY: Status.BUSY,
            Step.RESERVE: Status.RESERVED,
            Step.RING: Status.RINGING,
        },
        Status.BUSY: {
            Step.SIGN_OUT: Status.SIGNED_OUT,
            Step.READY: Status.IDLE,
            Step.NOT_READY: Status.BUSY,
            Step.RING: Status.RINGING,
        },
        Status.RESERVED: {
            Step.SIGN_OUT: Status.SIGNED_OUT,  # the offer is withdrawn first
            Step.RING: Status.RINGING,
            Step.RELEASE: Resume.CHOSEN,
            Step.MISS: Status.BUSY,
        },
        Status.RINGING: {
            Step.SIGN_OUT: Status.SIGNED_OUT,
            Step.ANSWER_OFFER: Status.TALKING,
            Step.ANSWER_OWN: Status.DIALING,
            Step.RELEASE: Resume.CHOSEN,
            Step.MISS: Status.BUSY,
        },
        Status.DIALING: {
            Step.CONNECT: Status.TALKING,
            Step.RELEASE: Resume.CHOSEN,
        },
        Status.TALKING: {Step.HANG_UP: Status.WRAP_UP},
        Status.WRAP_UP: {
            Step.SIGN_OUT: Status.SIGNED_OUT,
            Step.READY: Status.IDLE,
            Step.NOT_READY: Status.BUSY,
            Step.RESUME: Resume.CHOSEN,
            Step.RING: Status.RINGING,
        },
    }
)


def after(status: Status, step: Step, ready: bool) -> Status | None:
    """The status `step` leads to from `status`; None when the table lacks it. `ready`:
    what the agent chose last (ready, else not), where the step resumes that."""
    target = TRANSITIONS.get(status, {}).get(step)
    if target is None or isinstance(target, Status):
        return target
    return Status.IDLE if ready else Status.BUSY


def in_call(status: Status) -> bool:
    """Whether a call involves the agent (offered, ringing, dialing or talking)."""
    return status not in _OFF_CALL and status is not Status.SIGNED_OUT


def takes_offers(status: Status) -> bool:
    """Whether a queue may offer the agent a call now."""
    return status is Status.IDLE
