"""The dialer runtime's pure parts: what the pacer reloads after a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callyard.dialer.pacing import PacerHistory, PredictivePacer
from callyard.dialer.runtime import pacer_history
from callyard.services.tasks import AttemptOutcome, EndedAttempt, TaskHistory

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def attempt(
    minutes_ago: float, outcome: AttemptOutcome, ring: float, talk: int | None = None
) -> EndedAttempt:
    ended = NOW - timedelta(minutes=minutes_ago)
    answered = outcome in (AttemptOutcome.CONNECTED, AttemptOutcome.ABANDONED)
    started = ended - timedelta(seconds=ring + (talk or 0) + 1)
    return EndedAttempt(
        started_at=started,
        answered_at=started + timedelta(seconds=ring) if answered else None,
        ended_at=ended,
        outcome=outcome,
        ring_seconds=ring,
        talk_seconds=talk,
    )


def test_the_last_hour_of_a_task_becomes_the_pacers_history() -> None:
    history = TaskHistory(
        dialed=40,
        answered=12,
        connected=11,
        abandoned=1,
        talk_seconds=900,
        staffed_seconds=3600.0,
        attempts=(
            attempt(50, AttemptOutcome.CONNECTED, ring=8.0, talk=60),
            attempt(30, AttemptOutcome.ABANDONED, ring=5.0),
            attempt(20, AttemptOutcome.BUSY, ring=2.0),
            attempt(10, AttemptOutcome.NO_ANSWER, ring=30.0),
            attempt(1, AttemptOutcome.CONNECTED, ring=12.0, talk=120),
        ),
    )
    restored = pacer_history(history, NOW, wrapup=10.0)
    assert (restored.dialed, restored.answered, restored.abandoned) == (40, 12, 1)
    assert [round(a) for a in restored.answered_ago] == [3000 + 61, 1800 + 1, 60 + 121]
    assert [round(a) for a in restored.abandoned_ago] == [1800]
    assert list(restored.ring_seconds) == [8.0, 5.0, 12.0]
    assert list(restored.failed_ring_seconds) == [2.0, 30.0]
    assert list(restored.talk_seconds) == [60.0, 120.0]
    assert list(restored.wrapup_seconds) == [10.0, 10.0]


def test_a_restored_pacer_keeps_the_spent_budget() -> None:
    """A task that already abandoned its share paces as one that did, after a restart."""
    answered_ago = tuple(float(60 * n) for n in range(1, 11))
    spent = PacerHistory(
        dialed=100, answered=30, abandoned=3, answered_ago=answered_ago, abandoned_ago=(60.0, 120.0)
    )
    fresh = PacerHistory(dialed=100, answered=30, abandoned=0, answered_ago=answered_ago)
    pacers = []
    for history in (spent, fresh):
        pacer = PredictivePacer()
        pacer.restore(1000.0, history)
        pacers.append(pacer)
    assert pacers[0].statistics.abandon_rate == 0.1
    assert pacers[1].statistics.abandon_rate == 0.0
    assert pacers[0].statistics.abandon_rate_last_hour == 0.2
    assert pacers[1].statistics.abandon_rate_last_hour == 0.0
