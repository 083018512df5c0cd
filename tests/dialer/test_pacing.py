"""The pacers' decisions on hand-made floors, and their bookkeeping."""

from __future__ import annotations

import math
from typing import TypeVar

import pytest

from callyard.dialer.baselines import ProgressivePacer, VicidialAdaptivePacer
from callyard.dialer.pacing import (
    HOUR,
    AgentActivity,
    AgentPhase,
    FloorView,
    Pacer,
    PacerHistory,
    PredictivePacer,
    Survival,
)

NOW = 10_000.0
P = TypeVar("P", bound=Pacer)


def talking(*elapsed: float) -> list[AgentActivity]:
    return [AgentActivity(AgentPhase.TALKING, NOW - e) for e in elapsed]


def wrapping(*elapsed: float) -> list[AgentActivity]:
    return [AgentActivity(AgentPhase.WRAPUP, NOW - e) for e in elapsed]


def view(
    idle: int,
    busy: list[AgentActivity] | None = None,
    ringing: tuple[float, ...] = (),
    waiting: int = 0,
    now: float = NOW,
) -> FloorView:
    """A floor at `now`; `ringing` gives each ringing call's age in seconds."""
    return FloorView(
        now=now,
        idle_agents=idle,
        busy_agents=busy or [],
        ringing_since=[now - age for age in ringing],
        waiting=waiting,
    )


def fed(
    pacer: P,
    answer_rate: float = 0.15,
    answered: int = 600,
    abandoned: int = 0,
    until: float = NOW,
) -> P:
    """Feed a pacer a measured history spread over the hour before `until`: ring times
    of 5-13 s, failures after 3 s (busy) or 30 s (no answer), talks of 30-90 s and
    wrap-ups of 6-14 s, and `abandoned` of the answered customers abandoned."""
    dials = round(answered / answer_rate)
    start = until - HOUR + 1.0
    step = (HOUR - 2.0) / dials
    answers_made = 0
    for i in range(dials):
        at = start + i * step
        if answers_made < answered and (i + 1) * answer_rate >= answers_made + 1:
            answers_made += 1
            pacer.dial_ended(at, True, 5.0 + (i % 9))
            if answers_made <= abandoned:
                pacer.abandoned(at + 2.0 + 10.0 * answers_made)
            else:
                pacer.connected(at, 0.0)
                pacer.talk_ended(at, 30.0 + (i * 7) % 61)
                pacer.wrapup_ended(at, 6.0 + (i % 9))
        else:
            pacer.dial_ended(at, False, 3.0 if i % 4 == 0 else 30.0)
    return pacer


def predictive(**options: float) -> PredictivePacer:
    return PredictivePacer(replan_interval=0.0, **options)


def test_cold_start_dials_one_line_per_uncovered_idle_agent() -> None:
    pacer = predictive()
    assert pacer.calls_to_place(view(idle=5)) == 5
    assert pacer.statistics.warming_up
    assert pacer.calls_to_place(view(idle=5, ringing=(1.0, 2.0))) == 3
    assert pacer.calls_to_place(view(idle=5, ringing=(1.0, 2.0, 3.0), waiting=2)) == 0
    assert pacer.calls_to_place(view(idle=0, busy=wrapping(9.0, 9.5, 9.9))) == 0


def test_no_agents_no_calls() -> None:
    for pacer in (fed(predictive()), ProgressivePacer(), VicidialAdaptivePacer()):
        assert pacer.calls_to_place(view(idle=0)) == 0


def test_a_warm_pacer_dials_ahead_of_idle_agents_at_a_low_answer_rate() -> None:
    pacer = fed(predictive())
    assert not pacer.statistics.warming_up
    floor = view(idle=5, busy=talking(*range(5, 80, 5)))
    assert pacer.calls_to_place(floor) > 5


def test_more_idle_agents_more_calls() -> None:
    pacer = fed(predictive())
    busy = talking(*range(5, 80, 5))
    fewer = pacer.calls_to_place(view(idle=2, busy=busy))
    more = pacer.calls_to_place(view(idle=6, busy=busy))
    assert 0 < fewer < more


def test_a_spent_budget_slows_it_down() -> None:
    floor = view(idle=5, busy=talking(*range(5, 80, 5)))
    fresh = fed(predictive())
    spent = fed(predictive(), abandoned=30)  # 5 % of 600 answered
    assert spent.risk_threshold() < fresh.risk_threshold()
    assert spent.calls_to_place(floor) < fresh.calls_to_place(floor)
    statistics = spent.statistics
    assert statistics.abandoned == 30
    assert statistics.abandon_rate == pytest.approx(0.05)
    assert statistics.abandon_rate_last_hour == pytest.approx(0.05)


def test_agents_about_to_leave_wrap_up_get_calls_before_they_are_idle() -> None:
    pacer = fed(predictive(), answer_rate=0.6)
    assert pacer.calls_to_place(view(idle=0, busy=talking(*range(1, 20)))) == 0
    assert pacer.calls_to_place(view(idle=0, busy=talking(*range(1, 19)) + wrapping(13.0))) > 0


def test_a_call_that_rang_for_long_counts_less_than_a_fresh_one() -> None:
    pacer = fed(predictive(), answer_rate=0.6)
    busy = talking(*range(1, 19))
    fresh = pacer.calls_to_place(view(idle=1, busy=busy, ringing=(1.0,)))
    stale = pacer.calls_to_place(view(idle=1, busy=busy, ringing=(29.0,)))
    assert fresh == 0
    assert stale > 0


def test_waiting_customers_hold_back_new_calls() -> None:
    pacer = fed(predictive())
    busy = talking(*range(5, 80, 5)) + wrapping(13.0, 13.0, 13.0, 13.0)
    unclaimed = pacer.calls_to_place(view(idle=0, busy=busy))
    assert unclaimed > 0
    assert pacer.calls_to_place(view(idle=0, busy=busy, waiting=3)) < unclaimed


def test_calls_in_flight_are_capped() -> None:
    pacer = fed(predictive(max_lines_per_agent=2.0), answer_rate=0.05, answered=200)
    assert pacer.calls_to_place(view(idle=10)) == 20
    assert pacer.calls_to_place(view(idle=10, ringing=(1.0,) * 20)) == 0


def test_decisions_are_spaced_by_the_replan_interval() -> None:
    pacer = PredictivePacer(replan_interval=0.5)
    assert pacer.calls_to_place(view(idle=3, now=100.0)) == 3
    assert pacer.calls_to_place(view(idle=3, now=100.2)) == 0
    assert pacer.calls_to_place(view(idle=3, ringing=(0.5,), now=100.5)) == 2


def test_same_inputs_same_decisions() -> None:
    floor = view(idle=3, busy=talking(*range(5, 80, 5)) + wrapping(2.0, 8.0))
    assert fed(predictive()).calls_to_place(floor) == fed(predictive()).calls_to_place(floor)


def history_of(answered: int, abandoned: int, now: float) -> PacerHistory:
    return PacerHistory(
        dialed=answered * 4,
        answered=answered,
        abandoned=abandoned,
        answered_ago=[HOUR * i / answered for i in range(answered)],
        abandoned_ago=[10.0 * i for i in range(abandoned)],
        ring_seconds=[5.0 + i % 9 for i in range(answered)],
        failed_ring_seconds=[3.0 if i % 4 == 0 else 30.0 for i in range(answered * 3)],
        talk_seconds=[30.0 + (i * 7) % 61 for i in range(answered)],
        wrapup_seconds=[6.0 + i % 9 for i in range(answered)],
    )


def test_restore_keeps_the_budget() -> None:
    floor = view(idle=5, busy=talking(*range(5, 80, 5)))
    spent = predictive()
    spent.restore(NOW, history_of(600, 30, NOW))
    fresh = predictive()
    fresh.restore(NOW, history_of(600, 0, NOW))

    statistics = spent.statistics
    assert (statistics.dialed, statistics.answered, statistics.abandoned) == (2400, 600, 30)
    assert statistics.abandon_rate_last_hour == pytest.approx(0.05)
    assert statistics.answer_rate == pytest.approx(0.25)
    assert not statistics.warming_up
    assert spent.risk_threshold() < fresh.risk_threshold()
    assert spent.calls_to_place(floor) < fresh.calls_to_place(floor)

    # An hour later the abandons have left the rolling window; the life budget remains.
    spent.calls_to_place(view(idle=0, now=NOW + HOUR + 400.0))
    later = spent.statistics
    assert later.abandon_rate_last_hour is None
    assert later.abandon_rate == pytest.approx(0.05)


def test_restore_without_failure_times_takes_the_life_answer_rate() -> None:
    pacer = predictive()
    pacer.restore(
        NOW, PacerHistory(dialed=1000, answered=200, abandoned=0, ring_seconds=[8.0] * 100)
    )
    assert pacer.statistics.answer_rate == pytest.approx(0.2)


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="abandon_target"):
        PredictivePacer(abandon_target=0.0)
    with pytest.raises(ValueError, match="max_lines_per_agent"):
        PredictivePacer(max_lines_per_agent=0.5)


def test_kaplan_meier_counts_durations_still_going() -> None:
    survival = Survival([1.0, 2.0, 3.0], censored=[2.5])
    assert survival(0.5) == 1.0
    assert survival(1.0) == pytest.approx(0.75)
    assert survival(2.6) == pytest.approx(0.5)
    assert survival(3.0) == 0.0
    assert survival.quantile(0.5) == 2.0
    plain = Survival([1.0, 2.0, 3.0, 4.0])
    assert plain(2.0) == pytest.approx(0.5)


def test_progressive_reserves_an_agent_per_ringing_call_and_waiting_customer() -> None:
    pacer = ProgressivePacer()
    assert pacer.calls_to_place(view(idle=6, ringing=(3.0, 29.0))) == 4
    assert pacer.calls_to_place(view(idle=1, ringing=(3.0, 29.0))) == 0
    assert pacer.calls_to_place(view(idle=2, waiting=1)) == 1
    assert pacer.statistics.dialed == 5


def test_adaptive_level_grows_with_ready_agents_and_drops_over_the_target() -> None:
    pacer = VicidialAdaptivePacer()
    busy = talking(10.0, 20.0)
    assert pacer.calls_to_place(view(idle=2, busy=busy, now=0.0)) == 2
    # Each second with 2 of 4 agents ready multiplies the level by 1.5, up to 3.
    assert pacer.calls_to_place(view(idle=2, busy=busy, ringing=(1.0,) * 2, now=1.0)) == 1
    assert pacer.level == pytest.approx(1.5)
    pacer.calls_to_place(view(idle=2, busy=busy, ringing=(1.0,) * 3, now=5.0))
    assert pacer.level == 3.0
    assert pacer.calls_to_place(view(idle=2, busy=busy, now=5.5)) == 6
    for second in range(10):
        pacer.dial_ended(6.0 + second, True, 8.0)
    pacer.abandoned(16.0)
    pacer.calls_to_place(view(idle=2, busy=busy, now=16.5))
    assert pacer.level == 1.0
    assert pacer.statistics.abandon_rate == pytest.approx(0.1)
    assert math.isclose(pacer.statistics.dial_level, 2 / 4)
