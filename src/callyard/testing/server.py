"""A real `callyard serve` process for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from callyard.testing.cli import forked


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def callyard(*args: str, env: dict[str, str] | None = None, check: bool = True) -> Any:
    """Run a CLI command; returns its JSON output (or the CompletedProcess when check is
    False)."""
    result = forked(args, env)
    if not check:
        return result
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class Server:
    """Starts `callyard serve`, waits for /healthz, stops it with a signal."""

    def __init__(
        self,
        data_dir: Path,
        *args: str,
        env: dict[str, str] | None = None,
        sip_port: int | None = None,
        sip_ws: bool = False,
    ) -> None:
        self.port = free_port()
        self.sip_port = sip_port or free_port(socket.SOCK_DGRAM)
        # SIP over WebSocket (browsers) on a TCP port of its own.
        self.sip_ws_port = next(p for p in iter(free_port, None) if p != self.port)
        if sip_ws:
            args = (*args, "--sip-ws-port", str(self.sip_ws_port))
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.stdout_path = data_dir.parent / f"serve-{self.port}.out"
        self.stderr_path = data_dir.parent / f"serve-{self.port}.err"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "callyard",
                "serve",
                "--http",
                f"127.0.0.1:{self.port}",
                "--sip",
                f"127.0.0.1:{self.sip_port}",
                "--data-dir",
                str(data_dir),
                *args,
            ],
            stdout=self.stdout_path.open("w"),
            stderr=self.stderr_path.open("w"),
            env={**os.environ, **(env or {})},
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.process.kill()  # a server that never came up must not outlive its test
            self.process.wait(10)
            raise

    def _wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"callyard exited: {self.stderr_path.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("callyard did not become healthy")

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=20)
