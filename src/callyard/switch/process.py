"""The SIP process as the server sees it: started, sent messages, heard on the event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection

from callyard.child import Started, StartFailed, Stop, Stopped, receive, send
from callyard.switch.link import SipSettings

log = logging.getLogger("callyard.switch.process")

# Events come in bursts while the event loop is busy elsewhere; a deep buffer lets the
# SIP process write on instead of waiting for the server to read.
LINK_BUFFER = 4 * 1024 * 1024
START_SECONDS = 30.0  # importing sippy and the relay, binding the socket
STOP_SECONDS = 10.0  # hanging up every call


class SipProcess:
    """One `python -m callyard.switch.host` child and its link.

    `receive` gets every message from the child, on the event loop, in order. `lost` is
    called once if the child ends without being asked to (with its exit status).
    """

    def __init__(
        self,
        receive: Callable[[object], None],
        lost: Callable[[int | None], None],
    ) -> None:
        self._receive = receive
        self._lost = lost
        self._process: subprocess.Popen[bytes] | None = None
        self._link: Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ended = asyncio.Event()
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self, settings: SipSettings) -> None:
        """Start the child and wait until it listens; raises if it cannot."""
        ours, theirs = socket.socketpair()
        for end in (ours, theirs):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, LINK_BUFFER)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, LINK_BUFFER)
        child_fd = theirs.detach()
        try:
            self._process = await asyncio.to_thread(
                subprocess.Popen,
                [sys.executable, "-m", "callyard.switch.host", str(child_fd)],
                pass_fds=(child_fd,),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(child_fd)
        link = self._link = Connection(ours.detach())
        try:
            send(link, settings)
            first = await asyncio.to_thread(_first_message, link, START_SECONDS)
        except BaseException:
            await self._reap(kill=True)
            raise
        if not isinstance(first, Started):
            await self._reap(kill=True)
            reason = first.message if isinstance(first, StartFailed) else "it exited"
            raise RuntimeError(f"SIP switch failed to start: {reason}")
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(link.fileno(), self._readable)

    def send(self, message: object) -> None:
        """Hand a message to the child (a command, an account snapshot, a query)."""
        link = self._link
        if link is None or self._ended.is_set():
            raise RuntimeError("SIP switch is not running")
        try:
            send(link, message)
        except OSError as exc:
            raise RuntimeError(f"SIP switch is not running: {exc}") from exc

    async def stop(self) -> None:
        """Ask the child to hang up every call and exit; kill it if it has not stopped in
        STOP_SECONDS."""
        if self._link is None:
            return
        self._stopping = True
        stopped = self._ended.is_set()
        if not stopped:
            try:
                send(self._link, Stop())
                await asyncio.wait_for(self._ended.wait(), STOP_SECONDS)
                stopped = True
            except (OSError, TimeoutError):
                log.warning("the SIP switch did not stop in time: killed")
        await self._reap(kill=not stopped)

    def _readable(self) -> None:
        link = self._link
        assert link is not None
        try:
            while link.poll():
                message = receive(link)
                if isinstance(message, Stopped):
                    self._end()
                    return
                self._receive(message)
        except (EOFError, OSError):
            self._end()

    def _end(self) -> None:
        if self._ended.is_set():
            return
        self._ended.set()
        if self._loop is not None and self._link is not None:
            self._loop.remove_reader(self._link.fileno())
        if not self._stopping:
            status = self._process.poll() if self._process is not None else None
            log.error("the SIP switch process ended", extra={"status": status})
            self._lost(status)

    async def _reap(self, kill: bool) -> None:
        process, link = self._process, self._link
        self._ended.set()
        if self._loop is not None and link is not None:
            self._loop.remove_reader(link.fileno())
            self._loop = None
        if process is not None:
            if kill:
                process.kill()
            try:
                await asyncio.to_thread(process.wait, STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        if link is not None:
            link.close()
        self._link = None


def _first_message(link: Connection, timeout: float) -> object:
    if not link.poll(timeout):
        raise RuntimeError(f"SIP switch did not start within {timeout:.0f} s")
    try:
        return receive(link)
    except EOFError:
        return None
