"""A group's way of choosing which of its idle agents is offered a call."""

from __future__ import annotations

from enum import StrEnum


class RingPolicy(StrEnum):
    """How a group picks the agent offered its next call, among the idle ones."""

    ROUND_ROBIN = "round_robin"  # the one after the agent offered the last call
    RANDOM = "random"
    LONGEST_IDLE = "longest_idle"  # the one free for the longest time
    BY_LEVEL = "by_level"  # the highest level first (then the longest idle)
    FEWEST_ANSWERED = "fewest_answered"  # the one who answered fewest calls today


class Overflow(StrEnum):
    """Where a queued caller goes when the queue is full or the caller has waited the
    longest it may."""

    HANG_UP = "hang_up"  # hear the overflow message (if any), then the call ends
    GROUP = "group"  # join another group's queue
    NUMBER = "number"  # be put through to a number, through the company's trunk
