"""SIP test harness: real softphones (baresip) and carriers (SIPp) on loopback.

Everything here talks to 127.0.0.1 only, and is meant to run inside a network namespace
of its own (`scripts/test` runs pytest under `unshare -n` with `lo` up), where loopback is
the only interface:

- `Baresip`: a baresip 1.0.0 softphone with a generated configuration, scripted over its
  `ctrl_tcp` interface (dial, hang up, accept, DTMF; registration and call events). It
  sends a WAV file as its microphone and records both directions of each call as WAV.
- `Sipp`: a SIPp process running a scenario of `scenarios/` (beside this module) as a carrier (UAS)
  or as a caller (UAC), with its exit code, statistics, response times and the SIP
  messages it sent and received.
- Helpers: free loopback ports, a tone/speech WAV generator, a WAV analyser (duration,
  RMS, peak, time above a level) and G.711 pcap clips for SIPp's `play_pcap_audio`.

Traps handled here (see also tests/sip/README.md):
- baresip finds no local address in a namespace that has only `lo` and no default
  route, and fails every call with "Cannot assign requested address":
  `net_interface 127.0.0.1` fixes it.
- baresip's `dial`/`hangup`/`accept` commands come from the `menu` module, which
  therefore has to be loaded next to `ctrl_tcp`. `menu` also hangs the call up when
  the `aufile` source reaches the end of its WAV file: the WAV's length bounds the call.
- baresip 1.0.0 has no file/null audio player; `aubridge` (device `nil`) stands in for
  the sound card. `sndfile` records in the decoder chain, before the player.
- SIPp opens a UDP control socket (8888 by default) and, with `-rtp_echo`, the media
  port and media port + 2: each instance here gets free ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import wave
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Generic, Literal, Protocol, Self, TypeVar

LOOPBACK = "127.0.0.1"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
SIPP_PCAP_DIR = Path("/usr/share/sip-tester")
G711A_PCAP = SIPP_PCAP_DIR / "g711a.pcap"
BARESIP_MODULES = Path("/usr/lib/baresip/modules")
TOOLS = ("baresip", "sipp")


class HarnessError(RuntimeError):
    """A process of the harness failed or did not do what was asked in time."""


class RegistrationFailed(HarnessError):
    """baresip reported REGISTER_FAIL; `status` is the SIP status code when there is one."""

    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(f"registration failed: {reason}")
        self.status = status
        self.reason = reason


class CallClosed(HarnessError):
    """The call closed while waiting for something else; `reason` is baresip's text
    (e.g. "486 Busy Here") and `status` its SIP status code when there is one."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"call closed: {reason}")
        self.reason = reason
        self.status = status_code(reason)


def status_code(text: str) -> int | None:
    """The SIP status code at the start of a reason such as "486 Busy Here"."""
    head = text.strip().split(" ", 1)[0]
    if len(head) == 3 and head.isdigit():
        return int(head)
    return None


# -- digest authentication ------------------------------------------------------------------

_DIGEST_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_digest(header: str) -> dict[str, str]:
    """The parameters of a `Digest ...` Authorization / Proxy-Authorization value."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        raise HarnessError(f"not a Digest credential: {header!r}")
    return {
        match.group(1).lower(): match.group(2) if match.group(2) is not None else match.group(3)
        for match in _DIGEST_PARAM.finditer(rest)
    }


def digest_response(
    *,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The RFC 2617 MD5 digest `response` (qop absent or "auth")."""

    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    ha1 = md5(f"{username}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    if qop:
        return md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return md5(f"{ha1}:{nonce}:{ha2}")


def verify_digest(header: str, method: str, password: str) -> bool:
    """Whether an Authorization / Proxy-Authorization value answers its challenge with
    `password` (SIPp's verifyauth cannot check a Proxy-Authorization)."""
    params = parse_digest(header)
    if params.get("algorithm", "MD5").upper() != "MD5":
        raise HarnessError(f"unsupported digest algorithm {params['algorithm']}")
    expected = digest_response(
        username=params.get("username", ""),
        realm=params.get("realm", ""),
        password=password,
        method=method,
        uri=params.get("uri", ""),
        nonce=params.get("nonce", ""),
        qop=params.get("qop"),
        nc=params.get("nc"),
        cnonce=params.get("cnonce"),
    )
    return params.get("response", "").lower() == expected


# -- environment ---------------------------------------------------------------------------


def network_interfaces() -> list[str]:
    """Interfaces of this process's network namespace (unlike /sys/class/net, which shows
    the namespace that mounted sysfs)."""
    return [name for _, name in socket.if_nameindex()]


def isolated_network() -> bool:
    """True inside a network namespace whose only interface is loopback."""
    return network_interfaces() == ["lo"]


def missing_tools(names: Sequence[str] = TOOLS) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


# -- ports ---------------------------------------------------------------------------------


def _bindable(port: int, kind: socket.SocketKind, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_udp_port(host: str = LOOPBACK) -> int:
    """A UDP port that is free now (until someone binds it), outside the range the
    kernel hands out as clients' source ports."""
    return _reserved_block(host, 1, (socket.SOCK_DGRAM,))


def free_tcp_port(host: str = LOOPBACK) -> int:
    """A TCP port outside the range the kernel hands out as clients' source ports."""
    return _reserved_block(host, 1, (socket.SOCK_STREAM,))


def this_worker() -> tuple[int, int]:
    """This test worker's number and how many there are (pytest-xdist's
    PYTEST_XDIST_WORKER and PYTEST_XDIST_WORKER_COUNT; 0 of 1 without it), so that each
    worker takes ports of its own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    return index, max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), index + 1)


def _harness_ports(first: int = 10000, last: int = 19999) -> range:
    """Ports for the phones and carriers the harness starts: below the kernel's range of
    clients' source ports (32768 and up by default), so that a port found free stays free
    while the process it is meant for starts, however many connections other tests open.
    Each test worker has a slice of its own: two workers never find the same port free
    at once."""
    index, workers = this_worker()
    size = (last + 1 - first) // workers // 8 * 8
    return range(first + index * size, first + (index + 1) * size)


# Handed out in turn from a random start, so that two processes about to start never get
# the same one.
_HARNESS_PORTS = _harness_ports()
_next_block = itertools.count(random.randrange(len(_HARNESS_PORTS) // 8))


def _reserved_block(host: str, size: int, kinds: Sequence[socket.SocketKind]) -> int:
    """The first of `size` (at most 8) consecutive ports free for every kind."""
    blocks = len(_HARNESS_PORTS) // 8
    for _ in range(blocks):
        port = _HARNESS_PORTS.start + 8 * (next(_next_block) % blocks)
        if all(_bindable(p, kind, host) for p in range(port, port + size) for kind in kinds):
            return port
    raise HarnessError(f"no block of {size} free ports in {_HARNESS_PORTS}")


def free_sip_port(host: str = LOOPBACK) -> int:
    """A port free for UDP and TCP whose next port is free too: baresip listens for SIP
    on UDP and TCP at the port and for SIP over TLS at the next one."""
    return _reserved_block(host, 2, (socket.SOCK_DGRAM, socket.SOCK_STREAM))


def free_media_port(host: str = LOOPBACK) -> int:
    """An even UDP port P with P..P+3 free: SIPp's -rtp_echo binds P and P + 2."""
    return _reserved_block(host, 4, (socket.SOCK_DGRAM,))


def udp_bound(port: int) -> bool:
    """Whether some socket of this namespace is bound to the UDP port (from /proc/net/udp)."""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            next(lines, None)
            for line in lines:
                local = line.split()[1]
                if int(local.rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.02
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# -- audio ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WavStats:
    """What a WAV file holds: 16-bit PCM levels are in sample units (full scale 32767)."""

    path: Path
    rate: int
    channels: int
    frames: int
    duration: float
    rms: float
    peak: int
    active_seconds: float

    def is_silent(self, threshold: float = 200.0) -> bool:
        return self.rms < threshold


def analyse_wav(path: Path, *, window_ms: int = 20, level: float = 500.0) -> WavStats:
    """Duration, RMS and peak of a 16-bit PCM WAV (all channels mixed), and how many
    seconds of it have an RMS above `level` in `window_ms` windows (speech or tone, not
    silence or comfort noise)."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise HarnessError(f"{path}: {8 * wav.getsampwidth()}-bit samples, expected 16")
        rate, channels, frames = wav.getframerate(), wav.getnchannels(), wav.getnframes()
        samples = array("h")
        samples.frombytes(wav.readframes(frames))
    if samples.itemsize != 2:  # pragma: no cover - every Linux platform has 2-byte shorts
        raise HarnessError("array('h') is not 16-bit here")
    squares = 0.0
    peak = 0
    active = 0
    window = max(1, rate * channels * window_ms // 1000)
    for start in range(0, len(samples), window):
        chunk = samples[start : start + window]
        chunk_squares = float(sum(s * s for s in chunk))
        squares += chunk_squares
        peak = max(peak, max((abs(s) for s in chunk), default=0))
        if chunk and math.sqrt(chunk_squares / len(chunk)) > level:
            active += len(chunk)
    rms = math.sqrt(squares / len(samples)) if samples else 0.0
    return WavStats(
        path=path,
        rate=rate,
        channels=channels,
        frames=frames,
        duration=frames / rate if rate else 0.0,
        rms=rms,
        peak=peak,
        active_seconds=active / (rate * channels) if rate else 0.0,
    )


def write_tone_wav(
    path: Path,
    *,
    seconds: float = 3.0,
    frequency: float = 440.0,
    rate: int = 8000,
    amplitude: float = 0.5,
) -> Path:
    """A mono 16-bit sine tone: what baresip's `aufile` source wants (8 kHz by default)."""
    period = array("h")
    one_second = [
        round(amplitude * 32767 * math.sin(2 * math.pi * frequency * n / rate)) for n in range(rate)
    ]
    period.fromlist(one_second)
    total = round(seconds * rate)
    samples = array("h")
    while len(samples) < total:
        samples.extend(period[: total - len(samples)])
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def write_speech_wav(path: Path, text: str, *, voice: str = "en", rate: int = 8000) -> Path:
    """Speech from espeak-ng, converted by sox to mono 16-bit at `rate` Hz."""
    missing = missing_tools(("espeak-ng", "sox"))
    if missing:
        raise HarnessError(f"speech needs {', '.join(missing)}")
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, timeout=30)
    subprocess.run(
        ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path)],
        check=True,
        timeout=30,
    )
    raw.unlink()
    return path


# -- pcap clips for SIPp's play_pcap_audio -------------------------------------------------

_PCAP_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD = struct.Struct("<IIII")
_PCAP_MAGIC = 0xA1B2C3D4
_RTP_OFFSET = 14 + 20 + 8  # Ethernet, IPv4 without options, UDP


def _pcap_packets(path: Path) -> tuple[bytes, list[tuple[float, bytes]]]:
    data = path.read_bytes()
    magic = _PCAP_HEADER.unpack_from(data)[0]
    if magic != _PCAP_MAGIC:
        raise HarnessError(f"{path}: not a little-endian microsecond pcap")
    packets: list[tuple[float, bytes]] = []
    offset = _PCAP_HEADER.size
    while offset + _PCAP_RECORD.size <= len(data):
        sec, usec, incl, _ = _PCAP_RECORD.unpack_from(data, offset)
        offset += _PCAP_RECORD.size
        packets.append((sec + usec / 1e6, data[offset : offset + incl]))
        offset += incl
    return data[: _PCAP_HEADER.size], packets


def pcap_packet_count(path: Path) -> int:
    return len(_pcap_packets(path)[1])


def write_pcap_clip(path: Path, seconds: float, source: Path = G711A_PCAP) -> int:
    """An RTP pcap of `seconds` length cut from `source`, looped when it is shorter, with
    RTP sequence numbers and timestamps kept continuous across loops (UDP checksums are
    zeroed). Returns the number of packets."""
    header, packets = _pcap_packets(source)
    if len(packets) < 2:
        raise HarnessError(f"{source}: too few packets")
    first = packets[0][0]
    span = packets[-1][0] - first
    interval = span / (len(packets) - 1)
    loop_time = span + interval
    seq0, ts0 = struct.unpack_from(">HI", packets[0][1], _RTP_OFFSET + 2)
    seq_last, ts_last = struct.unpack_from(">HI", packets[-1][1], _RTP_OFFSET + 2)
    seq_step = (seq_last - seq0 + 1) & 0xFFFF
    ts_step = round((ts_last - ts0) * len(packets) / (len(packets) - 1)) & 0xFFFFFFFF
    out = bytearray(header)
    count = 0
    loop = 0
    while True:
        for stamp, packet in packets:
            at = stamp - first + loop * loop_time
            if at >= seconds:
                path.write_bytes(bytes(out))
                return count
            frame = bytearray(packet)
            seq, ts = struct.unpack_from(">HI", frame, _RTP_OFFSET + 2)
            struct.pack_into(
                ">HI",
                frame,
                _RTP_OFFSET + 2,
                (seq + loop * seq_step) & 0xFFFF,
                (ts + loop * ts_step) & 0xFFFFFFFF,
            )
            struct.pack_into(">H", frame, 14 + 20 + 6, 0)  # UDP checksum: none
            sec = int(first + at)
            usec = round((first + at - sec) * 1e6)
            if usec >= 1_000_000:
                sec, usec = sec + 1, usec - 1_000_000
            out += _PCAP_RECORD.pack(sec, usec, len(frame), len(frame)) + frame
            count += 1
        loop += 1


def prepare_pcap_dir(workdir: Path, seconds: float | None = None) -> Path:
    """Make `workdir/pcap/g711a.pcap` (what uac_g711a.xml plays; SIPp resolves it from
    its working directory): SIPp's own clip (about 7 s) or one of `seconds`."""
    pcap_dir = workdir / "pcap"
    pcap_dir.mkdir(parents=True, exist_ok=True)
    target = pcap_dir / "g711a.pcap"
    target.unlink(missing_ok=True)
    if seconds is None:
        shutil.copyfile(G711A_PCAP, target)
    else:
        write_pcap_clip(target, seconds)
    return target


# -- processes -----------------------------------------------------------------------------


def _stop_process(
    process: subprocess.Popen[bytes], signals: Sequence[tuple[int, float]]
) -> int | None:
    """Send each (signal, grace seconds) in turn until the process exits; SIGKILL last.
    Always reaps the process. Returns its exit code (negative: killed by that signal)."""
    for sig, grace in signals:
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    return process.wait()


# -- baresip -------------------------------------------------------------------------------


class Event(Protocol):
    """What a phone reports: a type, its detail, and the SIP status in that detail."""

    @property
    def type(self) -> str: ...
    @property
    def param(self) -> str: ...
    @property
    def status(self) -> int | None: ...


E = TypeVar("E", bound=Event)


class EventLog(Generic[E]):
    """A phone's events in order, with a cursor past the last one a wait returned.

    `registration_failed` is the phone's name for a failed registration (raised as
    RegistrationFailed; any other `fail_on` event as CallClosed). `cond` is the
    condition the phone's reader notifies (one of its own by default).
    """

    def __init__(
        self,
        name: str,
        alive: Callable[[], bool],
        registration_failed: str,
        cond: threading.Condition | None = None,
    ) -> None:
        self.name = name
        self.events: list[E] = []
        self._alive = alive
        self._registration_failed = registration_failed
        self._cursor = 0
        self.cond = cond or threading.Condition()

    def add(self, event: E) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wake(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def all(self) -> list[E]:
        with self.cond:
            return list(self.events)

    def wait(
        self,
        types: Sequence[str],
        timeout: float,
        *,
        fail_on: Sequence[str] = (),
        match: Callable[[E], bool] | None = None,
    ) -> E:
        """The next event (after the last one returned) of one of `types`. An event of
        `fail_on` seen first raises RegistrationFailed or CallClosed, and stays unread."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for index in range(self._cursor, len(self.events)):
                    event = self.events[index]
                    if match is not None and not match(event):
                        continue
                    if event.type in types:
                        self._cursor = index + 1
                        return event
                    if event.type in fail_on:
                        self._cursor = index
                        if event.type == self._registration_failed:
                            raise RegistrationFailed(event.status, event.param)
                        raise CallClosed(event.param)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if not self._alive():
                    raise HarnessError(f"{self.name} exited while waiting for {'/'.join(types)}")
                self.cond.wait(min(remaining, 0.2))
            seen = ", ".join(f"{e.type}({e.param})" for e in self.events[self._cursor :])
        raise HarnessError(
            f"no {'/'.join(types)} from {self.name} within {timeout:g} s; since: {seen or 'none'}"
        )


@dataclass(frozen=True)
class BaresipEvent:
    """One ctrl_tcp event: `type` such as REGISTER_OK or CALL_CLOSED, `param` its text
    (the reason of a CALL_CLOSED or REGISTER_FAIL, e.g. "486 Busy Here")."""

    type: str
    param: str
    raw: Mapping[str, object]
    at: float

    @property
    def call_id(self) -> str:
        return str(self.raw.get("id", ""))

    @property
    def peer(self) -> str:
        return str(self.raw.get("peeruri", ""))

    @property
    def status(self) -> int | None:
        return status_code(self.param)


class Baresip:
    """A baresip softphone with one account, on loopback, scripted over ctrl_tcp.

    The account is `<sip:USER@DOMAIN:PORT>` (the switch's address) with `auth_pass`;
    `regint=0` (the default) never registers, which is enough to dial any SIP URI
    directly. The softphone sends `audio` (an 8 kHz mono WAV; a 60 s tone when None)
    and hangs up when it ends; `sndfile` records each call as `dump-*-enc.wav` (sent)
    and `dump-*-dec.wav` (received) in `recordings_dir`.

    Events arrive in order; each `wait_*` returns the first matching event after the one
    the previous `wait_*` returned, so `dial(); wait_established(); wait_closed()` reads
    naturally. `events` keeps all of them.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        user: str = "1001",
        password: str = "",
        domain: str = LOOPBACK,
        port: int = 5060,
        regint: int = 0,
        auth_user: str | None = None,
        answermode: Literal["auto", "manual", "early"] = "auto",
        audio: Path | None = None,
        account_params: Mapping[str, str] | None = None,
        rtp_ports: tuple[int, int] | None = None,
        sip_port: int | None = None,
        ctrl_port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.user = user
        self.domain = f"{domain}:{port}"
        self.sip_port = sip_port or free_sip_port()
        self.ctrl_port = ctrl_port or free_tcp_port()
        self.config_dir = workdir / "baresip"
        self.recordings_dir = workdir / "recordings"
        self.log_path = workdir / "baresip.log"
        self.audio = audio
        params: dict[str, str] = {"answermode": answermode, "regint": str(regint)}
        if password:
            params["auth_pass"] = password
        if auth_user:
            params["auth_user"] = auth_user
        params.update(account_params or {})
        self.account = f"<sip:{user}@{self.domain}>" + "".join(
            f";{key}={value}" for key, value in params.items()
        )
        # Ports of its own (free when it starts), so that phones of tests running side
        # by side never share one.
        if rtp_ports is None:
            first = _reserved_block(LOOPBACK, 8, (socket.SOCK_DGRAM,))
            rtp_ports = (first, first + 7)
        self.rtp_ports = rtp_ports
        self._responses: dict[str, Mapping[str, object]] = {}
        self._token = 0
        self._cond = threading.Condition()
        self.event_log: EventLog[BaresipEvent] = EventLog(
            "baresip", self._alive, "REGISTER_FAIL", self._cond
        )
        self.events = self.event_log.events
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    @property
    def contact(self) -> str:
        """Where this phone listens: dial it directly at sip:anything@127.0.0.1:PORT."""
        return f"sip:{self.user}@{LOOPBACK}:{self.sip_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def config_text(self) -> str:
        audio = self.audio or self.workdir / "baresip-tone.wav"
        lines = [
            "poll_method epoll",
            f"sip_listen {LOOPBACK}:{self.sip_port}",
            # Without it baresip finds no address in a namespace with only lo.
            f"net_interface {LOOPBACK}",
            f"rtp_ports {self.rtp_ports[0]}-{self.rtp_ports[1]}",
            "call_local_timeout 120",
            "call_max_calls 4",
            f"audio_source aufile,{audio}",
            "audio_player aubridge,nil",
            "audio_alert aubridge,nil",
            "ausrc_srate 8000",
            "auplay_srate 8000",
            "ausrc_channels 1",
            "auplay_channels 1",
            "audio_buffer 20-160",
            # No jitter buffer: baresip 1.0 keeps its sequence numbers across a change of
            # source (SSRC), and drops every packet of a new source whose numbers are lower
            # as late (relayed calls change source: music, then an agent, then the mixer).
            "jitter_buffer_delay 0-0",
            f"module_path {BARESIP_MODULES}",
            "module g711.so",
            "module aufile.so",
            "module aubridge.so",
            "module sndfile.so",
            "module_tmp account.so",
            # dial/hangup/accept are menu commands; ctrl_tcp only carries them.
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen {LOOPBACK}:{self.ctrl_port}",
            f"snd_path {self.recordings_dir.resolve()}",
            "menu_bell no",
        ]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> Self:
        if self._process is not None:
            raise HarnessError("baresip already started")
        self.config_dir.mkdir(parents=True, exist_ok=True)
        if not self.recordings_dir.exists():
            # baresip's sndfile cuts a file's path at 127 characters (and then writes both
            # directions to one cut name): the files live in a short directory, which
            # `recordings_dir` links to.
            short = tempfile.mkdtemp(prefix="baresip-", dir="/tmp")
            self.recordings_dir.parent.mkdir(parents=True, exist_ok=True)
            self.recordings_dir.symlink_to(short, target_is_directory=True)
        if self.audio is None:
            write_tone_wav(self.workdir / "baresip-tone.wav", seconds=60)
        (self.config_dir / "config").write_text(self.config_text())
        # The account is added over ctrl_tcp once connected (see _connect), so that no
        # REGISTER_OK/REGISTER_FAIL is emitted before anyone listens.
        (self.config_dir / "accounts").write_text("")
        (self.config_dir / "contacts").write_text("")
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                ["baresip", "-f", str(self.config_dir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        try:
            self._connect(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _connect(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise HarnessError(f"baresip exited ({self._process.returncode}):\n{self.log()}")
            try:
                self._sock = socket.create_connection((LOOPBACK, self.ctrl_port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise HarnessError(f"baresip's ctrl_tcp did not open:\n{self.log()}") from None
                time.sleep(0.05)
        self._sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, name="baresip-ctrl", daemon=True)
        self._reader.start()
        self.command("uanew", self.account)

    def _read_loop(self) -> None:
        sock = self._sock  # stop() drops the attribute while this thread may still read
        assert sock is not None
        buffer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buffer += chunk
            while True:
                colon = buffer.find(b":")
                if colon < 0 or not buffer[:colon].isdigit():
                    break
                size = int(buffer[:colon])
                end = colon + 1 + size
                if len(buffer) < end + 1:
                    break
                payload, buffer = buffer[colon + 1 : end], buffer[end + 1 :]
                self._dispatch(payload)

    def _dispatch(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        with self._cond:
            if message.get("response"):
                self._responses[str(message.get("token", ""))] = message
            elif message.get("event"):
                self.event_log.events.append(
                    BaresipEvent(
                        type=str(message.get("type", "")),
                        param=str(message.get("param", "")),
                        raw=message,
                        at=time.monotonic(),
                    )
                )
            self._cond.notify_all()

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> str:
        """Run a baresip command (a `menu` long command) and return its text output."""
        if self._sock is None:
            raise HarnessError("baresip is not running")
        with self._cond:
            self._token += 1
            token = f"t{self._token}"
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._sock.sendall(str(len(body)).encode() + b":" + body + b",")
        with self._cond:
            if not self._cond.wait_for(lambda: token in self._responses, timeout):
                raise HarnessError(f"baresip did not answer {command!r} within {timeout:g} s")
            response = self._responses.pop(token)
        data = str(response.get("data", ""))
        if not response.get("ok"):
            raise HarnessError(f"baresip {command} {params}: {data.strip()}")
        return data

    def dial(self, uri: str) -> None:
        self.command("dial", uri)

    def hangup(self) -> None:
        self.command("hangup")

    def accept(self) -> None:
        self.command("accept")

    def send_dtmf(self, digits: str) -> None:
        for digit in digits:
            self.command("sndcode", digit)

    def received_dtmf(self) -> str:
        """The digits received as telephone-events so far (CALL_DTMF_START events)."""
        with self._cond:
            return "".join(e.param for e in self.events if e.type == "CALL_DTMF_START")

    def transfer(self, uri: str, timeout: float = 5.0) -> None:
        """Blind-transfer the current call to `uri` (REFER); the far end decides. baresip
        holds the call while it transfers and takes it off hold when that fails: until
        it has, it refuses another transfer (EINVAL), so that is tried again."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.command("transfer", uri)
                return
            except HarnessError as exc:
                if "Invalid argument" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def hold(self, timeout: float = 10.0) -> None:
        """Put the current call on hold (re-INVITE, sendonly); wait for the answer."""
        self._reinvite("hold", timeout)

    def resume(self, timeout: float = 10.0) -> None:
        """Take the current call off hold (re-INVITE, sendrecv); wait for the answer."""
        self._reinvite("resume", timeout)

    def _reinvite(self, command: str, timeout: float) -> None:
        self.command(command)
        self.wait_event(
            ["CALL_REMOTE_SDP"],
            timeout,
            fail_on=["CALL_CLOSED"],
            match=lambda event: event.param == "answer",
        )

    def unregister(self, timeout: float = 10.0) -> None:
        """Delete the account: baresip sends its un-REGISTER (UNREGISTERING)."""
        self.command("uadel", self.aor)
        self.wait_event(["UNREGISTERING"], timeout)

    def wait_event(
        self,
        types: Sequence[str],
        timeout: float = 10.0,
        *,
        fail_on: Sequence[str] = (),
        match: Callable[[BaresipEvent], bool] | None = None,
    ) -> BaresipEvent:
        """The next event (after the last one returned) of one of `types`. An event of
        `fail_on` seen first raises CallClosed / RegistrationFailed (and stays unread)."""
        return self.event_log.wait(types, timeout, fail_on=fail_on, match=match)

    def _alive(self) -> bool:
        return self._process is None or self._process.poll() is None

    def wait_registered(self, timeout: float = 10.0) -> BaresipEvent:
        """REGISTER_OK, or RegistrationFailed(status, reason) on REGISTER_FAIL."""
        return self.wait_event(["REGISTER_OK"], timeout, fail_on=["REGISTER_FAIL"])

    def wait_registration_failed(self, timeout: float = 10.0) -> RegistrationFailed:
        try:
            event = self.wait_event(["REGISTER_FAIL"], timeout, fail_on=["REGISTER_OK"])
        except CallClosed as exc:  # REGISTER_OK came first
            raise HarnessError("registered, but a failure was expected") from exc
        return RegistrationFailed(event.status, event.param)

    def wait_incoming(self, timeout: float = 10.0) -> BaresipEvent:
        return self.wait_event(["CALL_INCOMING"], timeout)

    def wait_ringing(self, timeout: float = 10.0) -> BaresipEvent:
        """CALL_RINGING (a 180 to our INVITE) or CALL_PROGRESS (183)."""
        return self.wait_event(["CALL_RINGING", "CALL_PROGRESS"], timeout, fail_on=["CALL_CLOSED"])

    def wait_established(self, timeout: float = 10.0) -> BaresipEvent:
        """CALL_ESTABLISHED, or CallClosed(reason) when the call ends first."""
        return self.wait_event(["CALL_ESTABLISHED"], timeout, fail_on=["CALL_CLOSED"])

    def wait_closed(self, timeout: float = 10.0) -> BaresipEvent:
        """CALL_CLOSED; its `param` is the reason ("486 Busy Here", "Connection reset
        by peer" for a BYE from the far end, ...) and `status` the code in it."""
        return self.wait_event(["CALL_CLOSED"], timeout)

    def recordings(self) -> list[Path]:
        return sorted(self.recordings_dir.glob("dump-*.wav"))

    def received_wav(self) -> Path:
        """The recording of what the far end sent in the latest call."""
        return self._latest("dec")

    def sent_wav(self) -> Path:
        """The recording of what this phone sent in the latest call."""
        return self._latest("enc")

    def _latest(self, kind: str) -> Path:
        paths = sorted(self.recordings_dir.glob(f"dump-*-{kind}.wav"), key=os.path.getmtime)
        if not paths:
            raise HarnessError(f"baresip recorded no {kind} WAV in {self.recordings_dir}")
        return paths[-1]

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM (baresip hangs up and unregisters), then SIGKILL after `timeout`."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        code = None
        if self._process is not None:
            code = _stop_process(self._process, [(signal.SIGTERM, timeout)])
        if self._reader is not None:
            self._reader.join(2)
            self._reader = None
        return code

    def __enter__(self) -> Self:
        return self if self._process is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# -- SIPp ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SipMessage:
    """A SIP message from SIPp's -trace_msg log, as SIPp sent or received it."""

    direction: Literal["sent", "received"]
    at: str
    first_line: str
    headers: tuple[tuple[str, str], ...]
    body: str

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        """The request's method, or the CSeq method of a response."""
        if self.is_request:
            return self.first_line.split(" ", 1)[0]
        return (self.header("CSeq") or " ").split()[-1]

    @property
    def status(self) -> int | None:
        if self.is_request:
            return None
        return int(self.first_line.split()[1])

    @property
    def call_id(self) -> str:
        return self.header("Call-ID") or self.header("i") or ""

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]


_TRACE_SEPARATOR = re.compile(r"^-{20,} (.*)$", re.MULTILINE)


def parse_sipp_messages(text: str) -> list[SipMessage]:
    """Parse a SIPp -trace_msg file: blocks of "----- DATE TIME", "UDP message sent
    (N bytes):" or "... received [N] bytes :", then the message."""
    messages: list[SipMessage] = []
    parts = _TRACE_SEPARATOR.split(text)
    for at, block in zip(parts[1::2], parts[2::2], strict=True):
        lines = [line.rstrip("\r") for line in block.split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            continue
        what, lines = lines[0], lines[1:]
        if " message received" in what:
            direction: Literal["sent", "received"] = "received"
        elif " message sent" in what:
            direction = "sent"
        else:
            continue
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            continue
        first_line = lines[0]
        headers: list[tuple[str, str]] = []
        body_start = len(lines)
        for index, line in enumerate(lines[1:], start=1):
            if not line.strip():
                body_start = index + 1
                break
            if line[0] in " \t" and headers:
                key, value = headers[-1]
                headers[-1] = (key, value + " " + line.strip())
            elif ":" in line:
                key, value = line.split(":", 1)
                headers.append((key.strip(), value.strip()))
        body = "\n".join(lines[body_start:]).strip("\n")
        messages.append(SipMessage(direction, at.strip(), first_line, tuple(headers), body))
    return messages


@dataclass(frozen=True)
class ShortMessage:
    """One line of SIPp's -trace_shortmsg log: `direction` "S" (sent) or "R" (received),
    `at` the epoch time in seconds (microsecond precision), `cseq` e.g. "CSeq:1 INVITE"."""

    at: float
    direction: str
    call_id: str
    cseq: str
    first_line: str


@dataclass(frozen=True)
class SippResult:
    """What a SIPp run left: exit code (0 all calls succeeded, 1 some failed, 97 stopped
    by an internal command, 99 no call processed, 255/254 fatal), the last line of its
    statistics CSV, its error log and its final screen."""

    returncode: int | None
    stats: Mapping[str, str]
    errors: str
    screen: str

    def counter(self, name: str) -> int:
        """A cumulative counter such as SuccessfulCall, FailedCall, Retransmissions."""
        value = self.stats.get(f"{name}(C)", self.stats.get(name, "0"))
        try:
            return int(float(value))
        except ValueError:
            return 0

    @property
    def successful(self) -> int:
        return self.counter("SuccessfulCall")

    @property
    def failed(self) -> int:
        return self.counter("FailedCall")

    @property
    def created(self) -> int:
        return self.counter("TotalCallCreated")


@dataclass
class Sipp:
    """One SIPp process on loopback running `scenario` (a file name in scenarios/
    or a path).

    As a carrier (`remote` None): listens on `port` (free by default), media on
    `media_port` with `-rtp_echo` when `rtp_echo`. As a caller: sends to `remote`
    ("127.0.0.1:5060") with R-URI user `service`, `calls` calls (-m) at `rate` per
    second (-r), each held `duration_ms` (-d) at the scenario's `<pause/>`.

    `variables` are passed as `-set NAME VALUE`; `recv_timeout_ms` as -recv_timeout (in
    uas_answer_echo.xml: the carrier hangs up that long after the ACK). SIPp runs in
    `workdir` (its trace files and relative pcap paths live there), behind `prefix`
    (e.g. `taskset -c 1`).
    """

    scenario: str | Path
    workdir: Path
    remote: str | None = None
    port: int = 0
    media_port: int = 0
    rtp_echo: bool = True
    service: str = "1234"
    calls: int | None = None
    rate: float | None = None
    call_limit: int | None = None
    duration_ms: int | None = None
    recv_timeout_ms: int | None = None
    auth: tuple[str, str] | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    trace_messages: bool = True
    trace_short_messages: bool = False
    trace_rtt: bool = False
    timeout_s: float | None = None
    extra_args: Sequence[str] = ()
    prefix: Sequence[str] = ()
    name: str = "sipp"
    host: str = LOOPBACK  # the address it sends from (another of 127/8: another machine)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    result: SippResult | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        path = Path(self.scenario)
        self.scenario_path = path if path.is_absolute() or path.exists() else SCENARIOS / path
        if not self.scenario_path.is_file():
            raise HarnessError(f"no SIPp scenario {self.scenario_path}")
        self.port = self.port or free_udp_port(self.host)
        self.media_port = self.media_port or free_media_port(self.host)
        self.control_port = free_udp_port(self.host)
        self.files = {
            "messages": self.workdir / f"{self.name}-messages.log",
            "short": self.workdir / f"{self.name}-short.log",
            "errors": self.workdir / f"{self.name}-errors.log",
            "screen": self.workdir / f"{self.name}-screen.log",
            "stats": self.workdir / f"{self.name}-stats.csv",
            "output": self.workdir / f"{self.name}.out",
        }

    @property
    def is_uas(self) -> bool:
        return self.remote is None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def uri(self, user: str = "carrier") -> str:
        """A SIP URI that reaches this carrier directly."""
        return f"sip:{user}@{self.address}"

    def command_line(self) -> list[str]:
        args = [*self.prefix, "sipp"]
        if self.remote is not None:
            args.append(self.remote)
        args += [
            "-sf", str(self.scenario_path),
            "-i", self.host,
            "-p", str(self.port),
            "-bind_local",
            "-mi", self.host,
            "-mp", str(self.media_port),
            "-cp", str(self.control_port),
            "-nostdin",
            "-trace_err", "-error_file", str(self.files["errors"]),
            "-trace_screen", "-screen_file", str(self.files["screen"]),
            "-trace_stat", "-stf", str(self.files["stats"]),
        ]  # fmt: skip
        if self.is_uas and self.rtp_echo:
            args.append("-rtp_echo")
        if not self.is_uas:
            args += ["-s", self.service]
        if self.trace_messages:
            args += ["-trace_msg", "-message_file", str(self.files["messages"])]
        if self.trace_short_messages:
            args += ["-trace_shortmsg", "-shortmessage_file", str(self.files["short"])]
        if self.trace_rtt:
            args += ["-trace_rtt", "-rtt_freq", "1"]
        if self.calls is not None:
            args += ["-m", str(self.calls)]
        if self.rate is not None:
            args += ["-r", f"{self.rate:g}"]
        if self.call_limit is not None:
            args += ["-l", str(self.call_limit)]
        if self.duration_ms is not None:
            args += ["-d", str(self.duration_ms)]
        if self.recv_timeout_ms is not None:
            args += ["-recv_timeout", str(self.recv_timeout_ms)]
        if self.timeout_s is not None:
            args += ["-timeout", f"{self.timeout_s:g}s"]
        if self.auth is not None:
            args += ["-au", self.auth[0], "-ap", self.auth[1]]
        for key, value in self.variables.items():
            args += ["-set", key, value]
        args += list(self.extra_args)
        return args

    def start(self, timeout: float = 5.0) -> Self:
        if self.process is not None:
            raise HarnessError("SIPp already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.files["output"].open("wb") as output:
            self.process = subprocess.Popen(
                self.command_line(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                raise HarnessError(
                    f"SIPp exited ({process.returncode}) on start:\n{self._tail('output')}"
                    f"\n{self._tail('errors')}"
                )
            return udp_bound(self.port)

        try:
            wait_until(ready, timeout, f"SIPp to listen on {self.address}")
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout: float = 60.0) -> SippResult:
        """Wait for SIPp to finish by itself (a caller after its calls, a carrier after
        `calls`); stops it after `timeout` and raises."""
        if self.process is None:
            raise HarnessError("SIPp was not started")
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise HarnessError(f"SIPp did not finish within {timeout:g} s") from None
        return self._collect()

    def stop(self, grace: float = 5.0) -> SippResult:
        """Ask SIPp to quit (SIGUSR1, as its 'q' key: no new calls, wait for the ones in
        progress), again after `grace` (force), then SIGTERM/SIGKILL."""
        if self.process is None:
            raise HarnessError("SIPp was not started")
        if self.process.poll() is None:
            _stop_process(
                self.process,
                [(signal.SIGUSR1, grace), (signal.SIGUSR1, 2.0), (signal.SIGTERM, 2.0)],
            )
        return self._collect()

    def _collect(self) -> SippResult:
        assert self.process is not None
        if self.result is None:
            self.result = SippResult(
                returncode=self.process.returncode,
                stats=self._last_stats(),
                errors=self._read("errors"),
                screen=self._read("screen"),
            )
        return self.result

    def _read(self, name: str) -> str:
        try:
            return self.files[name].read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _tail(self, name: str, lines: int = 20) -> str:
        return "\n".join(self._read(name).splitlines()[-lines:])

    def _last_stats(self) -> dict[str, str]:
        rows = [line for line in self._read("stats").splitlines() if line.strip()]
        if len(rows) < 2:
            return {}
        return dict(zip(rows[0].split(";"), rows[-1].split(";"), strict=False))

    def messages(self) -> list[SipMessage]:
        return parse_sipp_messages(self._read("messages"))

    def received(self, method: str | None = None) -> list[SipMessage]:
        """Messages SIPp received (requests and responses), optionally of one method."""
        return [
            message
            for message in self.messages()
            if message.direction == "received"
            and (method is None or (message.is_request and message.method == method))
        ]

    def sent(self) -> list[SipMessage]:
        return [message for message in self.messages() if message.direction == "sent"]

    def short_messages(self) -> list[ShortMessage]:
        """The -trace_shortmsg log (needs trace_short_messages)."""
        out: list[ShortMessage] = []
        for line in self._read("short").splitlines():
            parts = line.split("\t")
            if len(parts) >= 7:
                at, direction, call_id, cseq, first_line = parts[2], *parts[3:7]
                out.append(ShortMessage(float(at), direction, call_id, cseq, first_line))
        return out

    def response_times(self) -> dict[str, list[float]]:
        """Per rtd timer name, the response times in ms (needs trace_rtt)."""
        times: dict[str, list[float]] = {}
        for path in self.workdir.glob(f"{self.scenario_path.stem}_*_rtt.csv"):
            if self.process is not None and f"_{self.process.pid}_" not in path.name:
                continue
            for line in path.read_text().splitlines()[1:]:
                parts = line.split(";")
                if len(parts) == 3:
                    times.setdefault(parts[2], []).append(float(parts[1]))
        return times

    def __enter__(self) -> Self:
        return self if self.process is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.stop(grace=3.0)


class Startable(Protocol):
    """A process of the harness: `Baresip`, `Sipp` or a phone of tests/sip/phones.py."""

    def start(self) -> object: ...

    def stop(self) -> object: ...


@contextlib.contextmanager
def running(*processes: Startable) -> Iterator[None]:
    """Start processes in order and stop them all (in reverse) however the block ends;
    a SIPp's result is then in its `result`."""
    started: list[Startable] = []
    try:
        for process in processes:
            process.start()
            started.append(process)
        yield
    finally:
        for process in reversed(started):
            if isinstance(process, Sipp):
                process.stop(grace=3.0)  # also collects the result of one that ended
            else:
                process.stop()
