"""Live state of extensions, as reported by the switch."""

from __future__ import annotations

from typing import Protocol


class Presence(Protocol):
    """What services ask the switch about an extension."""

    def is_registered(self, number: str) -> bool:
        """Whether the extension has a live SIP registration."""
        ...

    def is_answered(self, number: str) -> bool:
        """Whether the extension is in an answered call."""
        ...


class NoSwitch:
    """Presence when no switch runs: nothing is registered, nothing is in a call."""

    def is_registered(self, number: str) -> bool:
        return False

    def is_answered(self, number: str) -> bool:
        return False
