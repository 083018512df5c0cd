"""Conference mixer benchmark: three-party rooms through callyard's mixer, on loopback (see
bench/README.md). bench/conference/run runs this inside a network namespace of its own.

  load generator (one process, pinned to BENCH_LOAD_CPU): three parties per room, each a
      UDP socket sending its own tone (440, 1000 or 600 Hz) as 20 ms PCMU RTP on an
      absolute schedule, and reading what the mixer sends back to the parties of one
      room in BENCH_CONFERENCE_READ_EVERY (the others' sockets are never read: the kernel
      drops what they cannot hold, which costs the mixer no less than a reader would)
  -> callyard.mixer (its own process, pinned to BENCH_MIXER_CPU): each party hears the
      other two of its room

The number of simultaneous rooms goes up in steps (BENCH_CONFERENCE_STEPS); rooms are
added to those already there, each step is held BENCH_CONFERENCE_SETTLE seconds before
it is measured for BENCH_CONFERENCE_SECONDS. Per step:

- the mixer's CPU (its own user + system time, from its statistics) as a share of one
  core, and per conference per second (ms);
- frames the mixer counted late (a tick run more than 20 ms after its deadline, or
  skipped because the loop fell more than three frames behind);
- at the receivers (the parties read), over their streams in the window (arrival times are the
  kernel's receive timestamps, SO_TIMESTAMPNS, so the generator's own scheduling does not
  shift them):
  - lost: frames a party did not get: the frames the mixer's RTP timestamps span between
    the first and the last packet of the window, less those received, plus stretches of
    more than one frame with no packet at either end of the window;
  - gaps: of those, the ones that show as sequence gaps (sent by the mixer, never read);
  - late: packets that arrived more than 40 ms after their due time, the due time being
    the stream's RTP timestamp plus its smallest transit in the window (its best-case
    delay: a packet sent on time arrives within a millisecond);
- tones: the parties of the first room and of the newest room read of every step so far
  each hear exactly the other two tones of their room (`callyard.testing.audio`: a
  level of at least 0.02 of full scale; each tone is sent at 0.25);
- the generator's own CPU and its late ticks (a saturated generator makes the figures
  of the step meaningless: the run stops there);
- the CPU the rest of the machine used meanwhile (both CPUs' busy time from /proc/stat,
  less the mixer, the generator and this driver): a failed step during which it was over
  10 % of a core is measured again, up to three tries in all.

The run stops after the last step, after two failed steps in a row, or after a failed
step with the mixer over 90 % of its core. The largest step with no late and no lost
frame anywhere (and the right tones) is the result.

Settings (environment): BENCH_CONFERENCE_STEPS (10,25,50,100,150,200,300,400,500,600,700,
800,1000), BENCH_CONFERENCE_SETTLE (2), BENCH_CONFERENCE_SECONDS (8),
BENCH_CONFERENCE_READ_EVERY (4), BENCH_MIXER_CPU (0), BENCH_LOAD_CPU (1), BENCH_RESULTS
(bench/results/conference.json).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from rtp_load import (
    HOST,
    env_float,
    env_int,
    env_steps,
    generator_running,
    machine_busy_seconds,
    pin,
)

from callyard.mixer import g711
from callyard.mixer.client import Mixer, MixerStats
from callyard.testing.audio import HEARD_FLOOR

ROOT = Path(__file__).resolve().parents[2]
MIXER_PORTS = (20000, 29999)
TONES = (440.0, 1000.0, 600.0)  # the first, second and third party of every room
DISTURBED_PERCENT = 10.0  # other work on the machine beyond which a failed step is redone
TRIES = 3


# -- the driver ------------------------------------------------------------------------------


@dataclass
class Step:
    rooms: int
    seconds: float
    mixer_cpu_percent: float
    mixer_cpu_ms_per_conference_second: float
    mixer_ticks: int
    mixer_frames_late: int
    frames_sent: int
    receivers_read: int  # parties whose streams were read and counted
    receivers_expected: int
    receivers_received: int
    receivers_lost: int
    receivers_gaps: int
    receivers_late: int
    tones_right: bool
    tone_levels: dict[str, dict[float, float]]  # sampled party -> tone -> level
    generator_cpu_percent: float
    generator_ticks_late: int
    generator_send_errors: int
    others_cpu_percent: float  # the rest of the machine (both CPUs), kernel included
    tries: int = 1

    @property
    def clean(self) -> bool:
        return (
            self.mixer_frames_late == 0
            and self.receivers_lost == 0
            and self.receivers_late == 0
            and self.tones_right
        )

    @property
    def disturbed(self) -> bool:
        """Other work on the machine took more than a tenth of a core meanwhile."""
        return self.others_cpu_percent > DISTURBED_PERCENT

    @property
    def generator_saturated(self) -> bool:
        late = self.generator_ticks_late > 0 and not self.disturbed
        return late or self.generator_cpu_percent > 90


class Bench:
    def __init__(self, mixer: Mixer, generator: Connection) -> None:
        self.mixer = mixer
        self.generator = generator
        self.rooms = 0

    def ask(self, kind: str, value: Any = None) -> Any:
        self.generator.send((kind, value))
        if not self.generator.poll(60):
            raise RuntimeError(f"the load generator did not answer {kind!r}")
        return self.generator.recv()

    def grow(self, rooms: int) -> None:
        """Add rooms (three parties each) until there are `rooms`."""
        added = rooms - self.rooms
        if added <= 0:
            return
        addresses = self.ask("add", added)
        ports = []
        for number in range(added):
            room = f"room{self.rooms + number}"
            for index, name in enumerate(("a", "b", "c")):
                ports.append(self.mixer.join(room, name, g711.PCMU, addresses[3 * number + index]))
        self.ask("ports", ports)
        self.rooms = rooms

    def measure(self, rooms: int, settle: float, seconds: float) -> Step:
        self.grow(rooms)
        time.sleep(settle)
        before: MixerStats = self.mixer.stats()
        self.ask("measure")
        started = time.monotonic()
        busy_before, own_before = machine_busy_seconds(), time.process_time()
        time.sleep(seconds)
        load = self.ask("report")
        after: MixerStats = self.mixer.stats()
        busy = machine_busy_seconds() - busy_before
        own = time.process_time() - own_before
        wall = time.monotonic() - started
        cpu = after.cpu_seconds - before.cpu_seconds
        others = max(0.0, busy - cpu - load["cpu_seconds"] - own)
        levels: dict[str, dict[float, float]] = {
            str(index): tones for index, tones in load["heard"].items()
        }
        tones_right = bool(levels) and all(
            {f for f, level in tones.items() if level >= HEARD_FLOOR}
            == set(TONES) - {TONES[int(index) % 3]}
            for index, tones in levels.items()
        )
        return Step(
            rooms=rooms,
            seconds=round(wall, 2),
            mixer_cpu_percent=round(100 * cpu / wall, 1),
            mixer_cpu_ms_per_conference_second=round(1000 * cpu / rooms / wall, 3),
            mixer_ticks=after.ticks - before.ticks,
            mixer_frames_late=after.frames_late - before.frames_late,
            frames_sent=after.frames_sent - before.frames_sent,
            receivers_read=load["parties_read"],
            receivers_expected=load["expected"],
            receivers_received=load["received"],
            receivers_lost=load["lost"],
            receivers_gaps=load["gaps"],
            receivers_late=load["late"],
            tones_right=tones_right,
            tone_levels=levels,
            generator_cpu_percent=round(100 * load["cpu_seconds"] / load["window_seconds"], 1),
            generator_ticks_late=load["ticks_late"],
            generator_send_errors=load["send_errors"],
            others_cpu_percent=round(100 * others / wall, 1),
        )


HEADER = (
    f"{'rooms':>6} {'mixer CPU %':>11} {'ms/conf/s':>9} {'mixer late':>10} {'rx lost':>8} "
    f"{'rx gaps':>7} {'rx late':>7} {'tones':>5} {'load CPU %':>10} {'load late':>9} "
    f"{'other CPU %':>11}"
)


def row(step: Step) -> str:
    return (
        f"{step.rooms:>6} {step.mixer_cpu_percent:>11.1f} "
        f"{step.mixer_cpu_ms_per_conference_second:>9.3f} {step.mixer_frames_late:>10} "
        f"{step.receivers_lost:>8} {step.receivers_gaps:>7} {step.receivers_late:>7} "
        f"{'ok' if step.tones_right else 'WRONG':>5} {step.generator_cpu_percent:>10.1f} "
        f"{step.generator_ticks_late:>9} {step.others_cpu_percent:>11.1f}"
        f"{'' if step.tries == 1 else f'  (try {step.tries})'}"
    )


def main() -> int:
    steps = env_steps("BENCH_CONFERENCE_STEPS", "10,25,50,100,150,200,300,400,500,600,700,800,1000")
    settle = env_float("BENCH_CONFERENCE_SETTLE", 2)
    seconds = env_float("BENCH_CONFERENCE_SECONDS", 8)
    mixer_cpu = env_int("BENCH_MIXER_CPU", 0)
    load_cpu = env_int("BENCH_LOAD_CPU", 1)
    read_every = env_int("BENCH_CONFERENCE_READ_EVERY", 4)
    results = Path(
        os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "results" / "conference.json"
    )
    os.sched_setaffinity(0, {load_cpu})  # the driver mostly sleeps; it sits with the load

    mixer = Mixer(HOST, MIXER_PORTS)
    assert mixer.pid is not None
    pin(mixer.pid, mixer_cpu)
    with generator_running(load_cpu, read_every, TONES) as control:
        bench = Bench(mixer, control)
        measured: list[Step] = []
        redone: list[Step] = []  # tries measured again because the machine was busy
        stopped_because = "the last step"
        print(f"mixer pid {mixer.pid} on CPU {mixer_cpu}, load generator on CPU {load_cpu}; "
              f"each step settles {settle:g} s, measured {seconds:g} s", flush=True)  # fmt: skip
        print(HEADER, flush=True)
        try:
            failed_in_a_row = 0
            for rooms in steps:
                for tries in range(1, TRIES + 1):
                    step = bench.measure(rooms, settle, seconds)
                    step.tries = tries
                    print(row(step), flush=True)
                    if step.clean or not step.disturbed or tries == TRIES:
                        break
                    redone.append(step)
                measured.append(step)
                if step.generator_saturated:
                    stopped_because = "the load generator could not keep up"
                    break
                failed_in_a_row = 0 if step.clean else failed_in_a_row + 1
                if failed_in_a_row >= 2:
                    stopped_because = "two failed steps in a row"
                    break
                if not step.clean and step.mixer_cpu_percent > 90:
                    stopped_because = "a failed step with the mixer's core saturated"
                    break
        finally:
            mixer.stop()

    clean = [step for step in measured if step.clean and not step.generator_saturated]
    best = max((step.rooms for step in clean), default=None)
    report = {
        "best_rooms_without_late_or_lost_frames": best,
        "stopped_after": stopped_because,
        "settle_seconds": settle,
        "measured_seconds": seconds,
        "mixer_cpu": mixer_cpu,
        "load_cpu": load_cpu,
        "read_every": read_every,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "steps": [asdict(step) | {"clean": step.clean} for step in measured],
        "redone": [asdict(step) | {"clean": step.clean} for step in redone],
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(report, indent=2) + "\n")
    print()
    if best is None:
        print("no step without late or lost frames")
    else:
        cpu = next(step for step in clean if step.rooms == best)
        print(f"largest step with no late and no lost frame: {best} rooms of three "
              f"({cpu.mixer_cpu_percent:.1f} % of a core, "
              f"{cpu.mixer_cpu_ms_per_conference_second:.3f} ms per conference per second); "
              f"stopped after {stopped_because}")  # fmt: skip
    print(f"results: {results}")
    return 0 if best is not None else 1


if __name__ == "__main__":
    sys.exit(main())
