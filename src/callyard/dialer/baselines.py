"""The two pacers the predictive one is measured against, on the same `Pacer` protocol.

- `ProgressivePacer`: one line per idle agent. An agent with a ringing call is reserved
  for it, and so is one for each waiting customer: calls_to_place = idle agents -
  ringing calls - waiting customers, never below 0. Almost no abandons, but agents wait
  through every ring and every failed call.
- `VicidialAdaptivePacer`: an adaptive dial level in the style of VICIdial. Once per
  second of `now` (every whole second that has passed since the last update, applied
  one by one): if the task's life abandon rate exceeds the target, level = 1.0;
  otherwise level *= 1 + (ready agents - waiting customers) / logged-in agents, kept
  within [1.0, 3.0]. Ready agents are the idle ones, logged-in agents idle plus busy.
  Calls in flight follow level x ready agents: calls_to_place = max(0, round(level x
  ready agents) - ringing calls), rounded half up. Waiting customers, wrap-up, talk
  time and ring age play no other part.
"""

from __future__ import annotations

import math

from callyard.dialer.pacing import FloorView, OutcomeKeeper, PacerStatistics


class _CountingPacer(OutcomeKeeper):
    """What the baselines share beyond the outcome bookkeeping."""

    @property
    def statistics(self) -> PacerStatistics:
        return self._log.statistics(self._level, None, False)

    def _placed(self, view: FloorView, calls: int) -> int:
        calls = max(0, calls)
        self._log.dialed += calls
        agents = view.idle_agents + len(view.busy_agents)
        self._level = (len(view.ringing_since) + calls) / agents if agents else 0.0
        return calls


class ProgressivePacer(_CountingPacer):
    """One line per idle agent."""

    def calls_to_place(self, view: FloorView) -> int:
        self._log.prune(view.now)
        return self._placed(view, view.idle_agents - len(view.ringing_since) - view.waiting)


class VicidialAdaptivePacer(_CountingPacer):
    """A VICIdial-style adaptive dial level (see the module docstring)."""

    MAX_LEVEL = 3.0

    def __init__(self, abandon_target: float = 0.03) -> None:
        super().__init__()
        self.abandon_target = abandon_target
        self.level = 1.0
        self._updated_at: float | None = None

    def calls_to_place(self, view: FloorView) -> int:
        now = view.now
        self._log.prune(now)
        if self._updated_at is None:
            self._updated_at = now
        agents = view.idle_agents + len(view.busy_agents)
        while now - self._updated_at >= 1.0:
            self._updated_at += 1.0
            log = self._log
            if log.answered and log.abandoned / log.answered > self.abandon_target:
                self.level = 1.0
            elif agents:
                grown = self.level * (1.0 + (view.idle_agents - view.waiting) / agents)
                self.level = min(self.MAX_LEVEL, max(1.0, grown))
        target = math.floor(self.level * view.idle_agents + 0.5)
        return self._placed(view, target - len(view.ringing_since))
