"""Pacing of a predictive outbound campaign: how many customer calls to dial now.

The runtime shows a pacer the floor of one campaign task (a `FloorView`: idle agents,
agents talking or in wrap-up and since when, calls ringing and since when, answered
customers waiting for an agent), asks `calls_to_place` after every event and once a
second, and reports every outcome (`dial_ended`, `connected`, `abandoned`, `talk_ended`,
`wrapup_ended`). An answered customer who finds no agent within `max_wait` seconds is
abandoned. The pacer must keep abandoned calls at or below `abandon_target` of the
answered ones over the task's life and over every rolling hour, and otherwise keep the
agents talking. Everything here is pure: no I/O, no clock but the `now` it is given.

`PredictivePacer`, the algorithm:

1. **Measure.** The outcome callbacks feed empirical distributions (the last
   `SAMPLE_SIZE` of each): the answer rate, the ring time of answered calls, the time
   until a failed call fails (busy, no answer, error), talk time and wrap-up time. Talk
   and wrap-up are Kaplan-Meier estimates in which the agents still talking or wrapping
   up count as durations at least that long: without them the first durations measured
   are the short ones, and a fresh task would expect every agent back far too soon.

2. **Predict the next seconds.** On a grid of horizons t_1 < ... < t_K spanning the
   ring times of answered calls, the pacer forecasts two counts:

   - customers answered by t: those waiting now, plus each ringing call of age a,
     answered by a + t with probability p (S_a(a) - S_a(a + t)) / (p S_a(a) +
     (1 - p) S_f(a)) (p the answer rate, S_a and S_f the survival functions of the
     ring times of answered and of failed calls: a call that has rung 25 s is most
     likely a no-answer and counts for little);
   - agents free by t + max_wait (an agent freeing up within `max_wait` of an answer
     still takes it): the idle ones, plus each agent talking for s seconds, free with
     probability P(T + W <= s + t + max_wait | T > s) (T talk, W wrap-up), or in
     wrap-up for s seconds, with P(W <= s + t + max_wait | W > s). An agent busy for
     longer than all but `TAIL_SAMPLES` of the measured durations is taken to stay
     busy.

   Each count is a sum of independent Bernoulli variables. D(t) = customers - agents
   is approximated from its first three cumulants: a normal law with Edgeworth's
   skewness term, because the decisions are made in the right tail of sums of small
   probabilities, where a plain normal law says half the truth. A count that cannot
   reach 0 (fewer possible answers than idle agents) gives probability 0 exactly.

3. **The marginal call.** By Hall's theorem the customers left without an agent number
   max_t D(t)^+ (a customer answered by t can only have an agent free by
   t + max_wait). One more call, answered at time u, adds one abandon when D(t) >= 0
   for some t >= u. Its probability of abandoning once answered is so estimated as
   sum_k P(answer in (t_(k-1), t_k]) max_(j>=k) P(D(t_j) >= 0) / P(answer), where D
   already counts the calls placed before it. The pacer places the largest number of
   new calls whose last one stays at or below a risk threshold theta. Placing exactly
   the calls whose marginal risk is below a threshold is what maximises the answered
   calls for a given expected number of abandons (a Lagrangian argument: the threshold
   is the price of an abandon).

4. **The budget sets theta.** The allowed abandons are `abandon_target` x answered,
   over the task's life and over the last hour. Each budget's slack is the allowed
   abandons less those spent and less one more (the next abandon must not cross the
   line). It is compared with a reserve of `reserve_sd` standard deviations of the
   abandons the window would count at the target, plus one. Abandons come in clusters
   (several answers at once and no agent), so that count is over-dispersed: its
   variance is d x target x answered with d = E[c^2] / E[c] over the measured cluster
   sizes c (abandons less than `CLUSTER_GAP` apart). Then theta = target x slack /
   reserve, the smaller of the two budgets' values, within [`MIN_RISK_SCALE`,
   `MAX_RISK_SCALE`] x target. A fresh task (no slack yet) or a spent budget so paces
   with almost no risk, a budget with slack to spare more aggressively, and small teams
   (few answers an hour: a large reserve relative to the budget) more carefully than
   large ones. This feedback also absorbs the errors of the forecast's approximations.

5. **Cold start and caps.** Until enough outcomes are measured (`WARMUP_*`), the pacer
   dials progressively: one call per idle agent not already covered by a ringing call or
   a waiting customer. Calls in flight never exceed `max_lines_per_agent` x logged-in
   agents. A decision is made at most every `replan_interval` seconds (the runtime asks
   after every event and every second; a ring lasts seconds, so a half-second grain
   costs little, and it bounds the work on a large floor).

The work per decision grows with the distinct groups on the floor, not with its size:
ringing calls are grouped by age in 1 s bins, agents in wrap-up by time spent in bins of
a tenth of its median, agents talking in bins that widen with time spent (where the
chance of ending soon changes slowly), and the per-horizon rows of each group are
computed once per refresh of the distributions (`MODEL_REFRESH_SECONDS`).

`PacerHistory` is what the runtime reloads after a restart (life counters and the last
hour's outcomes) so that both budgets and the distributions survive it.
"""

from __future__ import annotations

import enum
import math
import operator
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

HOUR = 3600.0
SAMPLE_SIZE = 2000
WARMUP_OUTCOMES = 60
WARMUP_ANSWERS = 20
WARMUP_TALKS = 10
WARMUP_WRAPUPS = 10
MIN_RISK_SCALE = 0.05
MAX_RISK_SCALE = 4.0
HORIZONS = 8
TAIL_SAMPLES = 5
WRAPUP_QUANTILES = 7
# Busy agents are grouped by time in their state: wrap-up in bins of a tenth of its
# median, talk in bins whose edges are (median / 40) k^2, fine at first and coarse
# later, where the chance of ending soon changes slowly.
TALK_BIN_DIVISOR = 40.0
WRAPUP_BIN_DIVISOR = 10.0
MODEL_REFRESH_SECONDS = 30.0
CLUSTER_GAP = 5.0
PRIOR_CLUSTERS = 5


class AgentPhase(enum.Enum):
    """What a busy agent is doing (idle agents are only counted)."""

    TALKING = "talking"
    WRAPUP = "wrapup"


@dataclass(frozen=True, slots=True)
class AgentActivity:
    """A busy agent: talking (or reserved for a customer) or in wrap-up since `since`
    (on the clock of `FloorView.now`)."""

    phase: AgentPhase
    since: float


@dataclass(frozen=True, slots=True)
class FloorView:
    """One campaign task's floor at `now` (seconds, monotonic)."""

    now: float
    idle_agents: int
    """Agents available now (not reserved for a waiting customer)."""
    busy_agents: Collection[AgentActivity]
    """Agents talking or in wrap-up."""
    ringing_since: Collection[float]
    """When each dialed call not yet answered or failed was dialed."""
    waiting: int
    """Answered customers waiting (less than max_wait so far) for an agent."""


@dataclass(frozen=True)
class PacerHistory:
    """What a pacer needs after a restart: the task's life counters and its last hour.

    Times are seconds before the `now` given to `restore` (0 = just now)."""

    dialed: int
    answered: int
    abandoned: int
    answered_ago: Sequence[float] = ()
    abandoned_ago: Sequence[float] = ()
    ring_seconds: Sequence[float] = ()
    """Ring times of the answered calls."""
    failed_ring_seconds: Sequence[float] = ()
    """Time until failure of the failed calls."""
    talk_seconds: Sequence[float] = ()
    wrapup_seconds: Sequence[float] = ()


@dataclass(frozen=True)
class PacerStatistics:
    """A pacer's measurements and state."""

    dialed: int
    answered: int
    abandoned: int
    answer_rate: float | None
    abandon_rate: float | None
    abandon_rate_last_hour: float | None
    mean_ring_seconds: float | None
    mean_talk_seconds: float | None
    mean_wrapup_seconds: float | None
    dial_level: float
    """Calls in flight per logged-in agent after the last decision."""
    risk_threshold: float | None
    """The predictive pacer's current theta (None for the other pacers)."""
    warming_up: bool


class Pacer(Protocol):
    """What the dialer runtime (and the simulation) drives."""

    def calls_to_place(self, view: FloorView) -> int:
        """New calls to dial now (>= 0)."""
        ...

    def dial_ended(self, now: float, answered: bool, ring_seconds: float) -> None:
        """A dialed call was answered after `ring_seconds`, or failed after them."""
        ...

    def connected(self, now: float, waited: float) -> None:
        """An answered customer got an agent after waiting `waited` seconds."""
        ...

    def abandoned(self, now: float) -> None:
        """An answered customer got no agent within the maximum wait."""
        ...

    def talk_ended(self, now: float, talk_seconds: float) -> None:
        """An agent's call ended; the agent is in wrap-up."""
        ...

    def wrapup_ended(self, now: float, wrapup_seconds: float) -> None:
        """An agent finished wrap-up and is available."""
        ...

    def restore(self, now: float, history: PacerHistory) -> None:
        """Reload the counters and recent outcomes after a restart."""
        ...

    @property
    def statistics(self) -> PacerStatistics:
        """Measurements and state."""
        ...


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _interleaved(answers: int, failures: int) -> list[bool]:
    """At most SAMPLE_SIZE outcomes in these proportions, evenly mixed."""
    total = answers + failures
    if total > SAMPLE_SIZE:
        answers = round(answers * SAMPLE_SIZE / total)
        total = SAMPLE_SIZE
    return [(i + 1) * answers // total > i * answers // total for i in range(total)]


class Durations:
    """Recent durations (talk, wrap-up) with the time each began.

    `cohort()` is the set an unbiased estimate may use: every duration that began at or
    after `cutoff`, the end of the last one pushed out. Older survivors (long durations
    that began before it) would bias the estimate towards long ones."""

    def __init__(self) -> None:
        self.items: deque[tuple[float, float]] = deque(maxlen=SAMPLE_SIZE)
        self.cutoff = -math.inf

    def __len__(self) -> int:
        return len(self.items)

    def add(self, now: float, seconds: float) -> None:
        if len(self.items) == SAMPLE_SIZE:
            began, lasted = self.items[0]
            self.cutoff = began + lasted
        self.items.append((now - seconds, seconds))

    def seconds(self) -> list[float]:
        return [lasted for _, lasted in self.items]

    def cohort(self) -> list[float]:
        cutoff = self.cutoff
        return [lasted for began, lasted in self.items if began >= cutoff]

    def restore(self, now: float, seconds: Iterable[float]) -> None:
        self.items.clear()
        self.cutoff = -math.inf
        self.items.extend((now - lasted, lasted) for lasted in seconds)


class OutcomeLog:
    """A task's outcomes: life counters, the last hour's answers and abandons, and the
    recent samples of every measured distribution. Shared by every pacer."""

    def __init__(self) -> None:
        self.dialed = 0
        self.answered = 0
        self.abandoned = 0
        self.answered_at: deque[float] = deque()
        self.abandoned_at: deque[float] = deque()
        self.outcomes: deque[bool] = deque(maxlen=SAMPLE_SIZE)
        self.ring_answered: deque[float] = deque(maxlen=SAMPLE_SIZE)
        self.ring_failed: deque[float] = deque(maxlen=SAMPLE_SIZE)
        self.talk = Durations()
        self.wrapup = Durations()
        self.samples_seen = 0
        self.clusters: deque[int] = deque(maxlen=SAMPLE_SIZE)
        self._cluster_abandons = 0
        self._cluster_squares = 0
        self._last_abandon = -math.inf

    def dial_ended(self, now: float, answered: bool, ring_seconds: float) -> None:
        self.outcomes.append(answered)
        if answered:
            self.answered += 1
            self.answered_at.append(now)
            self.ring_answered.append(ring_seconds)
        else:
            self.ring_failed.append(ring_seconds)
        self.samples_seen += 1

    def abandon(self, now: float) -> None:
        self.abandoned += 1
        self.abandoned_at.append(now)
        self._cluster(now)

    def _cluster(self, now: float) -> None:
        clusters = self.clusters
        if now - self._last_abandon <= CLUSTER_GAP and clusters:
            size = clusters[-1]
            clusters[-1] = size + 1
            self._cluster_squares += 2 * size + 1
        else:
            if len(clusters) == clusters.maxlen:
                dropped = clusters.popleft()
                self._cluster_abandons -= dropped
                self._cluster_squares -= dropped * dropped
            clusters.append(1)
            self._cluster_squares += 1
        self._cluster_abandons += 1
        self._last_abandon = now

    def dispersion(self) -> float:
        """Variance over mean of the number of abandons in a window: abandons come in
        clusters (answers that arrive together), and for clusters of sizes c this is
        E[c^2] / E[c] (1 for lone abandons). PRIOR_CLUSTERS lone ones start it off."""
        return (self._cluster_squares + PRIOR_CLUSTERS) / (self._cluster_abandons + PRIOR_CLUSTERS)

    def talk_ended(self, now: float, talk_seconds: float) -> None:
        self.talk.add(now, talk_seconds)
        self.samples_seen += 1

    def wrapup_ended(self, now: float, wrapup_seconds: float) -> None:
        self.wrapup.add(now, wrapup_seconds)
        self.samples_seen += 1

    def prune(self, now: float) -> None:
        """Forget answers and abandons older than an hour."""
        start = now - HOUR
        for times in (self.answered_at, self.abandoned_at):
            while times and times[0] < start:
                times.popleft()

    def restore(self, now: float, history: PacerHistory) -> None:
        self.dialed = history.dialed
        self.answered = history.answered
        self.abandoned = history.abandoned
        self.answered_at = deque(sorted(now - ago for ago in history.answered_ago))
        self.abandoned_at = deque(sorted(now - ago for ago in history.abandoned_ago))
        self.clusters.clear()
        self._cluster_abandons = self._cluster_squares = 0
        self._last_abandon = -math.inf
        for at in self.abandoned_at:
            self._cluster(at)
        self.ring_answered = deque(history.ring_seconds, maxlen=SAMPLE_SIZE)
        self.ring_failed = deque(history.failed_ring_seconds, maxlen=SAMPLE_SIZE)
        self.talk.restore(now, history.talk_seconds)
        self.wrapup.restore(now, history.wrapup_seconds)
        answers = len(self.ring_answered)
        failures = len(self.ring_failed)
        if not failures and history.answered and history.dialed > history.answered:
            # No failure times kept: the life answer rate stands in for the recent one.
            failures = round(answers * (history.dialed - history.answered) / history.answered)
        self.outcomes = deque(_interleaved(answers, failures), maxlen=SAMPLE_SIZE)
        self.samples_seen = len(self.outcomes) + len(self.talk) + len(self.wrapup)
        self.prune(now)

    def warm(self) -> bool:
        """Enough outcomes measured to forecast."""
        return (
            len(self.outcomes) >= WARMUP_OUTCOMES
            and len(self.ring_answered) >= WARMUP_ANSWERS
            and len(self.talk) >= WARMUP_TALKS
            and len(self.wrapup) >= WARMUP_WRAPUPS
        )

    def statistics(
        self, dial_level: float, risk_threshold: float | None, warming_up: bool
    ) -> PacerStatistics:
        return PacerStatistics(
            dialed=self.dialed,
            answered=self.answered,
            abandoned=self.abandoned,
            answer_rate=_ratio(sum(self.outcomes), len(self.outcomes)),
            abandon_rate=_ratio(self.abandoned, self.answered),
            abandon_rate_last_hour=_ratio(len(self.abandoned_at), len(self.answered_at)),
            mean_ring_seconds=_mean(self.ring_answered),
            mean_talk_seconds=_mean(self.talk.seconds()),
            mean_wrapup_seconds=_mean(self.wrapup.seconds()),
            dial_level=dial_level,
            risk_threshold=risk_threshold,
            warming_up=warming_up,
        )


class Survival:
    """The Kaplan-Meier estimate of a duration's survival function from complete
    durations and censored ones (still going after that long)."""

    def __init__(self, complete: Iterable[float], censored: Iterable[float] = ()) -> None:
        events = sorted(complete)
        still = sorted(censored)
        self.times: list[float] = []
        self.values: list[float] = []
        at_risk = len(events) + len(still)
        survival = 1.0
        i = j = 0
        while i < len(events):
            t = events[i]
            while j < len(still) and still[j] < t:
                at_risk -= 1
                j += 1
            ended = 0
            while i < len(events) and events[i] == t:
                ended += 1
                i += 1
            survival *= 1.0 - ended / at_risk
            at_risk -= ended
            self.times.append(t)
            self.values.append(survival)
        self.count = len(events)
        self.tail_start = events[-TAIL_SAMPLES] if len(events) >= TAIL_SAMPLES else -math.inf
        self._descending = [-value for value in self.values]

    def __call__(self, x: float) -> float:
        """P(duration > x)."""
        i = bisect_right(self.times, x)
        return self.values[i - 1] if i else 1.0

    def quantile(self, q: float) -> float:
        """The smallest measured duration with P(duration <= it) >= q (the longest if
        the estimate never gets there); 0 without data."""
        if not self.times:
            return 0.0
        i = bisect_left(self._descending, q - 1.0)
        return self.times[min(i, len(self.times) - 1)]

    def supported(self, x: float) -> bool:
        """Whether at least TAIL_SAMPLES measured durations were longer than x: beyond,
        too little is known of the law, and a busy agent is taken to stay busy."""
        return x < self.tail_start


Row = tuple[float, ...]
"""Per horizon k < K, four blocks of K: a probability (negated for agents freeing up),
its Bernoulli variance p(1 - p) and third cumulant p(1 - p)(1 - 2p) (negated for
agents), and 1 where the probability is positive for a call (it may answer), so that
the rows of a floor's calls and agents simply add up."""


def _row(probabilities: Iterable[float], sign: float) -> Row:
    ps = [min(1.0, max(0.0, p)) for p in probabilities]
    return (
        *(sign * p for p in ps),
        *(p * (1.0 - p) for p in ps),
        *(sign * p * (1.0 - p) * (1.0 - 2.0 * p) for p in ps),
        *(1.0 if sign > 0 and p > 0.0 else 0.0 for p in ps),
    )


def _call_row(probabilities: Iterable[float]) -> Row:
    return _row(probabilities, 1.0)


def _agent_row(probabilities: Iterable[float]) -> Row:
    return _row(probabilities, -1.0)


ZERO_ROW: Row = (0.0,) * (4 * HORIZONS)


class Forecast:
    """The measured distributions turned into per-horizon probabilities."""

    def __init__(self, log: OutcomeLog, max_wait: float, view: FloorView) -> None:
        outcomes = log.outcomes
        self.answer_rate = sum(outcomes) / len(outcomes) if outcomes else 0.0
        self.ring = Survival(log.ring_answered)
        self.failure = Survival(log.ring_failed)
        now = view.now
        talking: list[float] = []
        wrapping: list[float] = []
        for agent in view.busy_agents:
            if agent.phase is AgentPhase.TALKING:
                if agent.since >= log.talk.cutoff:
                    talking.append(now - agent.since)
            elif agent.since >= log.wrapup.cutoff:
                wrapping.append(now - agent.since)
        self.talk = Survival(log.talk.cohort(), talking)
        self.wrapup = Survival(log.wrapup.cohort(), wrapping)
        self.max_wait = max_wait
        longest_ring = max(self.ring.quantile(0.995), 1.0)
        self.horizons = tuple(longest_ring * (k + 1) / HORIZONS for k in range(HORIZONS))
        self.new_call = self._ringing(0.0)
        answered = self.new_call[:HORIZONS]
        self.new_call_answer = answered[-1]
        self.new_call_slots = tuple(
            answered[k] - (answered[k - 1] if k else 0.0) for k in range(HORIZONS)
        )
        oldest = max(self.ring.times[-1:] + self.failure.times[-1:], default=0.0)
        self.ringing_rows = [self._ringing(age + 0.5) for age in range(int(oldest) + 1)]
        self.talk_bin = max(0.1, self.talk.quantile(0.5) / TALK_BIN_DIVISOR)
        self.wrapup_bin = max(0.1, self.wrapup.quantile(0.5) / WRAPUP_BIN_DIVISOR)
        self.wrapup_points = [
            self.wrapup.quantile((j + 0.5) / WRAPUP_QUANTILES) for j in range(WRAPUP_QUANTILES)
        ]
        self.talking_bins = self._last_bin(self.talk, lambda s: math.sqrt(s / self.talk_bin))
        self.wrapup_bins = self._last_bin(self.wrapup, lambda s: s / self.wrapup_bin)
        self.talking_rows: dict[int, Row] = {}
        self.wrapup_rows: dict[int, Row] = {}

    @staticmethod
    def _last_bin(survival: Survival, bin_of: Callable[[float], float]) -> int:
        """A bin past which every row is zero (durations beyond the measured ones)."""
        if survival.tail_start < 0.0:
            return 0
        return int(bin_of(survival.tail_start)) + 1

    def _ringing(self, age: float) -> Row:
        """P(answered within each horizon | still ringing at `age`)."""
        p = self.answer_rate
        alive = self.ring(age)
        still_ringing = p * alive + (1.0 - p) * self.failure(age)
        if still_ringing <= 0.0:
            return ZERO_ROW
        return _call_row(p * (alive - self.ring(age + t)) / still_ringing for t in self.horizons)

    def ringing_row(self, age_bin: int) -> Row:
        rows = self.ringing_rows
        return rows[age_bin] if 0 <= age_bin < len(rows) else ZERO_ROW

    def talking_row(self, elapsed_bin: int) -> Row:
        """P(free within each horizon + max_wait) for an agent in talk bin
        `elapsed_bin` (talk_bin k^2 to talk_bin (k + 1)^2 seconds into a call), its
        wrap-up still to come."""
        row = self.talking_rows.get(elapsed_bin)
        if row is None:
            talk = self.talk
            s = (elapsed_bin + 0.5) ** 2 * self.talk_bin
            left = talk(s)
            if not talk.supported(s) or left <= 0.0:
                row = ZERO_ROW
            else:
                points = self.wrapup_points
                row = _agent_row(
                    sum(max(0.0, left - talk(s + t + self.max_wait - w)) for w in points)
                    / (len(points) * left)
                    for t in self.horizons
                )
            self.talking_rows[elapsed_bin] = row
        return row

    def wrapup_row(self, elapsed_bin: int) -> Row:
        """P(free within each horizon + max_wait) for an agent `elapsed_bin` bins into
        wrap-up."""
        row = self.wrapup_rows.get(elapsed_bin)
        if row is None:
            wrapup = self.wrapup
            s = (elapsed_bin + 0.5) * self.wrapup_bin
            left = wrapup(s)
            if not wrapup.supported(s) or left <= 0.0:
                row = ZERO_ROW
            else:
                row = _agent_row(
                    (left - wrapup(s + t + self.max_wait)) / left for t in self.horizons
                )
            self.wrapup_rows[elapsed_bin] = row
        return row


def _bins(
    sinces: list[float], now: float, lower_edge: Callable[[int], float], last_bin: int
) -> list[tuple[int, int]]:
    """(bin, count) of the times in `sinces` (ascending) by time elapsed until `now`:
    bin k holds lower_edge(k) <= elapsed < lower_edge(k + 1); bin `last_bin` all beyond."""
    counts = []
    older = len(sinces)
    k = 0
    while older:
        if k == last_bin:
            counts.append((k, older))
            break
        next_older = bisect_right(sinces, now - lower_edge(k + 1))
        if older > next_older:
            counts.append((k, older - next_older))
        older = next_older
        k += 1
    return counts


def _at_least_zero(mean: float, variance: float, skew: float, highest: float) -> float:
    """P(D >= 0) for an integer D at most `highest` with these cumulants: the normal law
    with Edgeworth's skewness term (sums of Bernoulli variables of small probability
    have a long right tail, and the decisions are made in that tail)."""
    if highest < 0.0:
        return 0.0
    if variance < 1e-12:
        return 1.0 if mean > -0.5 else 0.0
    sd = math.sqrt(variance)
    z = (-0.5 - mean) / sd
    upper = 0.5 * math.erfc(z * _SQRT_HALF)
    upper += _INV_SQRT_2PI * math.exp(-0.5 * z * z) * skew / (6.0 * variance * sd) * (z * z - 1.0)
    return min(1.0, max(0.0, upper))


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class OutcomeKeeper:
    """The outcome callbacks of the `Pacer` protocol, feeding an `OutcomeLog`: what every
    pacer does with outcomes before it decides anything."""

    def __init__(self) -> None:
        self._log = OutcomeLog()
        self._level = 0.0

    def dial_ended(self, now: float, answered: bool, ring_seconds: float) -> None:
        self._log.dial_ended(now, answered, ring_seconds)

    def connected(self, now: float, waited: float) -> None:
        pass

    def abandoned(self, now: float) -> None:
        self._log.abandon(now)

    def talk_ended(self, now: float, talk_seconds: float) -> None:
        self._log.talk_ended(now, talk_seconds)

    def wrapup_ended(self, now: float, wrapup_seconds: float) -> None:
        self._log.wrapup_ended(now, wrapup_seconds)

    def restore(self, now: float, history: PacerHistory) -> None:
        self._log.restore(now, history)


class PredictivePacer(OutcomeKeeper):
    """Predictive pacing under an abandonment budget (see the module docstring)."""

    def __init__(
        self,
        abandon_target: float = 0.03,
        max_wait: float = 2.0,
        *,
        max_lines_per_agent: float = 6.0,
        reserve_sd: float = 3.0,
        replan_interval: float = 0.5,
    ) -> None:
        if not 0.0 < abandon_target < 1.0:
            raise ValueError("abandon_target must be between 0 and 1")
        if max_wait < 0 or max_lines_per_agent < 1 or reserve_sd < 0 or replan_interval < 0:
            raise ValueError("max_wait, reserve_sd and replan_interval must be >= 0, "
                             "max_lines_per_agent >= 1")  # fmt: skip
        self.abandon_target = abandon_target
        self.max_wait = max_wait
        self.max_lines_per_agent = max_lines_per_agent
        self.reserve_sd = reserve_sd
        self.replan_interval = replan_interval
        super().__init__()
        self._forecast: Forecast | None = None
        self._forecast_at = -math.inf
        self._forecast_samples = 0
        self._last_plan = -math.inf

    # -- outcomes

    def restore(self, now: float, history: PacerHistory) -> None:
        super().restore(now, history)
        self._forecast = None
        self._last_plan = -math.inf

    @property
    def statistics(self) -> PacerStatistics:
        warm = self._log.warm()
        return self._log.statistics(self._level, self.risk_threshold() if warm else None, not warm)

    # -- the decision

    def risk_threshold(self) -> float:
        """theta: the highest probability of abandoning once answered that the marginal
        call may have, from the slack of the life and last-hour budgets."""
        log = self._log
        dispersion = log.dispersion()
        scale = min(
            self._budget_scale(log.answered, log.abandoned, dispersion),
            self._budget_scale(len(log.answered_at), len(log.abandoned_at), dispersion),
        )
        return self.abandon_target * min(MAX_RISK_SCALE, max(MIN_RISK_SCALE, scale))

    def _budget_scale(self, answered: int, abandoned: int, dispersion: float) -> float:
        allowed = self.abandon_target * answered
        reserve = self.reserve_sd * math.sqrt(dispersion * allowed) + 1.0
        # One abandon short of the limit is spent: the next one must not cross it.
        return (allowed - abandoned - 1.0) / reserve

    def calls_to_place(self, view: FloorView) -> int:
        now = view.now
        self._log.prune(now)
        agents = view.idle_agents + len(view.busy_agents)
        ringing = len(view.ringing_since)
        if agents <= 0:
            self._level = 0.0
            return 0
        room = int(self.max_lines_per_agent * agents) - ringing
        if room <= 0 or now - self._last_plan < self.replan_interval:
            return 0
        self._last_plan = now
        if self._log.warm():
            calls = self._predict(view, room)
        else:
            calls = view.idle_agents - ringing - view.waiting
        calls = max(0, min(calls, room))
        self._log.dialed += calls
        self._level = (ringing + calls) / agents
        return calls

    def _current_forecast(self, view: FloorView) -> Forecast:
        seen = self._log.samples_seen
        forecast = self._forecast
        if forecast is None or (
            seen != self._forecast_samples
            and (
                view.now - self._forecast_at >= MODEL_REFRESH_SECONDS
                or seen >= 1.25 * self._forecast_samples + 10
            )
        ):
            forecast = self._forecast = Forecast(self._log, self.max_wait, view)
            self._forecast_at = view.now
            self._forecast_samples = seen
        return forecast

    def _predict(self, view: FloorView, room: int) -> int:
        now = view.now
        forecast = self._current_forecast(view)
        threshold = self.risk_threshold()
        # Sums over the floor of each horizon's (mean, variance, skew, possible) rows.
        floor = [0.0] * (4 * HORIZONS)
        talking = sorted([a.since for a in view.busy_agents if a.phase is AgentPhase.TALKING])
        wrapping = sorted([a.since for a in view.busy_agents if a.phase is AgentPhase.WRAPUP])
        talk_bin, wrapup_bin = forecast.talk_bin, forecast.wrapup_bin
        for sinces, lower_edge, last_bin, row_of in (
            (
                sorted(view.ringing_since),
                float,
                len(forecast.ringing_rows),
                forecast.ringing_row,
            ),
            (
                talking,
                lambda k: talk_bin * k * k,
                forecast.talking_bins,
                forecast.talking_row,
            ),
            (
                wrapping,
                lambda k: wrapup_bin * k,
                forecast.wrapup_bins,
                forecast.wrapup_row,
            ),
        ):
            for key, count in _bins(sinces, now, lower_edge, last_bin):
                row = row_of(key)
                if row is ZERO_ROW:
                    continue
                if count == 1:
                    floor = list(map(operator.add, floor, row))
                else:
                    floor = list(map(operator.add, floor, map(float(count).__mul__, row)))

        answer = forecast.new_call_answer
        if answer <= 0.0:
            return 0
        base = view.waiting - view.idle_agents
        mean = [base + m for m in floor[:HORIZONS]]
        variance = floor[HORIZONS : 2 * HORIZONS]
        skew = floor[2 * HORIZONS : 3 * HORIZONS]
        highest = [base + h for h in floor[3 * HORIZONS :]]
        new = forecast.new_call
        slots = forecast.new_call_slots

        def risk(placed: int) -> float:
            """P(abandon | answered) of one more call after `placed` new ones."""
            total = worst = 0.0
            for k in range(HORIZONS - 1, -1, -1):
                p = new[k]
                worst = max(
                    worst,
                    _at_least_zero(
                        mean[k] + placed * p,
                        variance[k] + placed * new[HORIZONS + k],
                        skew[k] + placed * new[2 * HORIZONS + k],
                        highest[k] + (placed if p > 0.0 else 0),
                    ),
                )
                total += slots[k] * worst
            return total / answer

        return _most_calls(risk, threshold, room)


def _most_calls(risk: Callable[[int], float], threshold: float, room: int) -> int:
    """The largest n <= room with risk(i) <= threshold for every i < n (risk grows
    with i)."""
    if risk(0) > threshold:
        return 0
    # Gallop, then bisect.
    low, high = 1, 2
    while high <= room and risk(high - 1) <= threshold:
        low, high = high, high * 2
    if high > room:
        if risk(room - 1) <= threshold:
            return room
        high = room
    while high - low > 1:
        middle = (low + high) // 2
        if risk(middle - 1) <= threshold:
            low = middle
        else:
            high = middle
    return low
