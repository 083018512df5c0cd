"""What callyard's child processes (the SIP switch, the conference mixer) share: messages
over the socket pair to the process that started them, and how they present
themselves (named for ps and top, deaf to SIGINT and SIGTERM: the parent stops them in
order)."""

from __future__ import annotations

import ctypes
import pickle
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection

_PR_SET_NAME = 15


@dataclass(frozen=True)
class Started:
    """The child is up and takes messages (its first answer to its settings)."""


@dataclass(frozen=True)
class StartFailed:
    """The child could not start (a port taken, an address it does not have)."""

    message: str


@dataclass(frozen=True)
class Stop:
    """End what the child carries (calls, rooms), close its sockets and exit."""


@dataclass(frozen=True)
class Stopped:
    """Everything is closed; the child exits next."""


def send(link: Connection, message: object) -> None:
    """Write one message (plain pickle: multiprocessing's own pickler is slower)."""
    link.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))


def receive(link: Connection) -> object:
    """Read one message; EOFError once the other side is gone."""
    # The link is a socket pair between a process and the child it started: trusted.
    return pickle.loads(link.recv_bytes())  # noqa: S301


def become(name: bytes) -> None:
    """Name this process (and the threads it starts) `name`, and leave SIGINT and
    SIGTERM (a terminal's Ctrl-C, a service manager's stop) to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)
    except (OSError, AttributeError):
        pass
