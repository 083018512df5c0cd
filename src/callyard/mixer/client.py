"""The mixer as another process uses it: `Mixer` starts the mixer process and sends it
requests, from any thread, each answered before the call returns."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from multiprocessing.connection import Connection
from types import TracebackType

from callyard.child import Started, StartFailed, Stop, Stopped, receive, send
from callyard.mixer.link import (
    Answer,
    Close,
    Hearing,
    Join,
    Leave,
    MixerSettings,
    MixerStats,
    Request,
    SendTo,
    StatsQuery,
)

__all__ = ["Mixer", "MixerError", "MixerStats"]

START_SECONDS = 10.0  # importing numpy, building the G.711 tables
REQUEST_SECONDS = 3.0
STOP_SECONDS = 3.0
# The mixer is one thread on one core: numpy's BLAS starts no pool of its own there.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class MixerError(RuntimeError):
    """The mixer refused a request, did not answer it, or is not running."""


class Mixer:
    """One mixer process and its control link; every method is thread-safe."""

    def __init__(self, address: str, ports: tuple[int, int], advertise: str | None = None) -> None:
        """Start the mixer process listening on `address`, party ports from `ports`
        (inclusive); SDP names `advertise` if given. Raises MixerError if it cannot start."""
        self.address = advertise or address
        self._lock = threading.Lock()
        self._request_ids = itertools.count(1)
        self._gone: str | None = None  # why requests fail, once they all do
        ours, theirs = socket.socketpair()
        child_fd = theirs.detach()
        try:
            self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-m", "callyard.mixer.host", str(child_fd)],
                pass_fds=(child_fd,),
                stdin=subprocess.DEVNULL,
                env={**os.environ, **ONE_THREAD},
            )
        except OSError as exc:
            ours.close()
            raise MixerError(f"the mixer cannot start: {exc}") from exc
        finally:
            os.close(child_fd)
        self._link: Connection | None = Connection(ours.detach())
        try:
            send(self._link, MixerSettings(address, ports))
            first = self._first_message(self._link)
        except (OSError, EOFError):
            first = None  # it exited before answering
        if not isinstance(first, Started):
            process = self._process
            self._end(kill=True)
            exited = process.returncode if process is not None else None
            if isinstance(first, StartFailed | str):
                reason = first if isinstance(first, str) else first.message
            else:
                reason = f"the process exited (status {exited})"
            raise MixerError(f"the mixer cannot start: {reason}")

    @property
    def pid(self) -> int | None:
        """The mixer process's id while it runs (None once stopped)."""
        return self._process.pid if self._process is not None else None

    def join(
        self,
        room: str,
        party: str,
        payload_type: int,
        remote: tuple[str, int] | None = None,
    ) -> int:
        """Add `party` to `room` (the room is made on first use), talking G.711 in
        `payload_type` (0 or 8) both ways; returns the local port the party sends to.
        `remote`: where it receives (None: learnt from its first packet). A new party
        hears everyone else, and everyone whose hearing is 'everyone' hears it."""
        port = self._ask(Join(self._next_id(), room, party, payload_type, remote))
        if not isinstance(port, int):
            raise MixerError(f"the mixer answered {port!r} for a port")
        return port

    def send_to(self, room: str, party: str, address: str, port: int) -> None:
        """Where `party` receives from now on."""
        self._ask(SendTo(self._next_id(), room, party, address, port))

    def hearing(self, room: str, listener: str, speakers: Iterable[str] | None) -> None:
        """Whom `listener` hears: the named parties, or everyone else (None)."""
        named = frozenset(speakers) if speakers is not None else None
        self._ask(Hearing(self._next_id(), room, listener, named))

    def leave(self, room: str, party: str) -> None:
        """Remove a party (its port is freed); a room left empty is removed."""
        self._ask(Leave(self._next_id(), room, party))

    def close(self, room: str) -> None:
        """Remove a room and all its parties (unknown rooms: nothing)."""
        self._ask(Close(self._next_id(), room))

    def stats(self) -> MixerStats:
        """Rooms, parties and the loop's counters, from the mixer process."""
        stats = self._ask(StatsQuery(self._next_id()))
        if not isinstance(stats, MixerStats):
            raise MixerError(f"the mixer answered {stats!r} for its statistics")
        return stats

    def stop(self) -> None:
        """Stop the process (killed if it does not exit within a few seconds)."""
        with self._lock:
            if self._process is None:
                return
            link = self._link
            if link is not None and self._gone is None:
                try:
                    send(link, Stop())
                    deadline = time.monotonic() + STOP_SECONDS
                    while link.poll(max(deadline - time.monotonic(), 0)):
                        if isinstance(receive(link), Stopped):
                            break
                except (OSError, EOFError):
                    pass  # it is gone already
            self._end(kill=False)
            self._gone = "the mixer is stopped"

    def __enter__(self) -> Mixer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _next_id(self) -> int:
        with self._lock:
            return next(self._request_ids)

    def _ask(self, request: Request) -> int | MixerStats | None:
        with self._lock:
            link = self._link
            if link is None or self._gone is not None:
                raise MixerError(self._gone or "the mixer is not running")
            try:
                send(link, request)
                answer = self._answer_to(link, request.request_id)
            except (OSError, EOFError) as exc:
                self._gone = f"the mixer process is gone ({self._exit_status()})"
                raise MixerError(self._gone) from exc
        if answer.error is not None:
            raise MixerError(answer.error)
        return answer.result

    def _answer_to(self, link: Connection, request_id: int) -> Answer:
        deadline = time.monotonic() + REQUEST_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not link.poll(remaining):
                raise MixerError(f"the mixer did not answer within {REQUEST_SECONDS:g} s")
            message = receive(link)
            # An answer to a request whose caller gave up waiting is dropped here.
            if isinstance(message, Answer) and message.request_id == request_id:
                return message

    def _exit_status(self) -> str:
        status = self._process.poll() if self._process is not None else None
        return "still running" if status is None else f"exit status {status}"

    @staticmethod
    def _first_message(link: Connection) -> object:
        if not link.poll(START_SECONDS):
            return f"no answer within {START_SECONDS:g} s"
        return receive(link)

    def _end(self, kill: bool) -> None:
        process, link = self._process, self._link
        self._process = self._link = None
        if process is not None:
            if kill:
                process.kill()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if link is not None:
            link.close()
