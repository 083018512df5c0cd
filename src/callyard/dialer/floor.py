"""The agents a task's calls can go to: who is staffed, who is free, who is busy doing what.

An agent is staffed when checked in to the task's group with state idle and registered;
a staffed agent is free when no call involves them and their wrap-up after the dialer's
last call to them is over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from callyard.dialer.pacing import AgentActivity, AgentPhase
from callyard.services.groups import AgentState


@dataclass
class Seat:
    """What the dialer knows of one agent across every task."""

    free_since: float = 0.0
    talking_since: float | None = None
    wrapup_since: float | None = None
    wrapup_until: float | None = None
    missed_until: float = 0.0  # after a failed attach, the agent is not offered calls for a while


class AgentFloor:
    """Agents' dialer-side state, shared by every running task."""

    def __init__(
        self,
        registered: Callable[[str], bool],
        in_call: Callable[[str], bool],
        miss_penalty: float = 30.0,
    ) -> None:
        self._registered = registered
        self._in_call = in_call
        self._miss_penalty = miss_penalty
        self._seats: dict[str, Seat] = {}

    def seat(self, number: str) -> Seat:
        return self._seats.setdefault(number, Seat())

    def staffed(self, members: Iterable[tuple[str, AgentState]]) -> list[str]:
        """Checked-in agents with state idle whose phone is registered."""
        return [n for n, state in members if state is AgentState.IDLE and self._registered(n)]

    def free(self, staffed: Iterable[str], now: float) -> list[str]:
        """Staffed agents who can take a call now, longest free first."""
        free = [n for n in staffed if self._is_free(n, now)]
        free.sort(key=lambda n: self.seat(n).free_since)
        return free

    def _is_free(self, number: str, now: float) -> bool:
        seat = self.seat(number)
        if seat.wrapup_until is not None and now < seat.wrapup_until:
            return False
        return now >= seat.missed_until and not self._in_call(number)

    def activities(self, staffed: Iterable[str], now: float) -> list[AgentActivity]:
        """What each staffed agent who is not free is doing, for the pacer."""
        result = []
        for number in staffed:
            if self._is_free(number, now):
                continue
            seat = self.seat(number)
            if seat.wrapup_until is not None and now < seat.wrapup_until:
                since = seat.wrapup_since if seat.wrapup_since is not None else now
                result.append(AgentActivity(AgentPhase.WRAPUP, since))
            else:
                # In a call: ours (known start) or one the agent placed or took otherwise.
                since = seat.talking_since if seat.talking_since is not None else now
                result.append(AgentActivity(AgentPhase.TALKING, since))
        return result

    def connected(self, number: str, now: float) -> None:
        seat = self.seat(number)
        seat.talking_since = now
        seat.wrapup_since = seat.wrapup_until = None

    def finished(self, number: str, now: float, wrapup: float) -> None:
        """The agent's dialer call ended: wrap-up starts."""
        seat = self.seat(number)
        seat.talking_since = None
        seat.wrapup_since, seat.wrapup_until = now, now + wrapup
        seat.free_since = now + wrapup

    def missed(self, number: str, now: float) -> None:
        """The agent's phone did not take an offered call."""
        seat = self.seat(number)
        seat.missed_until = now + self._miss_penalty
        seat.free_since = seat.missed_until
