"""Integer codes that carry the message their API documents with them."""

from __future__ import annotations

from enum import IntEnum
from typing import Self


class MessageCode(IntEnum):
    """An integer code carrying the documented message."""

    message: str

    def __new__(cls, value: int, message: str) -> MessageCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.message = message
        return member

    @classmethod
    def lookup(cls, value: int) -> Self:
        """The member with this code; ValueError if there is none."""
        return cls(value)  # type: ignore[call-arg]
