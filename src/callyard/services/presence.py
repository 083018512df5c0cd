"""Live state of extensions, as reported by the switch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Registration:
    """A live SIP registration of an extension."""

    client_ip: str
    client_port: int
    server_ip: str
    user_agent: str
    registered_at: datetime


class Presence(Protocol):
    """What services ask the switch about an extension."""

    def registration(self, number: str) -> Registration | None:
        """The extension's live registration, if it has one."""
        ...

    def talking_seconds(self, number: str) -> int | None:
        """Whole seconds since the extension's call was answered (both parties talking);
        None when it is in no answered call."""
        ...


class NoSwitch:
    """Presence when no switch runs: nothing is registered, nothing is in a call."""

    def registration(self, number: str) -> Registration | None:
        return None

    def talking_seconds(self, number: str) -> int | None:
        return None
