"""The virtual-time floor, the pacers on it, and `callyard bench dialer`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from callyard.dialer.pacing import HOUR, FloorView, PacerHistory, PacerStatistics
from callyard.dialer.simulation import Floor, Scenario, grid, simulate, simulate_pacer
from callyard.testing.cli import spawned

LOW_ANSWER = Scenario(name="10a-15%-short", agents=10, answer_rate=0.15, mean_talk=60.0)


class FixedPacer:
    """Dials `lines` calls whenever fewer are ringing, whatever the agents do."""

    def __init__(self, lines: int) -> None:
        self.lines = lines
        self.answered = self.abandons = self.connections = 0

    def calls_to_place(self, view: FloorView) -> int:
        return max(0, self.lines - len(view.ringing_since))

    def dial_ended(self, now: float, answered: bool, ring_seconds: float) -> None:
        self.answered += answered

    def connected(self, now: float, waited: float) -> None:
        assert 0.0 <= waited <= 2.0
        self.connections += 1

    def abandoned(self, now: float) -> None:
        self.abandons += 1

    def talk_ended(self, now: float, talk_seconds: float) -> None:
        pass

    def wrapup_ended(self, now: float, wrapup_seconds: float) -> None:
        pass

    def restore(self, now: float, history: PacerHistory) -> None:
        pass

    @property
    def statistics(self) -> PacerStatistics:
        raise NotImplementedError


def test_predictive_beats_progressive_at_a_low_answer_rate_within_the_target() -> None:
    predictive = simulate("predictive", LOW_ANSWER, 1.0, seed=7)
    progressive = simulate("progressive", LOW_ANSWER, 1.0, seed=7)
    assert predictive.talk_minutes_per_agent_hour > 1.5 * progressive.talk_minutes_per_agent_hour
    assert predictive.abandon_rate <= LOW_ANSWER.abandon_target
    assert progressive.abandoned == 0
    assert predictive.dials_per_hour > progressive.dials_per_hour


def test_same_seed_same_run() -> None:
    first = simulate("predictive", LOW_ANSWER, 0.25, seed=3)
    assert simulate("predictive", LOW_ANSWER, 0.25, seed=3) == first
    assert simulate("predictive", LOW_ANSWER, 0.25, seed=4) != first


def test_overdialing_abandons_and_every_outcome_is_reported() -> None:
    scenario = Scenario(name="overdial", agents=2, answer_rate=0.6, mean_talk=60.0)
    pacer = FixedPacer(lines=10)
    result = simulate_pacer("fixed", pacer, scenario, 0.5, seed=1)
    assert result.abandoned > 0
    assert pacer.answered == result.answered
    assert pacer.abandons == result.abandoned
    assert pacer.connections + pacer.abandons <= result.answered  # some still waiting
    assert result.worst_hour_abandon_rate == result.abandon_rate  # shorter than an hour


def test_a_pacer_that_never_dials_gets_no_talk() -> None:
    result = simulate_pacer("idle", FixedPacer(lines=0), LOW_ANSWER, 0.1, seed=1)
    assert (result.dialed, result.answered, result.talk_seconds) == (0, 0, 0.0)
    assert result.talk_minutes_per_agent_hour == 0.0


def test_worst_rolling_hour_slides_by_the_minute() -> None:
    floor = Floor(FixedPacer(lines=0), LOW_ANSWER, seed=1)
    floor.answer_times = [60.0 * minute + 1.0 for minute in range(120)]
    floor.answered = len(floor.answer_times)
    # Three abandons in minutes 70-72: only windows that hold them all reach 3/60.
    floor.abandon_times = [70 * 60.0 + 1.0, 71 * 60.0 + 1.0, 72 * 60.0 + 1.0]
    floor.abandoned = 3
    assert floor.worst_hour_abandon_rate(2.0) == pytest.approx(3 / 60)
    floor.abandon_times = [1.0, 2 * HOUR - 59.0]
    assert floor.worst_hour_abandon_rate(2.0) == pytest.approx(1 / 60)


def test_the_grid_has_eighteen_scenarios() -> None:
    scenarios = grid()
    assert len(scenarios) == 18
    assert len({s.name for s in scenarios}) == 18
    assert {s.agents for s in scenarios} == {10, 50, 200}
    assert {s.answer_rate for s in scenarios} == {0.15, 0.30, 0.60}
    assert {s.mean_talk for s in scenarios} == {60.0, 300.0}


def callyard(*args: str) -> subprocess.CompletedProcess[str]:
    return spawned(args, timeout=120)


def test_bench_dialer_prints_the_table_and_the_verdict(tmp_path: Path) -> None:
    out = tmp_path / "dialer.json"
    run = callyard(
        "bench", "dialer", "--hours", "0.1", "--scenarios", "10a-60%-short", "--json", str(out)
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("callyard bench dialer: ")
    assert "seed 1" in lines[0]
    header = next(line for line in lines if line.startswith("scenario"))
    assert header.split() == ["scenario", *["pred", "prog", "adapt"] * 4]
    rows = [line for line in lines if line.startswith("10a-")]
    assert len(rows) == 1
    assert len(rows[0].split()) == 13
    assert any(line.startswith("aim 1, predictive abandonment <= 3%") for line in lines)
    assert any(line.startswith("aim 2, predictive talk minutes") for line in lines)
    document = json.loads(out.read_text())
    assert {r["method"] for r in document["runs"]} == {"predictive", "progressive", "adaptive"}


def test_bench_dialer_markdown_and_several_seeds() -> None:
    run = callyard(
        "bench", "dialer", "--hours", "0.05", "--scenarios", "10a-60%-long",
        "--seed", "1", "--seed", "2", "--markdown",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    table = [line for line in run.stdout.splitlines() if line.startswith("|")]
    assert table[0].startswith("| scenario | seed | talk min/agent-h (pred / prog / adapt)")
    assert [row.split(" | ")[1] for row in table[2:]] == ["1", "2"]


def test_bench_dialer_refuses_an_unknown_scenario() -> None:
    run = callyard("bench", "dialer", "--scenarios", "7a-99%")
    assert run.returncode == 2
    assert json.loads(run.stderr)["error"].startswith("invalid --scenarios: '7a-99%'")
    assert run.stdout == ""
