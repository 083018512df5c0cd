"""More softphones for the tests, scripted like `Baresip`, behind one `Phone` protocol.

Agents bring different phones; callyard is tested against several SIP stacks:

- `Linphone`: linphonec 5.1 (Debian `linphone-cli`, liblinphone) driven on stdin. Its file
  mode plays a WAV as microphone and records what it hears.
- `Pjsua`: PJSIP 2.15 through pjsua2 (PyPI `pjsua2-python`), in a process of its own
  (tests/sip/pjsua_phone.py) spoken to in JSON lines, so that a crash in PJSIP cannot
  take pytest down. The null sound device clocks its conference bridge.
- `Twinkle`: twinkle-console 1.10 (Debian `twinkle-console`) driven on stdin. ALSA's
  `file` plugin stands in for the sound card (see `Twinkle`).

Each phone has its own directory, SIP port (on 127.0.0.1) and RTP ports; offers PCMU,
PCMA and telephone-event (RFC 4733 DTMF) only; sends its WAV (8 kHz mono 16-bit, looped)
and records each call's received audio as a WAV in `recordings/`. Output lines become
`PhoneEvent`s; each `wait_*` returns the first matching event after the one the previous
`wait_*` returned, like `Baresip`'s.

Traps handled here (see also tests/sip/README.md):
- liblinphone's network monitor decides from the namespace's routes whether there is a
  network (a default route from 127.0.0.1 has been seen to count as none):
  `auto_net_state_mon=0` takes the network as it is, so no route is needed, and
  `register_only_when_network_is_up=0` (without it, nothing says the network is up and
  it never registers).
- liblinphone wants `~/.local/share/linphone` to exist (its database): each Linphone gets
  a HOME of its own.
- linphonec prints no registration events: the state is polled (`states proxies`).
- ALSA's null device does not keep time, so Twinkle would read its microphone as fast as
  it can and drop nearly all of it: the microphone is a FIFO fed in real time.
- Twinkle's Speex preprocessing (on by default) takes a steady tone for noise and its VAD
  then stops sending: both are off.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import wave
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, Self

from callyard.testing.sip import (
    LOOPBACK,
    Baresip,
    EventLog,
    HarnessError,
    RegistrationFailed,
    _stop_process,
    free_media_port,
    free_sip_port,
    status_code,
    write_tone_wav,
)

PJSUA_DRIVER = Path(__file__).resolve().parent / "pjsua_phone.py"
# What each phone needs installed: a program, or a Python module.
PHONE_NEEDS = {"linphone": "linphonec", "twinkle": "twinkle-console", "pjsua": "pjsua2"}


def missing_phones(names: Iterable[str]) -> list[str]:
    """What the named phones need and is not installed (baresip is checked elsewhere)."""
    missing = []
    for name in names:
        need = PHONE_NEEDS.get(name)
        if need is None:
            continue
        if name == "pjsua":
            if importlib.util.find_spec(need) is None:
                missing.append("the pjsua2 module (pjsua2-python)")
        elif shutil.which(need) is None:
            missing.append(need)
    return missing


class Phone(Protocol):
    """What the tests do with a softphone; `Baresip` and the phones here have it."""

    @property
    def contact(self) -> str:
        """A SIP URI that reaches the phone directly (no registrar)."""
        ...

    def start(self) -> Self: ...

    def stop(self) -> int | None: ...

    def wait_registered(self, timeout: float = 10.0) -> object:
        """The registration succeeded; RegistrationFailed when it failed."""
        ...

    def unregister(self, timeout: float = 10.0) -> None:
        """Send an un-REGISTER and wait for the phone to report it."""
        ...

    def dial(self, uri: str) -> None: ...

    def accept(self) -> None:
        """Answer the incoming call (with answermode="manual")."""
        ...

    def wait_incoming(self, timeout: float = 10.0) -> object: ...

    def wait_established(self, timeout: float = 10.0) -> object:
        """The call is up; CallClosed when it ended first."""
        ...

    def hangup(self) -> None: ...

    def wait_closed(self, timeout: float = 10.0) -> object: ...

    def hold(self, timeout: float = 10.0) -> None:
        """Put the call on hold (re-INVITE, sendonly or inactive) and wait for the answer."""
        ...

    def resume(self, timeout: float = 10.0) -> None:
        """Take the call off hold (re-INVITE, sendrecv) and wait for the answer."""
        ...

    def send_dtmf(self, digits: str) -> None:
        """Send digits as RFC 4733 telephone-events."""
        ...

    def received_dtmf(self) -> str:
        """The digits received as telephone-events so far, in order."""
        ...

    def received_wav(self) -> Path:
        """The recording of what the far end sent in the latest call."""
        ...

    def log(self) -> str: ...


def complete_wav_header(path: Path) -> Path:
    """Make a WAV's RIFF and data sizes match the file's length. A writer that never
    closed it (a phone that quit while tearing a call down) leaves them at 0."""
    with path.open("r+b") as wav:
        head = wav.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise HarnessError(f"{path}: not a WAV file")
        size = wav.seek(0, os.SEEK_END)
        offset = 12
        while offset + 8 <= size:
            wav.seek(offset)
            chunk, length = struct.unpack("<4sI", wav.read(8))
            if chunk == b"data":
                actual = size - offset - 8
                if length != actual:
                    wav.seek(offset + 4)
                    wav.write(struct.pack("<I", actual))
                    wav.seek(4)
                    wav.write(struct.pack("<I", size - 8))
                break
            offset += 8 + length + (length & 1)
    return path


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhoneEvent:
    """One thing a phone reported: `type` such as "registered", "incoming", "established",
    "held", "resumed", "dtmf", "closed"; `param` its detail (a digit, a closing reason
    such as "486 Busy Here")."""

    type: str
    param: str = ""
    at: float = field(default_factory=time.monotonic)

    @property
    def status(self) -> int | None:
        return status_code(self.param)


class PhoneEvents(EventLog[PhoneEvent]):
    """A phone's events in order, with a cursor for the `wait_*` methods."""

    def __init__(self, name: str, alive: Callable[[], bool]) -> None:
        super().__init__(name, alive, "registration_failed")

    def wait_quietly(self, wanted: PhoneEvent, timeout: float) -> None:
        """Wait for an event of `wanted`'s type and param, leaving the cursor alone."""
        with self.cond:
            found = self.cond.wait_for(
                lambda: any((e.type, e.param) == (wanted.type, wanted.param) for e in self.events),
                timeout,
            )
        if not found:
            what = f"{wanted.type}({wanted.param})"
            raise HarnessError(f"no {what} from {self.name} within {timeout:g} s")


class ScriptedPhone:
    """A softphone process fed commands on its stdin, whose stdout lines become events.

    The account is `sip:USER@DOMAIN:PORT` (the registrar's, or the switch's, address) with
    `password`; `regint` 0 (the default) never registers, which is enough to dial any SIP
    URI directly. `answermode` "auto" answers every call at once.
    """

    program = ""
    quit_command = "quit"

    def __init__(
        self,
        workdir: Path,
        *,
        user: str = "1001",
        password: str = "",
        domain: str = LOOPBACK,
        port: int = 5060,
        regint: int = 0,
        answermode: Literal["auto", "manual"] = "auto",
        audio: Path | None = None,
        sip_port: int | None = None,
        rtp_port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.user = user
        self.password = password
        self.domain = f"{domain}:{port}"
        self.regint = regint
        self.answermode = answermode
        self.audio = audio or workdir / "tone.wav"
        self.sip_port = sip_port or free_sip_port()
        self.rtp_port = rtp_port or free_media_port()
        self.recordings_dir = workdir / "recordings"
        self.transcript_path = workdir / f"{self.program}.out"
        self.events = PhoneEvents(self.program, lambda: self.running)
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stdin_lock = threading.Lock()

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    @property
    def contact(self) -> str:
        return f"sip:{self.user}@{LOOPBACK}:{self.sip_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # What each phone defines.

    def prepare(self) -> list[str]:
        """Write the phone's configuration; return its command line."""
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        return None

    def parse(self, line: str) -> Iterable[PhoneEvent]:
        """The events one output line reports."""
        raise NotImplementedError

    def ready(self, timeout: float) -> None:
        """Wait until the phone takes commands."""

    def detail_log(self) -> Path | None:
        """The phone's own (debug) log."""
        return None

    # Process.

    def start(self, timeout: float = 10.0) -> Self:
        if self._process is not None:
            raise HarnessError(f"{self.program} already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        if not self.audio.exists():
            write_tone_wav(self.audio, seconds=10)
        command = self.prepare()
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=self.environment(),
        )
        self._reader = threading.Thread(
            target=self._read_loop, name=f"{self.program}-out", daemon=True
        )
        self._reader.start()
        try:
            self.ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _read_loop(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        with self.transcript_path.open("w") as transcript:
            for raw in self._process.stdout:
                line = raw.decode(errors="replace").rstrip("\r\n")
                transcript.write(line + "\n")
                transcript.flush()
                for event in self.parse(line):
                    self.events.add(event)
        self.events.wake()

    def send_and_wait(self, line: str, event: str, timeout: float) -> PhoneEvent:
        """Send a command, then wait for the event that says it is done."""
        self.send(line)
        return self.events.wait([event], timeout, fail_on=["closed"])

    def send(self, line: str) -> None:
        """Write one command line to the phone's stdin."""
        process = self._process
        if process is None or process.stdin is None or process.poll() is not None:
            raise HarnessError(f"{self.program} is not running:\n{self.log()}")
        with self._stdin_lock:
            process.stdin.write(line.encode() + b"\n")
            process.stdin.flush()

    def stop(self, timeout: float = 5.0) -> int | None:
        """The phone's own quit (it hangs up and unregisters), then SIGTERM, SIGKILL."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(HarnessError, OSError):
                self.send(self.quit_command)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        code = _stop_process(process, [(signal.SIGTERM, 2.0)])
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if self._reader is not None:
            self._reader.join(2)
            self._reader = None
        self.cleanup()
        return code

    def cleanup(self) -> None:
        """Release what `prepare` set up besides the process."""

    def __enter__(self) -> Self:
        return self if self._process is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Waiting for events.

    def wait_registered(self, timeout: float = 10.0) -> PhoneEvent:
        return self.events.wait(["registered"], timeout, fail_on=["registration_failed"])

    def wait_unregistered(self, timeout: float = 10.0) -> PhoneEvent:
        return self.events.wait(["unregistered"], timeout, fail_on=["registration_failed"])

    def wait_incoming(self, timeout: float = 10.0) -> PhoneEvent:
        return self.events.wait(["incoming"], timeout)

    def wait_ringing(self, timeout: float = 10.0) -> PhoneEvent:
        return self.events.wait(["ringing"], timeout, fail_on=["closed"])

    def wait_established(self, timeout: float = 10.0) -> PhoneEvent:
        return self.events.wait(["established"], timeout, fail_on=["closed"])

    def wait_closed(self, timeout: float = 10.0) -> PhoneEvent:
        return self.events.wait(["closed"], timeout)

    def received_dtmf(self) -> str:
        return "".join(event.param for event in self.events.all() if event.type == "dtmf")

    def received_wav(self) -> Path:
        recordings = [
            path
            for path in self.recordings_dir.iterdir()
            if path.is_file() and path.stat().st_size > 44
        ]
        if not recordings:
            raise HarnessError(f"{self.program} recorded nothing in {self.recordings_dir}")
        latest = max(recordings, key=lambda path: (path.stat().st_mtime_ns, path.name))
        return complete_wav_header(latest)

    def log(self) -> str:
        """Its output, then the end of its own log."""
        parts = []
        for path in (self.transcript_path, self.detail_log()):
            if path is not None and path.exists():
                lines = path.read_text(errors="replace").splitlines()[-300:]
                parts.append(f"== {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)


# -- Linphone ------------------------------------------------------------------------------

_LINPHONE_LINES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Receiving new incoming call from (.*), assigned id \d+"), "incoming"),
    (re.compile(r"Call \d+ to (.*) ringing\."), "ringing"),
    (re.compile(r"Call \d+ with (.*) connected\."), "established"),
    (re.compile(r"Call \d+ with .* ended \((.*)\)\."), "closed"),
    (re.compile(r"Call \d+ with (.*) is now paused\."), "held"),
    (re.compile(r"Receiving tone (\S) from"), "dtmf"),
    (re.compile(r"'(sync-\d+)': Cannot understand this\."), "sync"),
    (re.compile(r"\|\s*LinphoneRegistration(\w+)\s*$"), "registration"),
]
_LINPHONE_REGISTRATION = {
    "Ok": "registered",
    "Failed": "registration_failed",
    "Cleared": "unregistered",
}


class Linphone(ScriptedPhone):
    """linphonec 5.1 (liblinphone) in file mode: `play` is the microphone, `record` the
    speaker (one file per call, `recordings/call-N.wav`). Hold is linphonec's `pause`.

    Registered (`regint` > 0), it sends every call through its registrar, as Linphone's
    apps do. It reports no status code for a failed registration; it sends DTMF digits,
    `*` and `#` (not A-D), one a second.
    """

    program = "linphonec"

    _calls = 0
    _syncs = 0
    _paused = False
    _registration = ""

    @property
    def home(self) -> Path:
        return self.workdir / "home"

    @property
    def config_path(self) -> Path:
        return self.workdir / "linphonerc"

    @property
    def log_path(self) -> Path:
        return self.workdir / "linphone.log"

    def config_text(self) -> str:
        sections: dict[str, dict[str, object]] = {
            "sip": {
                "sip_port": self.sip_port,
                "sip_tcp_port": 0,
                "sip_tls_port": 0,
                "use_ipv6": 0,
                "use_rfc2833": 1,
                "use_info": 0,
                # The network as it is, whatever the namespace's routes (module docstring).
                "auto_net_state_mon": 0,
                "register_only_when_network_is_up": 0,
                "default_proxy": 0 if self.regint > 0 else -1,
            },
            "rtp": {"audio_rtp_port": self.rtp_port, "video_rtp_port": self.rtp_port + 2},
            "sound": {"echocancellation": 0},
            "video": {"capture": 0, "display": 0},
            "misc": {"add_missing_audio_codecs": 0, "add_missing_video_codecs": 0},
            "audio_codec_0": {"mime": "PCMU", "rate": 8000, "enabled": 1},
            "audio_codec_1": {"mime": "PCMA", "rate": 8000, "enabled": 1},
        }
        if self.regint > 0:
            sections["proxy_0"] = {
                "reg_proxy": f"<sip:{self.domain}>",
                "reg_identity": self.aor,
                "reg_expires": self.regint,
                "reg_sendregister": 1,
            }
        if self.password:
            sections["auth_info_0"] = {"username": self.user, "passwd": self.password}
        return "".join(
            f"[{name}]\n" + "".join(f"{key}={value}\n" for key, value in keys.items())
            for name, keys in sections.items()
        )

    def prepare(self) -> list[str]:
        (self.home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text())
        command = ["linphonec", "-c", str(self.config_path), "-d", "4", "-l", str(self.log_path)]
        if self.answermode == "auto":
            command.append("-a")
        return command

    def environment(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home)}

    def detail_log(self) -> Path:
        return self.log_path

    def ready(self, timeout: float) -> None:
        self.send("soundcard use files")
        self.send(f"play {self.audio}")
        self._next_recording()
        self.sync(timeout)

    def sync(self, timeout: float = 10.0) -> None:
        """Wait until linphonec has run every command sent so far."""
        self._syncs += 1
        marker = f"sync-{self._syncs}"
        self.send(marker)
        self.events.wait_quietly(PhoneEvent("sync", marker), timeout)

    def _next_recording(self) -> None:
        self._calls += 1
        self.send(f"record {self.recordings_dir / f'call-{self._calls}.wav'}")

    def parse(self, line: str) -> Iterable[PhoneEvent]:
        for pattern, kind in _LINPHONE_LINES:
            match = pattern.search(line)
            if match is None:
                continue
            param = match.group(1)
            if kind == "registration":
                # Polled: only a change of state is an event.
                if param != self._registration and param in _LINPHONE_REGISTRATION:
                    yield PhoneEvent(_LINPHONE_REGISTRATION[param], param)
                self._registration = param
                return
            if kind == "closed":
                self._paused = False
                # Each call records into a file of its own.
                self._next_recording()
            elif kind == "held":
                self._paused = True
            yield PhoneEvent(kind, param)
            return
        if "Media streams established" in line and self._paused:
            self._paused = False
            yield PhoneEvent("resumed")

    def _poll_registration(self, types: Sequence[str], timeout: float) -> PhoneEvent:
        deadline = time.monotonic() + timeout
        while True:
            self.send("states proxies")
            try:
                return self.events.wait(types, 0.5, fail_on=["registration_failed"])
            except RegistrationFailed:
                raise
            except HarnessError:
                if time.monotonic() > deadline:
                    raise

    def wait_registered(self, timeout: float = 10.0) -> PhoneEvent:
        return self._poll_registration(["registered"], timeout)

    def unregister(self, timeout: float = 10.0) -> None:
        self.send("unregister")
        self._poll_registration(["unregistered"], timeout)

    def dial(self, uri: str) -> None:
        self.send(f"call {uri}")

    def accept(self) -> None:
        self.send("answer")

    def hangup(self) -> None:
        self.send("terminate")

    def hold(self, timeout: float = 10.0) -> None:
        self.send_and_wait("pause", "held", timeout)

    def resume(self, timeout: float = 10.0) -> None:
        self.send_and_wait("resume", "resumed", timeout)

    def send_dtmf(self, digits: str) -> None:
        # linphonec sends a line of digits as DTMF, one a second.
        self.send(digits)


# -- pjsua2 --------------------------------------------------------------------------------


class Pjsua(ScriptedPhone):
    """PJSIP's pjsua2 in a child process (tests/sip/pjsua_phone.py), with the null sound
    device: an AudioMediaPlayer is the microphone, an AudioMediaRecorder per call the
    speaker (`recordings/call-N.wav`). pjsua2 keeps its default of settling on one codec
    with a re-INVITE when an answer lists several."""

    program = "pjsua"
    quit_command = json.dumps({"cmd": "quit"})

    @property
    def config_path(self) -> Path:
        return self.workdir / "pjsua.json"

    @property
    def log_path(self) -> Path:
        return self.workdir / "pjsua.log"

    def prepare(self) -> list[str]:
        config = {
            "host": LOOPBACK,
            "user": self.user,
            "password": self.password,
            "domain": self.domain,
            "regint": self.regint,
            "answermode": self.answermode,
            "audio": str(self.audio),
            "sip_port": self.sip_port,
            "rtp_port": self.rtp_port,
            "recordings": str(self.recordings_dir),
            "log": str(self.log_path),
        }
        self.config_path.write_text(json.dumps(config, indent=2))
        return [sys.executable, str(PJSUA_DRIVER), str(self.config_path)]

    def detail_log(self) -> Path:
        return self.log_path

    def parse(self, line: str) -> Iterable[PhoneEvent]:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if isinstance(message, dict) and "event" in message:
            yield PhoneEvent(str(message["event"]), str(message.get("param", "")))

    def ready(self, timeout: float) -> None:
        self.events.wait_quietly(PhoneEvent("ready"), timeout)

    def command(self, name: str, **params: str) -> None:
        self.send(self.command_line(name, **params))

    @staticmethod
    def command_line(name: str, **params: str) -> str:
        return json.dumps({"cmd": name, **params})

    def unregister(self, timeout: float = 10.0) -> None:
        self.command("unregister")
        self.wait_unregistered(timeout)

    def dial(self, uri: str) -> None:
        self.command("dial", uri=uri)

    def accept(self) -> None:
        self.command("accept")

    def hangup(self) -> None:
        self.command("hangup")

    def hold(self, timeout: float = 10.0) -> None:
        self.send_and_wait(self.command_line("hold"), "held", timeout)

    def resume(self, timeout: float = 10.0) -> None:
        self.send_and_wait(self.command_line("resume"), "resumed", timeout)

    def send_dtmf(self, digits: str) -> None:
        self.command("dtmf", digits=digits)


# -- Twinkle -------------------------------------------------------------------------------


class FifoFeeder:
    """Writes a WAV's samples into a FIFO in real time, looped, in chunks of `chunk_ms`.

    A reader of the FIFO (here ALSA's `file` plugin as Twinkle's microphone) blocks until
    each chunk arrives, so the feeder keeps time for it. It waits for a reader, feeds it
    until the reader closes the FIFO, and waits for the next one.
    """

    def __init__(self, fifo: Path, wav: Path, *, chunk_ms: int = 20) -> None:
        with wave.open(str(wav), "rb") as source:
            shape = (source.getnchannels(), source.getsampwidth(), source.getframerate())
            self.samples = source.readframes(source.getnframes())
        if shape != (1, 2, 8000):  # what G.711 carries, as the phone reads it
            raise HarnessError(f"{wav}: an 8 kHz mono 16-bit WAV is needed")
        self.fifo = fifo
        self.chunk = 8000 * chunk_ms // 1000 * 2
        self.interval = chunk_ms / 1000
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.fifo.exists():
            os.mkfifo(self.fifo)
        self._thread = threading.Thread(target=self._run, name="fifo-feeder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        position = 0
        while not self._stop.is_set():
            fd = os.open(self.fifo, os.O_WRONLY)  # blocks until a reader opens it
            try:
                begin = time.monotonic()
                sent = 0
                while not self._stop.is_set():
                    chunk = self.samples[position : position + self.chunk]
                    position = (position + self.chunk) % max(len(self.samples), 1)
                    os.write(fd, chunk.ljust(self.chunk, b"\0"))
                    sent += 1
                    delay = begin + sent * self.interval - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
            except BrokenPipeError:
                pass
            finally:
                os.close(fd)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is None:
            return
        # A feeder waiting for a reader is let through by one that reads nothing.
        reader = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            self._thread.join(5)
        finally:
            os.close(reader)
        self._thread = None


_TWINKLE_LINES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r": registration succeeded \((.*)\)"), "registered"),
    (re.compile(r", registration failed: (.*)"), "registration_failed"),
    (re.compile(r", de-registration succeeded: (.*)"), "unregistered"),
    (re.compile(r"Line \d+: (incoming call)"), "incoming"),
    (re.compile(r"Line \d+: received (18\d .*)"), "ringing"),
    (re.compile(r"Line \d+: (far end answered call)\."), "established"),
    (re.compile(r"Line \d+: (call established)\."), "established"),
    (re.compile(r"Line \d+: (far end ended call)\."), "closed"),
    (re.compile(r"Line \d+: (far end cancelled call)\."), "closed"),
    (re.compile(r"Line \d+: (call ended)\."), "closed"),
    (re.compile(r"Line \d+: (re-INVITE successful)\."), "reinvited"),
    (re.compile(r"Line \d+: (re-INVITE failed|retrieve failed)\."), "reinvite_failed"),
    (re.compile(r"Line \d+: DTMF detected: (\S)"), "dtmf"),
    (re.compile(r"^(Local IP):"), "ready"),
    (re.compile(r"(Auto answer enabled)\."), "ready"),
]
_TWINKLE_FAILED = re.compile(r"Line \d+: call failed\.")


class Twinkle(ScriptedPhone):
    """twinkle-console 1.10 with a HOME of its own (~/.twinkle: system settings, the user
    profile `phone.cfg`; ~/.asoundrc: its sound devices).

    Sound goes through ALSA's `file` plugin: the speaker is written to
    `recordings/heard.wav` (then `heard.wav.0001`, ... at each reopening: a call, a
    resume); the microphone is read from a FIFO that a `FifoFeeder` fills with the WAV
    in real time, 20 ms at a time (Twinkle's ptime; when the far end asks for another,
    the audio Twinkle sends breaks up).
    """

    program = "twinkle"
    _failed = False
    _feeder: FifoFeeder | None = None

    @property
    def home(self) -> Path:
        return self.workdir / "home"

    @property
    def fifo(self) -> Path:
        return self.workdir / "mic.fifo"

    def settings_text(self) -> str:
        settings = {
            "dev_ringtone": "alsa:silent",
            "dev_speaker": "alsa:phone",
            "dev_mic": "alsa:phone",
            "validate_audio_dev": "no",
            "sip_port": self.sip_port,
            "rtp_port": self.rtp_port,
            "play_ringtone": "no",
            "play_ringback": "no",
            "log_show_sip": "yes",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def profile_text(self) -> str:
        profile: dict[str, object] = {
            "user_name": self.user,
            "user_domain": self.domain,
            "auth_name": self.user,
            "auth_pass": self.password,
            "registrar": self.domain if self.regint > 0 else "",
            "registration_time": self.regint or 3600,
            "register_at_startup": "yes" if self.regint > 0 else "no",
            "codecs": "g711u,g711a",
            "ptime": 20,
            "dtmf_transport": "rfc2833",
            "dtmf_payload_type": 101,
            "hold_variant": "rfc3264",
            # No presence: a registrar need not expect PUBLISH.
            "pres_publish_startup": "no",
            # Speex noise reduction takes a tone for noise; its VAD then stops sending.
            "speex_dsp_vad": "no",
            "speex_dsp_agc": "no",
            "speex_dsp_aec": "no",
            "speex_dsp_nrd": "no",
        }
        return "".join(f"{key}={value}\n" for key, value in profile.items())

    def asound_text(self) -> str:
        speaker = self.recordings_dir / "heard.wav"
        return (
            "pcm.phone {\n"
            "  type asym\n"
            "  playback.pcm {\n"
            f'    type file\n    slave.pcm "null"\n    file "{speaker}"\n'
            '    format "wav"\n    truncate false\n'
            "  }\n"
            "  capture.pcm {\n"
            f'    type file\n    slave.pcm "null"\n    file "/dev/null"\n    infile "{self.fifo}"\n'
            '    format "raw"\n'
            "  }\n"
            "}\n"
            "pcm.silent {\n  type null\n}\n"
        )

    def prepare(self) -> list[str]:
        settings_dir = self.home / ".twinkle"
        settings_dir.mkdir(parents=True, exist_ok=True)
        (settings_dir / "twinkle.sys").write_text(self.settings_text())
        (settings_dir / "phone.cfg").write_text(self.profile_text())
        (self.home / ".asoundrc").write_text(self.asound_text())
        self._feeder = FifoFeeder(self.fifo, self.audio)
        self._feeder.start()
        return ["twinkle-console", "phone.cfg"]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home)}

    def cleanup(self) -> None:
        if self._feeder is not None:
            self._feeder.stop()
            self._feeder = None

    def detail_log(self) -> Path:
        return self.home / ".twinkle" / "twinkle.log"

    def ready(self, timeout: float) -> None:
        self.events.wait_quietly(PhoneEvent("ready", "Local IP"), timeout)
        if self.answermode == "auto":
            self.send("auto_answer -a on")
            self.events.wait_quietly(PhoneEvent("ready", "Auto answer enabled"), timeout)

    def parse(self, line: str) -> Iterable[PhoneEvent]:
        if self._failed and line.strip():
            # "call failed." is followed by the status line, e.g. "486 Busy Here".
            self._failed = False
            yield PhoneEvent("closed", line.strip())
            return
        if _TWINKLE_FAILED.search(line):
            self._failed = True
            return
        for pattern, kind in _TWINKLE_LINES:
            match = pattern.search(line)
            if match is not None:
                yield PhoneEvent(kind, match.group(1))
                return

    def unregister(self, timeout: float = 10.0) -> None:
        self.send("deregister")
        self.wait_unregistered(timeout)

    def dial(self, uri: str) -> None:
        self.send(f"call {uri}")

    def accept(self) -> None:
        self.send("answer")

    def hangup(self) -> None:
        self.send("bye")

    def hold(self, timeout: float = 10.0) -> None:
        self.send_and_wait("hold", "reinvited", timeout)

    def resume(self, timeout: float = 10.0) -> None:
        self.send_and_wait("retrieve", "reinvited", timeout)

    def send_dtmf(self, digits: str) -> None:
        self.send(f"dtmf {digits}")


# Every phone class by name, for tests that run with each.
PHONES: dict[str, Callable[..., Phone]] = {"linphone": Linphone, "pjsua": Pjsua, "twinkle": Twinkle}
# Baresip has the Phone protocol too.
FACTORIES: dict[str, Callable[..., Phone]] = {"baresip": Baresip, **PHONES}


def make_phone(name: str, workdir: Path, **options: object) -> Phone:
    """A phone of kind `name` ("baresip" or one of PHONES) working in `workdir`."""
    return FACTORIES[name](workdir, **options)


def tone_frequency(path: Path, level: float = 500.0) -> float:
    """The frequency of a tone in a 16-bit mono WAV, from the zero crossings of its 20 ms
    windows above `level` (RMS)."""
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        samples = array("h", wav.readframes(wav.getnframes()))
    window = rate // 50
    crossings = 0
    active = 0
    for start in range(0, len(samples) - window + 1, window):
        chunk = samples[start : start + window]
        if math.sqrt(sum(s * s for s in chunk) / window) <= level:
            continue
        active += window
        crossings += sum((a < 0) != (b < 0) for a, b in itertools.pairwise(chunk))
    if not active:
        return 0.0
    return crossings / 2 / (active / rate)
