"""HTTP/1.1 over plain sockets, for clients no library would be: silent, slow, huge,
gone mid-request."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WAIT = 20.0  # seconds: generous, for a busy machine; only ever an upper bound to give up


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=WAIT)


def head(method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    """A request line and headers, up to the blank line that ends them."""
    fields = [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(chunk: bytes, total: int) -> Iterator[bytes]:
    """`total` bytes of `chunk` repeated, as chunks of chunked transfer coding."""
    for _ in range(total // len(chunk)):
        yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
    yield b"0\r\n\r\n"


def repeated(start: bytes, filler: bytes, total: int) -> Iterator[bytes]:
    """`start`, then `filler` repeated up to `total` bytes in all."""
    yield start
    for _ in range((total - len(start)) // len(filler)):
        yield filler


def send_until_answered(
    sock: socket.socket, parts: Iterator[bytes], each: Callable[[], None] = lambda: None
) -> int:
    """Send `parts` one after another until the server answers or closes; the bytes sent."""
    sent = 0
    for part in parts:
        if answered(sock):
            break
        try:
            sock.sendall(part)
        except OSError:  # the server closed: its answer may still be waiting to be read
            break
        sent += len(part)
        each()
    return sent


def answered(sock: socket.socket, wait: float = 0) -> bool:
    """Whether the server has sent something (or closed) within `wait` seconds."""
    readable, _, _ = select.select([sock], [], [], wait)
    return bool(readable)


def read_reply(sock: socket.socket) -> Reply:
    """One response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv(sock)
    top, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = top.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += _recv(sock)
    return Reply(int(status_line.split()[1]), headers, body[:length])


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("closed before a whole response")
    return data


def closed_by_server(sock: socket.socket, wait: float = WAIT) -> bool:
    """Whether the server closes the connection within `wait` seconds (anything it sends
    first is read and dropped)."""
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        if not answered(sock, left):
            return False
        try:
            if not sock.recv(65536):
                return True
        except ConnectionError:
            return True
    return False


def rss_bytes(pid: int) -> int:
    """The process's resident set size now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")
