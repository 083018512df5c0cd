"""The mixer process: `python -m callyard.mixer.host FD`.

A `client.Mixer` starts it. It reads its settings from the socket FD, answers Started
(or StartFailed), then runs the media loop (`engine.Engine.run`) with the socket among
the files it waits on: requests are read and answered between ticks. It ends on Stop,
or when the process that started it is gone (end of file); SIGINT and SIGTERM are left
to that process, which stops it in order.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from multiprocessing.connection import Connection

from callyard import logs
from callyard.child import Started, StartFailed, Stop, Stopped, become, receive, send
from callyard.mixer.engine import Engine, RequestError
from callyard.mixer.link import (
    Answer,
    Close,
    Hearing,
    Join,
    Leave,
    MixerSettings,
    SendTo,
    StatsQuery,
)

log = logging.getLogger("callyard.mixer.host")

PROCESS_NAME = b"callyard-mixer"


class MixerHost:
    """The mixer process's side of the link: requests in, answers out."""

    def __init__(self, link: Connection, engine: Engine) -> None:
        self._link = link
        self._engine = engine

    def serve(self) -> None:
        """Run the media loop until Stop or end of file."""
        self._engine.run(self._link.fileno(), self._readable)

    def _readable(self) -> bool:
        """Answer every request waiting; False once it is time to stop."""
        while True:
            try:
                message = receive(self._link)
            except (EOFError, OSError):
                log.warning("the process that started the mixer is gone; stopping")
                return False
            if isinstance(message, Stop):
                return False
            try:
                send(self._link, self._answer(message))
            except OSError:
                return False
            if not self._link.poll():
                return True

    def _answer(self, message: object) -> Answer:
        request_id = getattr(message, "request_id", -1)
        engine = self._engine
        try:
            if isinstance(message, Join):
                port = engine.join(
                    message.room, message.party, message.payload_type, message.remote
                )
                return Answer(request_id, port)
            if isinstance(message, SendTo):
                engine.send_to(message.room, message.party, message.address, message.port)
            elif isinstance(message, Hearing):
                engine.hearing(message.room, message.listener, message.speakers)
            elif isinstance(message, Leave):
                engine.leave(message.room, message.party)
            elif isinstance(message, Close):
                engine.close(message.room)
            elif isinstance(message, StatsQuery):
                return Answer(request_id, engine.stats())
            else:
                return Answer(request_id, error=f"unknown request {type(message).__name__}")
        except RequestError as exc:
            return Answer(request_id, error=str(exc))
        except Exception as exc:
            log.exception("mixer request failed", extra={"kind": type(message).__name__})
            return Answer(request_id, error=f"{type(exc).__name__}: {exc}")
        return Answer(request_id)


def main(argv: list[str]) -> int:
    become(PROCESS_NAME)
    link = Connection(int(argv[1]))
    try:
        settings = receive(link)
    except (EOFError, OSError):
        return 2
    if not isinstance(settings, MixerSettings):
        return 2
    logs.configure(settings.log_level)
    try:
        engine = Engine(settings.address, settings.ports)
    except (OSError, ValueError) as exc:
        send(link, StartFailed(str(exc)))
        link.close()
        return 1
    send(link, Started())
    try:
        MixerHost(link, engine).serve()
    finally:
        engine.shutdown()
        with contextlib.suppress(OSError):  # nobody may be listening any more
            send(link, Stopped())
        link.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
