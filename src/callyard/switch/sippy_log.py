"""sippy's complaints as callyard's log lines.

sippy reports a problem by writing a traceback and the whole message on stdout
(`dump_exception`, which many of its modules import by name), and prints other things
here and there. In the SIP process each becomes one JSON line of the
`callyard.switch.sip` logger: the problem, the exception's type and message, and, when
it came with a datagram, its source and its first DATAGRAM_BYTES bytes, without a
traceback (a peer sent something sippy cannot parse; a traceback is kept for the
rest). At most LINES_PER_WINDOW lines are written every WINDOW_SECONDS, then one line
telling how many were left out, so that a flood of garbage cannot flood the log.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("callyard.switch.sip")

LINES_PER_WINDOW = 20
WINDOW_SECONDS = 10.0
DATAGRAM_BYTES = 200
TEXT_CHARS = 300  # of an exception's message or a printed line


class ProblemLog:
    """Logs sippy's problems, rate limited (any thread)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        lines: int = LINES_PER_WINDOW,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self._clock = clock
        self._lines = lines
        self._window = window
        self._lock = threading.Lock()
        self._window_start = float("-inf")
        self._logged = 0
        self._left_out = 0
        self._handling = threading.local()  # the datagram this thread handles, if any

    @contextlib.contextmanager
    def handling(self, datagram: bytes | str, source: str) -> Iterator[None]:
        """Problems reported meanwhile in this thread come with this datagram."""
        self._handling.datagram = (datagram, source)
        try:
            yield
        finally:
            self._handling.datagram = None

    def report(
        self, problem: str, error: BaseException | None = None, printed: str | None = None
    ) -> None:
        """Log one problem (sippy's description, its exception, a line it printed)."""
        if not self._admit():
            return
        fields: dict[str, Any] = {}
        if error is not None:
            fields["error"] = _clip(f"{type(error).__name__}: {error}")
        if printed is not None:
            fields["printed"] = _clip(printed)
        datagram = getattr(self._handling, "datagram", None)
        if datagram is not None:
            data, fields["source"] = datagram
            raw = data if isinstance(data, bytes) else data.encode(errors="replace")
            fields["datagram"] = raw[:DATAGRAM_BYTES].decode(errors="backslashreplace")[
                :DATAGRAM_BYTES
            ]
        with_traceback = error is not None and datagram is None
        log.warning(_clip(problem), extra=fields, exc_info=error if with_traceback else None)

    def flush(self) -> None:
        """Log how many problems were left out lately, if any."""
        with self._lock:
            left_out, self._left_out = self._left_out, 0
        self._log_left_out(left_out)

    def _admit(self) -> bool:
        with self._lock:
            now = self._clock()
            left_out = 0
            if now - self._window_start >= self._window:
                left_out, self._left_out = self._left_out, 0
                self._window_start, self._logged = now, 0
            admitted = self._logged < self._lines
            if admitted:
                self._logged += 1
            else:
                self._left_out += 1
        self._log_left_out(left_out)
        return admitted

    def _log_left_out(self, count: int) -> None:
        if count:
            log.warning("SIP problems not logged", extra={"left_out": count})


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS] + "..."


class PrintedLines(io.TextIOBase):
    """A stdout whose lines are reported as problems (sippy prints what it dislikes)."""

    MAX_LINE = 4096  # a line without its end yet is reported once this long

    def __init__(self, problems: ProblemLog) -> None:
        super().__init__()
        self._problems = problems
        self._lock = threading.Lock()
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            *lines, self._partial = (self._partial + text).split("\n")
            if len(self._partial) >= self.MAX_LINE:
                lines.append(self._partial)
                self._partial = ""
        for line in lines:
            if line.strip():
                self._problems.report("sippy printed a line", printed=line)
        return len(text)


PROBLEMS = ProblemLog()  # sippy is one per process, and so is where it reports


def report_sippy_problems(problems: ProblemLog = PROBLEMS) -> None:
    """Make sippy report its problems to `problems`: its `dump_exception` in every module
    that imported it (and in any imported later), and whatever escapes the handling of
    an incoming message. Call it in the SIP thread, before any transaction manager
    exists."""
    from sippy.Core import Exceptions as exceptions
    from sippy.SipTransactionManager import SipTransactionManager

    original = exceptions.dump_exception

    def dump_exception(msg: str, f: Any = None, extra: Any = None) -> None:
        problems.report(str(msg), sys.exc_info()[1])

    exceptions.dump_exception = dump_exception
    for name, module in list(sys.modules.items()):
        if name.startswith("sippy") and getattr(module, "dump_exception", None) is original:
            vars(module)["dump_exception"] = dump_exception

    handle = SipTransactionManager.handleIncoming

    def handle_incoming(self: Any, data: bytes | str, remote: Any, server: Any, rtime: Any) -> None:
        host, port = remote.address
        with problems.handling(data, f"{host}:{port}"):
            try:
                handle(self, data, remote, server, rtime)
            except Exception as exc:
                problems.report("SIP message not handled", exc)

    SipTransactionManager.handleIncoming = handle_incoming
