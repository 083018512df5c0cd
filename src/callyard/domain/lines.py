"""What services report about an extension's line, in callyard's own words."""

from __future__ import annotations

from enum import StrEnum


class LineCheck(StrEnum):
    """An extension as a status check finds it: whether the caller may use it, and
    whether its phone is registered."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    REGISTERED = "registered"  # enabled, and its phone is registered
    NOT_REGISTERED = "not_registered"  # enabled, but no phone is registered
    NOT_FOUND = "not_found"
    FOREIGN = "foreign"  # another company's extension


class LinePhase(StrEnum):
    """Where an extension's phone is in a call."""

    IDLE = "idle"  # registered, in no call
    RINGING = "ringing"  # a call was placed for it, nobody answered yet
    ANSWERED = "answered"  # the extension answered, the other party not yet
    TALKING = "talking"  # both parties are connected
