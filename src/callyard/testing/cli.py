"""The `callyard` command for tests: each command a process of its own, forked from a
process that imported the CLI once.

Starting Python and importing callyard take about a second per command, more than most
commands themselves, and a test suite runs hundreds. Forked, a command still has its own
process, arguments, environment, working directory, standard streams and exit status, as
when run from a shell. `spawned` runs `python -m callyard` itself.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

COMMAND = "callyard"


def serve() -> None:
    """The forking process: one JSON request a line on stdin (args, env, cwd, and the
    files for stdout and stderr), answered with the command's exit status on stdout."""
    from callyard.cli.main import main

    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(main, request)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


def _child(main: Callable[[], None], request: dict[str, object]) -> None:
    code = 1
    try:
        os.chdir(str(request["cwd"]))
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update(env)
        for path, stream in ((os.devnull, 0), (request["out"], 1), (request["err"], 2)):
            file = os.open(str(path), os.O_RDWR)
            os.dup2(file, stream)
            os.close(file)
        # Not the requests this process had read ahead.
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the command's stdin till it exits)
        args = request["args"]
        assert isinstance(args, list)
        sys.argv = [COMMAND, *args]
        try:
            main()
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class _Forks:
    """The forking process of this one, started with the first command."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        atexit.register(self.stop)

    def run(self, args: list[str], request: dict[str, object], timeout: float) -> int:
        with self._lock:
            process = self._started()
            assert process.stdin is not None
            assert process.stdout is not None
            process.stdin.write(json.dumps({"args": args, **request}) + "\n")
            process.stdin.flush()
            # One line comes per request, so nothing waits in the pipe's reader buffer.
            ready, _, _ = select.select([process.stdout], [], [], timeout)
            answer = process.stdout.readline() if ready else ""
            if not answer:
                self.stop()
                raise subprocess.TimeoutExpired([COMMAND, *args], timeout)
            return int(answer)

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-c", "from callyard.testing.cli import serve; serve()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._process

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


_forks = _Forks()


def forked(
    args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run one `callyard` command in a process forked from the one that imported the CLI."""
    with tempfile.TemporaryDirectory(prefix="callyard-cli-") as workdir:
        out, err = Path(workdir, "stdout"), Path(workdir, "stderr")
        out.touch()
        err.touch()
        request: dict[str, object] = {
            "env": {**os.environ, **(env or {})},
            "cwd": os.getcwd(),
            "out": str(out),
            "err": str(err),
        }
        code = _forks.run(list(args), request, timeout)
        return subprocess.CompletedProcess([COMMAND, *args], code, out.read_text(), err.read_text())


def spawned(
    args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run one `callyard` command as `python -m callyard`, from the interpreter's start."""
    return subprocess.run(
        [sys.executable, "-m", COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
