"""A campaign floor in virtual time: any `Pacer` against simulated customers and agents.

A discrete-event simulation (an event heap, no sleeping, seeded random streams). Each
dialed call is answered with the scenario's answer probability after a lognormal ring
time (cut at the ring timeout), or fails: busy or error after 2-5 s, or no answer at the
ring timeout. An answered customer takes an idle agent at once; if none is idle, the
first agent to finish wrap-up within `max_wait` takes them (first come, first served),
otherwise the customer hangs up: abandoned. An agent talks (lognormal talk time), wraps
up (lognormal) and is idle again. The pacer is asked `calls_to_place` every second and
after every event, as the dialer runtime does, and told every outcome.

The dial outcomes, talk times and wrap-up times come from three separate random streams
consumed in order (the n-th dial, the n-th connected call), so pacers run with the same
seed meet the same customers: their differences are the pacers', not luck's.
"""

from __future__ import annotations

import enum
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from callyard.dialer.baselines import ProgressivePacer, VicidialAdaptivePacer
from callyard.dialer.pacing import (
    HOUR,
    AgentActivity,
    AgentPhase,
    FloorView,
    Pacer,
    PredictivePacer,
)

WINDOW_STEP = 60.0


@dataclass(frozen=True)
class Scenario:
    """A campaign: its agents and the population it dials."""

    name: str
    agents: int
    answer_rate: float
    mean_talk: float
    talk_sigma: float = 0.7
    """Of log talk time: a coefficient of variation of about 0.8."""
    ring_median: float = 9.0
    ring_sigma: float = 0.4
    ring_timeout: float = 30.0
    busy_share: float = 0.25
    """Failed calls that fail fast (busy, error) rather than ring out."""
    busy_seconds: tuple[float, float] = (2.0, 5.0)
    mean_wrapup: float = 10.0
    wrapup_sigma: float = 0.5
    max_wait: float = 2.0
    abandon_target: float = 0.03


@dataclass(frozen=True)
class RunResult:
    """What one pacer achieved on one scenario."""

    scenario: str
    method: str
    seed: int
    hours: float
    agents: int
    dialed: int
    answered: int
    abandoned: int
    talk_seconds: float

    worst_hour_abandon_rate: float
    """The highest abandon rate over windows of an hour sliding by a minute (by answer
    time); the whole run when it is shorter than an hour."""

    @property
    def talk_minutes_per_agent_hour(self) -> float:
        return self.talk_seconds / 60.0 / (self.agents * self.hours)

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0

    @property
    def dials_per_hour(self) -> float:
        return self.dialed / self.hours

    @property
    def answered_per_hour(self) -> float:
        return self.answered / self.hours


PacerFactory = Callable[[Scenario], Pacer]

METHODS: dict[str, PacerFactory] = {
    "predictive": lambda s: PredictivePacer(s.abandon_target, s.max_wait),
    "progressive": lambda s: ProgressivePacer(),
    "adaptive": lambda s: VicidialAdaptivePacer(s.abandon_target),
}


class Event(enum.IntEnum):
    TICK = 0
    ANSWER = 1
    FAIL = 2
    ABANDON = 3
    TALK_END = 4
    WRAPUP_END = 5


def _lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2.0, sigma)


class Floor:
    """The simulated task: customers, agents, the event heap, and the counts."""

    def __init__(self, pacer: Pacer, scenario: Scenario, seed: int) -> None:
        self.pacer = pacer
        self.s = scenario
        base = seed * 1_000_003
        self.dial_rng = random.Random(base + 1)
        self.talk_rng = random.Random(base + 2)
        self.wrapup_rng = random.Random(base + 3)
        self.now = 0.0
        self.heap: list[tuple[float, int, Event, int, float]] = []
        self.sequence = 0
        self.idle = scenario.agents
        self.busy: dict[int, AgentActivity] = {}
        self.ringing: dict[int, float] = {}
        self.waiting: dict[int, float] = {}
        self.next_id = 0
        self.dialed = 0
        self.answered = 0
        self.abandoned = 0
        self.talk_seconds = 0.0
        self.answer_times: list[float] = []
        self.abandon_times: list[float] = []

    def _push(self, at: float, event: Event, key: int, value: float = 0.0) -> None:
        self.sequence += 1
        heapq.heappush(self.heap, (at, self.sequence, event, key, value))

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def run(self, hours: float) -> None:
        end = hours * HOUR
        self._push(0.0, Event.TICK, 0)
        heap = self.heap
        while heap and heap[0][0] <= end:
            at, _, event, key, value = heapq.heappop(heap)
            self.now = at
            if event is Event.TICK:
                self._push(at + 1.0, Event.TICK, 0)
            elif event is Event.ANSWER:
                self._answer(key, value)
            elif event is Event.FAIL:
                del self.ringing[key]
                self.pacer.dial_ended(at, False, value)
            elif event is Event.ABANDON:
                if self.waiting.pop(key, None) is None:
                    continue  # connected meanwhile
                self.abandoned += 1
                self.abandon_times.append(at - self.s.max_wait)
                self.pacer.abandoned(at)
            elif event is Event.TALK_END:
                self._talk_end(key, value)
            else:
                self._wrapup_end(key, value)
            self._ask()
        for agent in self.busy.values():
            if agent.phase is AgentPhase.TALKING:
                self.talk_seconds += end - agent.since

    def _ask(self) -> None:
        view = FloorView(
            now=self.now,
            idle_agents=self.idle,
            busy_agents=self.busy.values(),
            ringing_since=self.ringing.values(),
            waiting=len(self.waiting),
        )
        for _ in range(self.pacer.calls_to_place(view)):
            self._dial()

    def _dial(self) -> None:
        s, rng, now = self.s, self.dial_rng, self.now
        call = self._new_id()
        self.ringing[call] = now
        self.dialed += 1
        if rng.random() < s.answer_rate:
            ring = _lognormal(rng, s.ring_median * math.exp(s.ring_sigma**2 / 2), s.ring_sigma)
            while ring >= s.ring_timeout:
                ring = _lognormal(rng, s.ring_median * math.exp(s.ring_sigma**2 / 2), s.ring_sigma)
            self._push(now + ring, Event.ANSWER, call, ring)
        elif rng.random() < s.busy_share:
            fail = rng.uniform(*s.busy_seconds)
            self._push(now + fail, Event.FAIL, call, fail)
        else:
            self._push(now + s.ring_timeout, Event.FAIL, call, s.ring_timeout)

    def _answer(self, call: int, ring: float) -> None:
        now = self.now
        del self.ringing[call]
        self.answered += 1
        self.answer_times.append(now)
        self.pacer.dial_ended(now, True, ring)
        if self.idle > 0:
            self.idle -= 1
            self._connect(0.0)
        else:
            self.waiting[call] = now
            self._push(now + self.s.max_wait, Event.ABANDON, call)

    def _connect(self, waited: float) -> None:
        """An agent (already taken from the idle ones) takes a customer."""
        agent = self._new_id()
        self.busy[agent] = AgentActivity(AgentPhase.TALKING, self.now)
        talk = _lognormal(self.talk_rng, self.s.mean_talk, self.s.talk_sigma)
        self._push(self.now + talk, Event.TALK_END, agent, talk)
        self.pacer.connected(self.now, waited)

    def _talk_end(self, agent: int, talk: float) -> None:
        self.talk_seconds += talk
        self.busy[agent] = AgentActivity(AgentPhase.WRAPUP, self.now)
        self.pacer.talk_ended(self.now, talk)
        wrapup = _lognormal(self.wrapup_rng, self.s.mean_wrapup, self.s.wrapup_sigma)
        self._push(self.now + wrapup, Event.WRAPUP_END, agent, wrapup)

    def _wrapup_end(self, agent: int, wrapup: float) -> None:
        del self.busy[agent]
        self.pacer.wrapup_ended(self.now, wrapup)
        if self.waiting:
            customer = next(iter(self.waiting))
            answered_at = self.waiting.pop(customer)
            self._connect(self.now - answered_at)
        else:
            self.idle += 1

    def worst_hour_abandon_rate(self, hours: float) -> float:
        end = hours * HOUR
        if end <= HOUR:
            return self.abandoned / self.answered if self.answered else 0.0
        steps = int(end // WINDOW_STEP) + 1
        answered = [0] * steps
        abandoned = [0] * steps
        for at in self.answer_times:
            answered[min(steps - 1, int(at // WINDOW_STEP))] += 1
        for at in self.abandon_times:
            abandoned[min(steps - 1, int(at // WINDOW_STEP))] += 1
        width = int(HOUR // WINDOW_STEP)
        worst = 0.0
        window_answered = sum(answered[:width])
        window_abandoned = sum(abandoned[:width])
        start = 0
        while True:
            if window_answered:
                worst = max(worst, window_abandoned / window_answered)
            if (start + width + 1) * WINDOW_STEP > end + 1e-9:
                return worst
            window_answered += answered[start + width] - answered[start]
            window_abandoned += abandoned[start + width] - abandoned[start]
            start += 1


def simulate(method: str, scenario: Scenario, hours: float, seed: int) -> RunResult:
    """Run one of `METHODS` on `scenario` for `hours` of virtual time."""
    return simulate_pacer(method, METHODS[method](scenario), scenario, hours, seed)


def simulate_pacer(
    method: str, pacer: Pacer, scenario: Scenario, hours: float, seed: int
) -> RunResult:
    """Run `pacer` on `scenario` for `hours` of virtual time."""
    if hours <= 0:
        raise ValueError("hours must be > 0")
    floor = Floor(pacer, scenario, seed)
    floor.run(hours)
    return RunResult(
        scenario=scenario.name,
        method=method,
        seed=seed,
        hours=hours,
        agents=scenario.agents,
        dialed=floor.dialed,
        answered=floor.answered,
        abandoned=floor.abandoned,
        talk_seconds=floor.talk_seconds,
        worst_hour_abandon_rate=floor.worst_hour_abandon_rate(hours),
    )


TALK_TIMES = {"short": 60.0, "long": 300.0}


def grid(
    agents: tuple[int, ...] = (10, 50, 200),
    answer_rates: tuple[float, ...] = (0.15, 0.30, 0.60),
    talks: tuple[str, ...] = ("short", "long"),
) -> list[Scenario]:
    """The benchmark's scenarios: every combination, named like `50a-30%-long`."""
    return [
        Scenario(
            name=f"{n}a-{round(rate * 100)}%-{talk}",
            agents=n,
            answer_rate=rate,
            mean_talk=TALK_TIMES[talk],
        )
        for n in agents
        for rate in answer_rates
        for talk in talks
    ]
