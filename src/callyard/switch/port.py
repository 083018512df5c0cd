"""The switch as services and the dialer use it: commands in, events out, presence.

`switch.Switch` is the one implementation; tests stand in fakes. Services depend on this
protocol, never on the concrete switch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from callyard.switch.commands import Bridge, Dial, MidCall, Target
from callyard.switch.events import SwitchEvent
from callyard.switch.registrar import Binding, Registration
from callyard.switch.routing import CompanyRoutes


class SwitchPort(Protocol):
    """Call control and presence."""

    def subscribe(self, listener: Callable[[SwitchEvent], None]) -> None:
        """Call `listener` on the event loop for every switch event."""
        ...

    def bridge(self, order: Bridge) -> None:
        """Place a two-leg call (click-to-call, two-way call)."""
        ...

    def dial(self, order: Dial) -> None:
        """Call one party and hold it once it answers."""
        ...

    def answer(self, call_id: str) -> None:
        """Answer a caller held on a queued number."""
        ...

    def detach(self, call_id: str) -> None:
        """Stop ringing the agent called for a held customer."""
        ...

    def attach(self, call_id: str, target: Target) -> None:
        """Call an agent for a held customer and bridge them when it answers."""
        ...

    def play(
        self, call_id: str, prompt: Path, hangup_after: bool = True, repeat: bool = False
    ) -> None:
        """Play a prompt to a held, answered customer, once or over and over."""
        ...

    def hangup(self, call_id: str, status: int | None = None) -> None:
        """End a call; a held caller never answered is refused with `status`."""
        ...

    def control(self, command: MidCall) -> None:
        """A command in the middle of a bridged call (hold, mute, release, invite, ...)."""
        ...

    async def probe(self, address: tuple[str, int], within: float = ...) -> int | None:
        """Whether a SIP peer answers OPTIONS: its status, or None."""
        ...

    def company(self, company_id: int) -> CompanyRoutes | None:
        """A company as the routing table knows it."""
        ...

    def binding(self, number: str) -> Binding | None:
        """An extension's live registration, as the switch reaches it."""
        ...

    def in_call(self, number: str) -> bool:
        """Whether a call in progress involves this extension (or number)."""
        ...

    def registration(self, number: str) -> Registration | None: ...
