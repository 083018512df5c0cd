"""What kind of call a call is, and which way it goes."""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    OUTBOUND = "outbound"  # to a number outside, through a trunk
    INBOUND = "inbound"  # from a carrier, to one of the company's numbers
    INTERNAL = "internal"  # between two of the company's extensions


class CallKind(StrEnum):
    """How a call came to be."""

    INTERNAL = "internal"  # a phone dialed another extension
    PHONE_OUTBOUND = "phone_outbound"  # a phone dialed a number outside
    PBX_OUTBOUND = "pbx_outbound"  # a company's own PBX sent it out through callyard
    CLICK_TO_CALL = "click_to_call"  # the API rang an extension, then the number
    TWO_WAY = "two_way"  # the API rang two numbers and joined them
    PREDICTIVE = "predictive"  # a task's dialer called a number for its agents
    VOICE_MESSAGE = "voice_message"  # a message spoken to a number (voice codes)
    INBOUND_EXTENSION = "inbound_extension"  # a carrier's call to a number routed to an extension
    INBOUND_GROUP = "inbound_group"  # a carrier's call to a number routed to a group

    @property
    def direction(self) -> Direction:
        if self in (CallKind.INBOUND_EXTENSION, CallKind.INBOUND_GROUP):
            return Direction.INBOUND
        if self is CallKind.INTERNAL:
            return Direction.INTERNAL
        return Direction.OUTBOUND

    @property
    def answered_before_bridge(self) -> bool:
        """The call counts as answered before it is bridged: it starts with the customer
        (a task's calls, a spoken message), or a carrier's call an extension answers."""
        return self in (
            CallKind.PREDICTIVE,
            CallKind.VOICE_MESSAGE,
            CallKind.INBOUND_EXTENSION,
            CallKind.INBOUND_GROUP,
        )
