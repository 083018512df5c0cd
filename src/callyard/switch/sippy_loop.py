"""sippy's event loop, woken reliably when another thread hands it work.

sippy's loop sleeps in libelperiodic between ticks (100 a second) and is woken by a
signal when another thread calls `callFromThread`. A signal that arrives while the loop
runs the work already handed over (with the signal blocked) is taken just before the
next sleep and wakes nothing: the work handed over meanwhile then waits for the next
tick, up to 10 ms. The SIP receiver and the relay's reader hand work over all the
time, often while the loop is busy (a relay answer comes a fraction of a millisecond
after the command), so a third of the answers waited for a tick.

`ReliableWaker` takes libelperiodic's place in the loop: the same ticks, and work from
other threads in a queue; a thread that hands work to a sleeping loop wakes it through
an eventfd, and the loop looks at the queue once more after saying it sleeps, so no
wake-up is lost.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections import deque
from collections.abc import Callable
from typing import Any


class ReliableWaker:
    """What sippy's event dispatcher needs of libelperiodic: `procrastinate` (sleep until
    the next tick, or until work comes) and `call_from_thread`."""

    def __init__(self, frequency: float = 100.0) -> None:
        self._period = 1.0 / frequency
        self._next_tick = time.monotonic() + self._period
        self._work: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._sleeping = False
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    def call_from_thread(self, handler: Callable[..., Any], *args: Any) -> int:
        """Queue `handler(*args)` for the loop's thread; wake it if it sleeps."""
        self._work.append((handler, args))
        # The loop sets `_sleeping` before it looks at the queue a last time: either it
        # sees this work, or this sees it sleeping (the interpreter orders both).
        if self._sleeping:
            with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending
                os.eventfd_write(self._wake_fd, 1)
        return 0

    def procrastinate(self) -> None:
        """Run the work handed over; sleep until the next tick unless more comes."""
        self._serve()
        now = time.monotonic()
        if now < self._next_tick:
            self._sleeping = True
            try:
                if not self._work:
                    readable, _, _ = select.select([self._wake_fd], [], [], self._next_tick - now)
                    if readable:
                        with contextlib.suppress(BlockingIOError):
                            os.eventfd_read(self._wake_fd)
            finally:
                self._sleeping = False
            self._serve()
            now = time.monotonic()
        if now >= self._next_tick:
            missed = (now - self._next_tick) // self._period
            self._next_tick += (missed + 1) * self._period

    def _serve(self) -> None:
        work = self._work
        while work:
            handler, args = work.popleft()
            handler(*args)

    def addband(self, frequency: float) -> int:
        raise NotImplementedError("one frequency only")

    def useband(self, band: int) -> None:
        raise NotImplementedError("one frequency only")


def wake_reliably() -> None:
    """Put a ReliableWaker in sippy's event dispatcher (before any thread hands it work)."""
    from sippy.Core.EventDispatcher import ED2

    ED2.elp = ReliableWaker(ED2.bands[0][0])
