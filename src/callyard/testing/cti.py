"""An agent's desktop on the vcall CTI's WebSocket, for tests and benchmarks: sends
requests, keeps every event and answer it receives (in a thread of its own), and waits
for the ones asked for."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

SOCKET_PATH = "/ccs/api/agent/ws"


class AgentDesk:
    """One socket to `server_url` (http://host:port), as an agent's desktop opens it."""

    def __init__(self, server_url: str, token: str = "") -> None:
        url = server_url.replace("http://", "ws://", 1) + SOCKET_PATH
        if token:
            url += f"?token={token}"
        self._socket: ClientConnection = connect(url, open_timeout=10, legacy=True)
        self.messages: list[dict[str, Any]] = []
        self.received_at: list[float] = []  # time.time() as each message arrived
        self.closed_with: int | None = None
        self._arrived = threading.Condition()
        self._sequence = int(time.time() * 1000)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while True:
                raw = self._socket.recv()
                arrived = time.time()
                with self._arrived:
                    self.messages.append(json.loads(raw))
                    self.received_at.append(arrived)
                    self._arrived.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._arrived:
                self.closed_with = self._socket.close_code or 1000
                self._arrived.notify_all()

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._arrived:
            return [m for m in self.messages if m.get("type") == "event"]

    def send(self, request: str, **fields: Any) -> int:
        """Send a request; its sequence."""
        self._sequence += 1
        self._socket.send(json.dumps({"request": request, "sequence": self._sequence, **fields}))
        return self._sequence

    def send_raw(self, data: str | bytes) -> None:
        """Send anything (a client's mistake; bytes go as a binary frame)."""
        self._socket.send(data)

    def ask(self, request: str, timeout: float = 10, **fields: Any) -> dict[str, Any]:
        """Send a request and wait for its answer."""
        sequence = self.send(request, **fields)
        return self.wait(
            lambda m: m.get("type") == "response" and m.get("sequence") == sequence, timeout
        )

    def event(self, name: str, timeout: float = 10, **where: Any) -> dict[str, Any]:
        """The first event `name` (with the fields `where`) received, waiting for it."""
        return self.wait(
            lambda m: (
                m.get("type") == "event"
                and m.get("event") == name
                and all(m.get(k) == v for k, v in where.items())
            ),
            timeout,
        )

    def wait(self, match: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = next((m for m in self.messages if match(m)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self.closed_with is not None:
                    names = [m.get("event") or m.get("msg") for m in self.messages]
                    raise TimeoutError(f"not received; got {names} (closed: {self.closed_with})")
                self._arrived.wait(left)

    def wait_closed(self, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while self.closed_with is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the socket is still open")
                self._arrived.wait(left)
            return self.closed_with

    def close(self) -> None:
        self._socket.close()
        self._reader.join(5)
