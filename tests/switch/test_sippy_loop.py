"""The SIP loop's waker: work handed over from other threads is never left waiting."""

from __future__ import annotations

import threading

from callyard.switch.sippy_loop import ReliableWaker

# Ticks 100 s apart: a wake-up that got lost would leave `procrastinate` asleep, and the
# join below would give up on it.
RARE_TICKS = 0.01
JOIN_SECONDS = 10


def procrastinate_in_a_thread(waker: ReliableWaker) -> threading.Thread:
    loop = threading.Thread(target=waker.procrastinate, daemon=True)
    loop.start()
    return loop


def test_work_from_another_thread_wakes_the_sleeping_loop() -> None:
    waker = ReliableWaker(RARE_TICKS)
    ran = threading.Event()
    loop = procrastinate_in_a_thread(waker)
    while not waker._sleeping:  # wait until it sleeps
        threading.Event().wait(0.001)
    waker.call_from_thread(ran.set)
    loop.join(JOIN_SECONDS)
    assert not loop.is_alive()
    assert ran.is_set()


def test_work_handed_over_while_the_loop_works_runs_before_it_sleeps() -> None:
    waker = ReliableWaker(RARE_TICKS)
    order: list[str] = []
    second_ran = threading.Event()

    def second() -> None:
        order.append("second")
        second_ran.set()

    def first() -> None:
        # Another thread hands work over while the loop is busy with this.
        handing = threading.Thread(target=waker.call_from_thread, args=(second,))
        handing.start()
        handing.join()
        order.append("first")

    waker.call_from_thread(first)
    loop = procrastinate_in_a_thread(waker)
    assert second_ran.wait(JOIN_SECONDS)
    assert order == ["first", "second"]
    waker.call_from_thread(lambda: None)  # let the loop's sleep end
    loop.join(JOIN_SECONDS)
    assert not loop.is_alive()


def test_with_no_work_the_loop_returns_at_its_tick() -> None:
    waker = ReliableWaker(100.0)
    loop = procrastinate_in_a_thread(waker)
    loop.join(JOIN_SECONDS)
    assert not loop.is_alive()
