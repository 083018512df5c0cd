"""Live state of extensions, as reported by the switch."""

from __future__ import annotations

from typing import Protocol

from callyard.switch.registrar import Registration

__all__ = ["NoSwitch", "Presence", "Registration"]


class Presence(Protocol):
    """What services ask the switch about an extension."""

    def registration(self, number: str) -> Registration | None:
        """The extension's live registration, if it has one."""
        ...


class NoSwitch:
    """Presence when no switch runs: nothing is registered, nothing is in a call."""

    def registration(self, number: str) -> Registration | None:
        return None
