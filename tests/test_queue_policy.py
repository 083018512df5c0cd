"""The ring policies choose among a group's free agents."""

from __future__ import annotations

from collections.abc import Sequence

from callyard.domain.groups import RingPolicy
from callyard.services.queues.policy import Candidate, Chooser

A = Candidate("1001", free_since=30.0, level=1, answered=5)
B = Candidate("1002", free_since=10.0, level=3, answered=9)
C = Candidate("1003", free_since=20.0, level=3, answered=2)


def test_round_robin_takes_the_next_number_after_the_last_offered() -> None:
    chooser = Chooser()
    offered = [chooser.choose(7, RingPolicy.ROUND_ROBIN, [A, B, C]) for _ in range(4)]
    assert [c.number for c in offered if c] == ["1001", "1002", "1003", "1001"]
    # One who is not free is skipped; the turn goes on from whom was offered last.
    assert chooser.choose(7, RingPolicy.ROUND_ROBIN, [A, C]) == C


def test_longest_idle_level_and_fewest_answered() -> None:
    chooser = Chooser()
    assert chooser.choose(1, RingPolicy.LONGEST_IDLE, [A, B, C]) == B
    assert chooser.choose(1, RingPolicy.BY_LEVEL, [A, B, C]) == B  # level 3, idle longer
    assert chooser.choose(1, RingPolicy.FEWEST_ANSWERED, [A, B, C]) == C


def test_random_draws_from_the_candidates_and_nobody_is_none() -> None:
    def last(candidates: Sequence[Candidate]) -> Candidate:
        return candidates[-1]

    assert Chooser(last).choose(1, RingPolicy.RANDOM, [A, B, C]) == C
    assert Chooser().choose(1, RingPolicy.RANDOM, []) is None
