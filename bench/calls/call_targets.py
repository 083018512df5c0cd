"""The B2BUAs under test: the stock sippy B2BUA (the reference) and callyard's switch,
started, readied and stopped."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from call_probes import (
    RelayControl,
    cpu_seconds,
)
from call_settings import (
    CALLYARD,
    PYTHON,
    QUIET_CORES,
    RTP_PORTS,
    SIP_PORT,
    Settings,
)

from callyard.testing.server import callyard
from callyard.testing.sip import (
    LOOPBACK,
    HarnessError,
    Sipp,
    digest_response,
    free_tcp_port,
    free_udp_port,
    parse_digest,
    udp_bound,
    wait_until,
)


@dataclass(frozen=True)
class CallerProfile:
    """How the SIPp UAC places calls through a target: its scenario, the number it dials
    (the R-URI user), digest credentials (-au/-ap) and scenario variables."""

    scenario: str = "uac_g711a.xml"
    service: str = "1234"
    auth: tuple[str, str] | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settled:
    """How a target came back to rest after a phase's calls."""

    sessions_left: int | None  # relay sessions still open
    records: dict[str, int]  # records of the phase's calls, capture files (callyard)
    seconds: float  # from the end of the SIPp run to rest


@dataclass
class Target:
    """A running B2BUA under test: where to send INVITEs, its process, how to watch it."""

    name: str
    description: str
    address: str
    process: subprocess.Popen[bytes]
    log: Path
    caller: CallerProfile = CallerProfile()
    relay: RelayControl | None = None  # rtpproxy control socket, for its counters
    sessions: Callable[[], int | None] | None = None  # relay sessions open now
    # Call records of the calls started since a time, and the capture files on disk now.
    records: Callable[[datetime], dict[str, int]] | None = None
    recorded_seconds: Callable[[], float] | None = None  # audio in its recordings so far
    notes: list[str] = field(default_factory=list)

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def relay_counters(self) -> dict[str, int]:
        return self.relay.counters() if self.relay else {}

    def record_counts(self, since: datetime) -> dict[str, int]:
        return self.records(since) if self.records else {}

    def wait_idle(
        self,
        expected_records: int | None = None,
        since: datetime | None = None,
        timeout: float = 60.0,
    ) -> Settled:
        """Wait until the target is at rest: its relay holds no session; for a target that
        writes call records, `expected_records` records of calls started at or after
        `since` are written; and its CPU has been under QUIET_CORES for a second (an
        overloaded target works through a backlog long after SIPp is done). Gives up
        on sessions and records once they have not moved for 3 s (5 s while records
        are awaited: a relay session of a failed call stays until the relay's own
        timeout, a record of a call that never reached the switch never comes), and on
        everything after `timeout`."""
        started = time.monotonic()
        if self.sessions is None and self.records is None:
            time.sleep(2)
            return Settled(None, {}, 2.0)
        start_of = since or datetime(2000, 1, 1, tzinfo=UTC)
        awaiting = self.records is not None and expected_records is not None
        still = 5.0 if awaiting else 3.0
        history = [(started, self.cpu())]

        def quiet() -> bool:
            at, cpu = time.monotonic(), self.cpu()
            history.append((at, cpu))
            while len(history) > 2 and at - history[1][0] >= 1.0:
                history.pop(0)
            first_at, first_cpu = history[0]
            return at - first_at >= 1.0 and (cpu - first_cpu) / (at - first_at) < QUIET_CORES

        def state() -> tuple[int | None, dict[str, int]]:
            return (self.sessions() if self.sessions else None, self.record_counts(start_of))

        def done(now: tuple[int | None, dict[str, int]]) -> bool:
            sessions, records = now
            written = records.get("records", 0)
            return not sessions and (not awaiting or written >= (expected_records or 0))

        deadline = started + timeout
        last, last_change = state(), time.monotonic()
        while time.monotonic() < deadline:
            at_rest = quiet()
            if at_rest and (done(last) or time.monotonic() - last_change > still):
                break
            time.sleep(0.25)
            now = state()
            if now != last:
                last, last_change = now, time.monotonic()
        sessions, records = last
        if sessions:
            print(f"  note: {sessions} relay sessions left over", file=sys.stderr, flush=True)
        return Settled(sessions, records, round(time.monotonic() - started, 1))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sippy(work: Path, carrier: Sipp, settings: Settings) -> Target | None:
    """The reference: sippy's stock B2BUA (python -m sippy.b2bua) with an embedded rtp.io
    relay, routing every call to the carrier, no authentication or accounting."""
    work.mkdir(parents=True, exist_ok=True)
    wait_until(lambda: not udp_bound(SIP_PORT), 15, f"UDP port {SIP_PORT} to be free")
    control = free_udp_port()
    relay_args = [
        "-F",  # rtp.io refuses to run as root without it
        "-d", "WARN",
        "-l", LOOPBACK,
        "-m", str(RTP_PORTS[0]),
        "-M", str(RTP_PORTS[1]),
        "-s", f"udp:{LOOPBACK}:{control}",  # a second control socket, for statistics
    ]  # fmt: skip
    command = [
        *settings.pin(settings.target_cpu),
        str(PYTHON),
        "-m",
        "sippy.b2bua",
        "-f",  # foreground
        "-u",  # no RADIUS authentication
        "-A", "0",  # no accounting
        "-l", LOOPBACK,
        "-p", str(SIP_PORT),
        "-s", carrier.address,  # static route: every call to the carrier
        f"--b2bua_socket={work / 'b2bua.sock'}",
        f"--logfile={work / 'b2bua.log'}",
        "--rtp_proxy_clients=rtp.io:" + ";".join(relay_args),
    ]  # fmt: skip
    log = work / "b2bua.out"
    env = {**os.environ, "SIPLOG_BEND": "none"}
    with log.open("wb") as out:
        # cwd: rtp.io writes rtpproxy_acct.csv in the working directory.
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=work, env=env)
    relay = RelayControl(control)

    def ready() -> bool:
        if process.poll() is not None:
            raise HarnessError(f"sippy b2bua exited:\n{log.read_text()[-2000:]}")
        if not udp_bound(SIP_PORT):
            return False
        try:
            relay.command("V", timeout=0.2)
        except OSError:
            return False
        return True

    wait_until(ready, 20, "the sippy B2BUA to listen")
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("sippy", "rtp.io"))
    return Target(
        name="sippy-b2bua",
        description=f"stock sippy B2BUA + embedded rtp.io relay ({versions})",
        address=f"{LOOPBACK}:{SIP_PORT}",
        process=process,
        log=log,
        relay=relay,
        sessions=relay.active_sessions,
        notes=["relay counters: rtpproxy `G` over an extra control socket"],
    )


# callyard's side of the bench: a company with one extension (the UAC), a trunk to the
# carrier and a caller-ID number for the calls it carries.
EXTENSION = "10010001"


EXTENSION_PASSWORD = "benchpass1"


CALLER_ID = "622150001"


DIALLED = "628123456789"


def register(
    server: tuple[str, int], local_port: int, user: str, password: str, expires: int = 3600
) -> None:
    """REGISTER `user` from 127.0.0.1:`local_port` (where the UAC will place its calls
    from) with digest authentication (401, then the answer with qop=auth)."""
    host, port = server
    call_id = f"{secrets.token_hex(8)}@bench"
    tag = secrets.token_hex(4)

    def request(cseq: int, authorization: str | None) -> bytes:
        lines = [
            f"REGISTER sip:{host}:{port} SIP/2.0",
            f"Via: SIP/2.0/UDP {LOOPBACK}:{local_port};branch=z9hG4bK{secrets.token_hex(8)}",
            "Max-Forwards: 70",
            f"From: <sip:{user}@{host}:{port}>;tag={tag}",
            f"To: <sip:{user}@{host}:{port}>",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{user}@{LOOPBACK}:{local_port}>",
            f"Expires: {expires}",
            "User-Agent: bench-calls",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        return ("\r\n".join([*lines, "Content-Length: 0", "", ""])).encode()

    def exchange(sock: socket.socket, message: bytes) -> str:
        for _ in range(4):
            sock.sendto(message, server)
            try:
                while True:
                    reply = sock.recv(65536).decode(errors="replace")
                    if not reply.startswith("SIP/2.0 1"):
                        return reply
            except TimeoutError:
                continue
        raise HarnessError(f"no answer to REGISTER from {host}:{port}")

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, local_port))
        sock.settimeout(1.0)
        challenge = exchange(sock, request(1, None))
        header = re.search(r"^WWW-Authenticate:\s*(.+?)\r?$", challenge, re.I | re.M)
        if not challenge.startswith("SIP/2.0 401") or header is None:
            raise HarnessError(f"REGISTER: expected a 401 challenge, got {challenge[:200]!r}")
        params = parse_digest(header.group(1))
        uri, cnonce, nc = f"sip:{host}:{port}", secrets.token_hex(8), "00000001"
        qop = "auth" if "auth" in params.get("qop", "").split(",") else None
        response = digest_response(
            username=user, realm=params["realm"], password=password, method="REGISTER",
            uri=uri, nonce=params["nonce"], qop=qop, nc=nc, cnonce=cnonce,
        )  # fmt: skip
        answer = (
            f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
            f'uri="{uri}", response="{response}", algorithm=MD5'
        )
        if qop:
            answer += f', qop={qop}, nc={nc}, cnonce="{cnonce}"'
        reply = exchange(sock, request(2, answer))
        if not reply.startswith("SIP/2.0 200"):
            raise HarnessError(f"REGISTER refused: {reply.splitlines()[0]!r}")


def start_callyard(work: Path, carrier: Sipp, settings: Settings) -> Target | None:
    """callyard's own switch (`callyard serve`), as a phone uses it: the UAC registers as
    an extension and authenticates each INVITE (407, then the answer); it dials a phone
    number, which the switch routes out through the company's trunk to the carrier
    ("method 2", with the pool's caller ID), relaying the media through its embedded
    rtp.io and recording every answered call (recording is not optional in callyard)
    into a WAV and a call record in SQLite. All of that is what is measured."""
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"

    def cli(*args: str) -> Any:
        return callyard(*args, "--data-dir", str(data))

    # Provisioned before the server starts (the server also picks up changes made while
    # it runs, within 0.5 s).
    company = str(cli("company", "create", "--name", "bench")["companycode"])
    cli("extension", "create", "--company", company, "--number", EXTENSION,
        "--password", EXTENSION_PASSWORD)  # fmt: skip
    cli("trunk", "add", "--company", company, "--name", "carrier", "--host", LOOPBACK,
        "--port", str(carrier.port))  # fmt: skip
    cli("number", "add", "--company", company, "--number", CALLER_ID)

    wait_until(lambda: not udp_bound(SIP_PORT), 15, f"UDP port {SIP_PORT} to be free")
    http = f"{LOOPBACK}:{free_tcp_port()}"
    command = [
        *settings.pin(settings.target_cpu),
        str(CALLYARD), "serve",
        "--data-dir", str(data),
        "--http", http,
        "--sip", f"{LOOPBACK}:{SIP_PORT}",
        "--rtp-ports", f"{RTP_PORTS[0]}-{RTP_PORTS[1]}",
    ]  # fmt: skip
    log = work / "callyard.log"
    env = {**os.environ, "CALLYARD_LOG_LEVEL": "warning"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=work, env=env)

    def ready() -> bool:
        if process.poll() is not None:
            raise HarnessError(f"callyard serve exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://{http}/healthz", timeout=1) as reply:
                if reply.status != 200:
                    return False
        except (urllib.error.URLError, OSError):
            return False
        return udp_bound(SIP_PORT)

    wait_until(ready, 30, "callyard to answer /healthz and listen for SIP", interval=0.1)
    register((LOOPBACK, SIP_PORT), settings.uac_port, EXTENSION, EXTENSION_PASSWORD)
    database = data / "callyard.db"

    def records(since: datetime) -> dict[str, int]:
        # Times are stored as naive UTC text, "2026-01-31 12:00:00.123456".
        start = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        with contextlib.closing(
            sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
        ) as db:
            total, recorded, answered = db.execute(
                "SELECT count(*), coalesce(sum(recordfilename != ''), 0),"
                " coalesce(sum(answertime IS NOT NULL), 0) FROM call_records"
                " WHERE starttime >= ?",
                (start,),
            ).fetchone()
        captures = data / "captures"
        return {
            "records": total,
            "recorded": recorded,
            "answered": answered,
            # The relay's per-direction captures still on disk (the switch converts them
            # into the call's WAV, then deletes them).
            "capture_files": len(os.listdir(captures)) if captures.is_dir() else 0,
        }

    def recorded_seconds() -> float:
        # 8 kHz 16-bit stereo WAVs: 32,000 bytes a second, after a 44-byte header.
        wavs = (data / "recordings").rglob("*.wav")
        return sum(max(0, wav.stat().st_size - 44) for wav in wavs) / 32_000

    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("sippy", "rtp.io"))
    return Target(
        name="callyard",
        description=(
            f"callyard {metadata.version('callyard')} switch: registered extension with "
            f"digest auth -> trunk, embedded rtp.io relay, every call recorded "
            f"(on {versions})"
        ),
        address=f"{LOOPBACK}:{SIP_PORT}",
        process=process,
        log=log,
        caller=CallerProfile(
            scenario="uac_g711a_auth.xml",
            service=DIALLED,
            auth=(EXTENSION, EXTENSION_PASSWORD),
            variables={"caller": EXTENSION},
        ),
        records=records,
        recorded_seconds=recorded_seconds,
        notes=[
            "no relay counters or session count (callyard's embedded rtp.io has no "
            "statistics socket): idle = every call's record written",
        ],
    )
