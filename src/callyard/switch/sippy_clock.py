"""sippy's clocks through the standard library.

sippy reads the time with `clock_gettime` called through ctypes, several times per SIP
message. A ctypes call releases the interpreter lock, and under load getting it back
means waiting for whichever thread took it: on a busy switch that wait was a fifth of
the SIP thread's time. `time.clock_gettime` reads the same clocks without letting go.
"""

from __future__ import annotations

import time


def _seconds(clock: int) -> float:
    return time.clock_gettime(clock)


def _nanoseconds(clock: int) -> int:
    return time.clock_gettime_ns(clock)


def use_standard_clocks() -> None:
    """Point sippy's time functions at `time.clock_gettime` (same clock ids)."""
    from sippy.Security import SipNonce
    from sippy.Time import MonoTime, clock_dtime

    clock_dtime.clock_getdtime = _seconds
    clock_dtime.clock_getntime = _nanoseconds
    MonoTime.clock_getdtime = _seconds
    SipNonce.clock_getntime = _nanoseconds
