"""The agents a task's calls can go to: who is staffed, who is free, who is busy doing what.

An agent is staffed when checked in to the task's group with state idle and registered;
a staffed agent is free when no call involves them, their wrap-up is over and they are
not kept away after missing an offered call. The agents' live state is the one every
service reads (`services.agents.AgentBoard`); the floor only decides for the dialer.
"""

from __future__ import annotations

from collections.abc import Iterable

from callyard.dialer.pacing import AgentActivity, AgentPhase
from callyard.domain.agents import AgentState, Phase
from callyard.services.agents import AgentBoard


class AgentFloor:
    """Which agents the dialer may offer calls to, over the agents' live state."""

    def __init__(self, agents: AgentBoard, miss_penalty: float = 30.0) -> None:
        self.agents = agents
        self._miss_penalty = miss_penalty

    def staffed(self, members: Iterable[tuple[str, AgentState]]) -> list[str]:
        """Checked-in agents with state idle whose phone is registered."""
        return [n for n, state in members if state is AgentState.IDLE and self.agents.registered(n)]

    def free(self, staffed: Iterable[str], now: float) -> list[str]:
        """Staffed agents who can take a call now, longest free first."""
        free = [n for n in staffed if self.agents.phase(n, now) is Phase.IDLE]
        free.sort(key=lambda n: self.agents.seat(n).available_since)
        return free

    def activities(self, staffed: Iterable[str], now: float) -> list[AgentActivity]:
        """What each staffed agent who is not free is doing, for the pacer (one kept away
        after a missed call counts as busy from now, as one in a call of unknown start)."""
        result = []
        for number in staffed:
            phase = self.agents.phase(number, now)
            seat = self.agents.seat(number)
            if phase is Phase.WRAP_UP:
                since = seat.wrapup_since if seat.wrapup_since is not None else now
                result.append(AgentActivity(AgentPhase.WRAPUP, since))
            elif phase is not Phase.IDLE:
                # In a call: ours (known start) or one the agent placed or took otherwise.
                since = seat.talking_since if seat.talking_since is not None else now
                result.append(AgentActivity(AgentPhase.TALKING, since))
        return result

    def finished(self, number: str, now: float, wrapup: float) -> None:
        """The agent's dialer call ended: wrap-up starts."""
        self.agents.wrap_up(number, now, wrapup)

    def missed(self, number: str, now: float) -> None:
        """The agent's phone did not take an offered call."""
        self.agents.keep_away(number, now, self._miss_penalty)
