"""Which of a group's free agents is offered the next call, by the group's ring policy.
Pure: it sees the candidates and what it is told of them, nothing else."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from callyard.domain.groups import RingPolicy


@dataclass(frozen=True)
class Candidate:
    """A free agent of the group, as the policy weighs it."""

    number: str  # its extension
    free_since: float  # monotonic: when it last became free
    level: int  # higher first, for BY_LEVEL
    answered: int  # calls it answered today, for FEWEST_ANSWERED


class Chooser:
    """Remembers, per group, whom it offered a call last (for round robin)."""

    def __init__(self, rng: Callable[[Sequence[Candidate]], Candidate] = random.choice) -> None:
        self._last: dict[int, str] = {}
        self._choice = rng

    def choose(
        self, group_id: int, policy: RingPolicy, candidates: Sequence[Candidate]
    ) -> Candidate | None:
        """The agent to offer the group's next call; None when there is none."""
        if not candidates:
            return None
        chosen = self._pick(group_id, policy, candidates)
        self._last[group_id] = chosen.number
        return chosen

    def _pick(
        self, group_id: int, policy: RingPolicy, candidates: Sequence[Candidate]
    ) -> Candidate:
        longest_idle = min(candidates, key=lambda c: (c.free_since, c.number))
        if policy is RingPolicy.RANDOM:
            return self._choice(candidates)
        if policy is RingPolicy.LONGEST_IDLE:
            return longest_idle
        if policy is RingPolicy.BY_LEVEL:
            return min(candidates, key=lambda c: (-c.level, c.free_since, c.number))
        if policy is RingPolicy.FEWEST_ANSWERED:
            return min(candidates, key=lambda c: (c.answered, c.free_since, c.number))
        # Round robin: the next number after the one offered last, in number order.
        ordered = sorted(candidates, key=lambda c: c.number)
        last = self._last.get(group_id)
        if last is None:
            return ordered[0]
        return next((c for c in ordered if c.number > last), ordered[0])
