"""Webhook delivery benchmark: real calls through callyard, on loopback (see bench/README.md).

bench/webhooks/run runs this inside a network namespace of its own:

  SIPp UAC (uac_g711a_auth.xml: registered phones, digest auth, G.711 A-law)
      -> callyard serve on 127.0.0.1:5060 (switch, relay, recording, call records)
      -> SIPp UAS (uas_answer_echo.xml, answers, echoes the media)

  callyard's webhook worker -> a receiver in this process on 127.0.0.1 (HTTP/1.1)

callyard is provisioned and started by bench/calls (`start_callyard`: company, extension,
trunk to the UAS, caller-ID number); more extensions are added and registered, the
phones the calls come from in turn, and the company's call-state and call-record webhooks
point at the receiver, which notes time.time() as each request arrives, checks its
signature and answers 200. The UAC places calls at a few rates (calls per minute).

Latency is from a call's hangup, the moment the UAC sent its BYE (its first one, as
SIPp's -trace_shortmsg log stamps it, or callyard's end of the call when that is earlier:
SIPp stamps a message just after sending it, late when it was preempted), to the
arrival of the call's `hangup` call-state events (one per leg) and of its call-record
event. Every event carries callyard's id of the call (`uuid`) and the extension that
called (`extnumber`); SIPp's calls are paired with callyard's ids through its call
records, phone by phone: a record's `starttime` and `endtime` (microseconds, in its
database) come a few milliseconds after the UAC's authenticated INVITE and BYE, and a
phone's calls are seconds apart. (The calls of a step
all dial one number: SIPp computes its digest over the fixed `-auth_uri`, which callyard
wants to be the Request-URI, so the number cannot change from call to call; the phone
can.) SIPp's trace times are gettimeofday(): a check at the start confirms they are
time.time()'s clock; if they were not, the hangup moment would be the call record's
`endtime`, and the report says which it used.

Settings (environment): BENCH_WEBHOOK_RATES ("200,600" calls/min), BENCH_WEBHOOK_SECONDS
("60,30", one per rate, the last one for the rest), BENCH_WEBHOOK_HOLD_MS (1500),
BENCH_WEBHOOK_PHONES (30), BENCH_WEBHOOK_BASELINE_SECONDS (20: the first rate with no
webhooks set, for callyard's CPU without them; 0 skips it), BENCH_TARGET_CPU ("0,1") and
BENCH_SIPP_CPU (1; "" for no pinning), BENCH_KEEP (1 keeps the work directory),
BENCH_RESULTS (bench/results/webhooks.json).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from call_load import start_carrier, summary
from call_probes import LogWatch, sipp_failures
from call_report import fmt, run_header, table
from call_settings import SIP_PORT
from call_settings import Settings as CallsSettings
from call_targets import EXTENSION, EXTENSION_PASSWORD, Target, register, start_callyard

from callyard.testing.receiver import Received, Receiver
from callyard.testing.server import callyard
from callyard.testing.sip import (
    LOOPBACK,
    SCENARIOS,
    HarnessError,
    Sipp,
    SippResult,
    free_media_port,
    free_udp_port,
    isolated_network,
    prepare_pcap_dir,
)
from callyard.webhooks import signing

ROOT = Path(__file__).resolve().parents[2]
STATE_PATH = "/hooks/call-state"
RECORD_PATH = "/hooks/call-record"
KINDS = ("hangup", "record")  # what latency is reported for
# The aim the figures are judged against.
AIM_RATE = 200  # calls per minute
AIM_P99_MS = 1000.0  # hangup to delivery, 99th percentile
DRAIN_TIMEOUT = 120.0  # s to wait for a step's last events after its calls
STALL_SECONDS = 10.0  # ... or until nothing arrived for this long
# SIPp's trace and time.time() are one clock when a datagram arrives this soon (ms)
# after SIPp wrote that it sent it.
CLOCK_TOLERANCE_MS = (-1.0, 50.0)
# A SIPp call and a call record of the same phone are the same call when the record's
# start and end are this close after the UAC's INVITE and BYE (s). Before, too: SIPp
# stamps a message in its trace just after sending it, late when it was preempted.
PAIRING_WINDOW = (-0.5, 2.0)


def env_list(name: str, default: str) -> list[int]:
    return [int(x) for x in re.split(r"[,\s]+", os.environ.get(name, default).strip()) if x]


def dialled(index: int) -> str:
    """The number the calls of a step dial: 1 to 8 the measured steps, 0 the warm-up,
    99 the baseline."""
    return f"6281234567{index:02d}"


@dataclass(frozen=True)
class Settings:
    rates: list[int]  # calls per minute, one step each
    seconds: list[int]  # each step's length
    hold_ms: int  # from the answer to the UAC's BYE
    baseline_seconds: int  # the first rate with no webhooks set (0: none)
    phones: int  # extensions the calls come from, in turn
    results: Path
    keep: bool
    calls: CallsSettings  # what bench/calls' functions take: CPUs, the UAC's ports

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        rates = env_list("BENCH_WEBHOOK_RATES", "200,600")
        given = env_list("BENCH_WEBHOOK_SECONDS", "60,30") or [60]
        seconds = [given[min(i, len(given) - 1)] for i in range(len(rates))]
        calls = dataclasses.replace(
            CallsSettings.from_env(), uac_port=free_udp_port(), uac_media_port=free_media_port()
        )
        return cls(
            rates=rates,
            seconds=seconds,
            hold_ms=int(env("BENCH_WEBHOOK_HOLD_MS", "1500")),
            baseline_seconds=int(env("BENCH_WEBHOOK_BASELINE_SECONDS", "20")),
            phones=max(1, int(env("BENCH_WEBHOOK_PHONES", "30"))),
            results=Path(env("BENCH_RESULTS", str(ROOT / "bench/results/webhooks.json"))),
            keep=env("BENCH_KEEP") == "1",
            calls=calls,
        )


# -- the receiver ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One webhook request as the receiver got it."""

    at: float  # time.time() once its body was read
    path: str
    event_id: str
    kind: str  # X-Callyard-Event
    body: dict[str, Any]
    signed: bool  # the signature is the secret's over its timestamp and body

    @property
    def call(self) -> str:
        """callyard's id of the call."""
        return str(self.body.get("uuid", ""))

    @property
    def number(self) -> str:
        """The number the call dialled."""
        key = "destnumber" if self.kind == "call_record" else "callee"
        return str(self.body.get(key, ""))

    @property
    def label(self) -> str:
        """`record`, or a call-state event's status and leg: `ring-a`, `hangup-b`..."""
        if self.kind == "call_record":
            return "record"
        leg = "b" if self.body.get("isbleg") == "true" else "a"
        return f"{self.body.get('status', '?')}-{leg}"


class Hooks:
    """tests/webhooks' threaded HTTP receiver on 127.0.0.1, answering 200 to every request,
    with each request's arrival time and signature check."""

    def __init__(self) -> None:
        self.secret = ""
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self.receiver = Receiver(self._arrived)

    def start(self) -> Hooks:
        self.receiver.start()
        return self

    def stop(self) -> None:
        self.receiver.stop()

    def url(self, path: str) -> str:
        return f"http://{LOOPBACK}:{self.receiver.port}{path}"

    def _arrived(self, got: Received) -> int:
        at = time.time()
        headers = got.headers
        signed = bool(self.secret) and signing.verify(
            self.secret,
            headers.get(signing.TIMESTAMP_HEADER.lower(), ""),
            headers.get(signing.SIGNATURE_HEADER.lower(), ""),
            got.body,
            at,
        )
        try:
            body = json.loads(got.body)
        except ValueError:
            body = None
        arrival = Arrival(
            at=at,
            path=got.path,
            event_id=headers.get(signing.EVENT_ID_HEADER.lower(), ""),
            kind=headers.get(signing.EVENT_HEADER.lower(), ""),
            body=body if isinstance(body, dict) else {},
            signed=signed,
        )
        with self._lock:
            self.arrivals.append(arrival)
        return 200

    def snapshot(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)

    def of_number(self, number: str) -> list[Arrival]:
        """The requests about the calls of a step (the number they dialled)."""
        return [a for a in self.snapshot() if a.number == number]

    def drain(self, number: str, expected: int) -> float:
        """Wait until `expected` call-record events of the step's calls have arrived (a
        call's record is its last event), or nothing has arrived for STALL_SECONDS, or
        DRAIN_TIMEOUT; returns the seconds waited."""
        started = time.monotonic()
        seen, changed = -1, started
        while time.monotonic() - started < DRAIN_TIMEOUT:
            mine = self.of_number(number)
            records = {a.event_id for a in mine if a.kind == "call_record"}
            if len(records) >= expected:
                break
            if len(mine) != seen:
                seen, changed = len(mine), time.monotonic()
            elif time.monotonic() - changed > STALL_SECONDS:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # anything sent twice right away
        return round(time.monotonic() - started, 1)


# -- SIPp: the clock, the calls and their trace ------------------------------------------------


def clock_check(work: Path, settings: CallsSettings) -> dict[str, Any]:
    """Whether SIPp's -trace_shortmsg times are time.time()'s clock: a SIPp UAC sends a
    few INVITEs to a UDP socket here, which notes time.time() as each arrives. On one
    clock, arrival minus SIPp's "sent" time is a fraction of a millisecond."""
    arrived: dict[str, float] = {}
    prepare_pcap_dir(work, seconds=0.2)  # the scenario's clip, never played here
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(0.1)
        sipp = Sipp(
            "uac_g711a.xml",
            work,
            remote=f"{LOOPBACK}:{sock.getsockname()[1]}",
            calls=5,
            rate=10,
            trace_messages=False,
            trace_short_messages=True,
            timeout_s=2,
            prefix=settings.pin(settings.sipp_cpu),
            name="clock",
        ).start()
        try:
            deadline = time.monotonic() + 10
            while sipp.running and time.monotonic() < deadline:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                at = time.time()
                found = re.search(rb"^Call-ID:\s*(\S+)", data, re.I | re.M)
                if found:
                    arrived.setdefault(found.group(1).decode(), at)
        finally:
            sipp.stop(grace=1)
    sent: dict[str, float] = {}
    for message in sipp.short_messages():
        if message.direction == "S" and message.first_line.startswith("INVITE "):
            sent.setdefault(message.call_id, message.at)
    offsets = sorted(1000 * (arrived[c] - at) for c, at in sent.items() if c in arrived)
    low, high = CLOCK_TOLERANCE_MS
    return {
        "same_clock": bool(offsets) and all(low <= o <= high for o in offsets),
        "datagrams": len(offsets),
        "offset_ms": [round(o, 3) for o in offsets],
    }


def phone_numbers(count: int) -> list[str]:
    """The extensions the calls come from: bench/calls' 10010001 and the next ones."""
    return [str(int(EXTENSION) + i) for i in range(count)]


def caller_files(work: Path, scenario: str, phones: list[str]) -> tuple[Path, Path]:
    """The UAC's scenario and injection file: bench/calls' (uac_g711a_auth.xml) with the
    caller and its credentials taken from the injection file, one line per call in turn
    (SIPp's SEQUENTIAL: call number N gets line (N - 1) mod the number of lines)."""
    text = (SCENARIOS / scenario).read_text(encoding="iso-8859-1")
    changes = (
        ('  <Global variables="caller"/>\n', ""),  # -set caller no more
        ("[$caller]", "[field0]"),  # From and Contact
        ("[authentication]", "[field1]"),  # SIPp parses a keyword read from the file
    )
    for old, new in changes:
        if old not in text:
            raise HarnessError(f"{scenario} has no {old.strip()!r} any more")
        text = text.replace(old, new)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "uac_phones.xml"
    path.write_text(text, encoding="iso-8859-1")
    injection = work / "phones.csv"
    injection.write_text(
        "SEQUENTIAL\n"
        + "".join(
            f"{n};[authentication username={n} password={EXTENSION_PASSWORD}]\n" for n in phones
        )
    )
    return path, injection


@dataclass(frozen=True)
class UacCall:
    """One call of the UAC, from its trace."""

    call_id: str
    phone: str  # the extension it came from
    invite_at: float  # the authenticated INVITE (the last CSeq), first sent
    bye_at: float | None  # its first BYE: the hangup


def uac_calls(sipp: Sipp, phones: list[str]) -> list[UacCall]:
    """The calls of a SIPp run, each with its phone: SIPp's Call-ID is
    `CALLNUMBER-PID@IP`, the call number gives the injection file's line."""
    invites: dict[str, dict[int, float]] = {}
    byes: dict[str, float] = {}
    for message in sipp.short_messages():
        if message.direction != "S":
            continue
        if message.first_line.startswith("INVITE "):
            found = re.search(r"\d+", message.cseq)
            cseq = int(found.group()) if found else 0
            invites.setdefault(message.call_id, {}).setdefault(cseq, message.at)
        elif message.first_line.startswith("BYE "):
            byes.setdefault(message.call_id, message.at)
    calls = []
    for call_id, sent in invites.items():
        number = int(call_id.split("-", 1)[0])
        phone = phones[(number - 1) % len(phones)]
        calls.append(UacCall(call_id, phone, sent[max(sent)], byes.get(call_id)))
    return calls


@dataclass(frozen=True)
class Placed:
    """One step's calls, and callyard's CPU over them and what followed."""

    sipp: Sipp
    result: SippResult
    calls: int
    cpu_s: float
    wall_s: float

    def cpu(self) -> dict[str, float | None]:
        done = self.result.successful + self.result.failed
        return {
            "cpu_s": round(self.cpu_s, 2),
            "cpu_cores": round(self.cpu_s / self.wall_s, 3) if self.wall_s else None,
            "cpu_ms_per_call": round(1000 * self.cpu_s / done, 2) if done else None,
        }


@dataclass(frozen=True)
class Caller:
    """How the UAC places calls: the scenario, the injection file, its phones."""

    scenario: Path
    injection: Path
    phones: list[str]


def place_calls(
    work: Path,
    name: str,
    number: str,
    per_minute: int,
    seconds: int,
    settings: Settings,
    target: Target,
    caller: Caller,
    after: Callable[[Sipp], object],
) -> Placed:
    """`per_minute` calls a minute for `seconds` s, all dialling `number`, from a target at
    rest; `after` waits for what the calls cause. The UAC runs as bench/calls' run_caller
    runs it (media until ~300 ms before the BYE), but from the phones in turn, with its
    short-message trace and `-auth_uri` the Request-URI (SIPp's default digest URI is
    sip:HOST:PORT, which callyard refuses). callyard's CPU is measured over the calls
    and `after`."""
    calls = max(1, round(per_minute * seconds / 60))
    rate = per_minute / 60
    workdir = work / name
    prepare_pcap_dir(workdir, seconds=max(0.2, settings.hold_ms / 1000 - 0.3))
    guard = calls / rate + settings.hold_ms / 1000 + 40
    sipp = Sipp(
        caller.scenario,
        workdir,
        remote=target.address,
        port=settings.calls.uac_port,
        media_port=settings.calls.uac_media_port,
        service=number,
        calls=calls,
        rate=rate,
        call_limit=calls,
        duration_ms=settings.hold_ms,
        trace_messages=False,
        trace_short_messages=True,
        timeout_s=guard,
        prefix=settings.calls.pin(settings.calls.sipp_cpu),
        recv_timeout_ms=10_000,
        extra_args=[
            *("-fd", "1", "-max_recv_loops", "10000", "-inf", str(caller.injection)),
            *("-auth_uri", f"{number}@{target.address}"),
        ],
        name="uac",
    )
    target.wait_idle()
    cpu, started = target.cpu(), time.monotonic()
    sipp.start()
    try:
        result = sipp.wait(guard + 10)
    finally:
        if sipp.running:
            sipp.stop(grace=2)
    after(sipp)
    return Placed(sipp, result, calls, target.cpu() - cpu, time.monotonic() - started)


def provision_phones(data: Path, company: str, phones: list[str], uac_port: int) -> None:
    """The phones beyond bench/calls' first one, created while the server runs (it sees
    them within half a second); then every phone registers from the UAC's address."""
    if len(phones) > 1:
        cli(data, "extension", "create", "--company", company,
            "--range", f"{phones[1]}-{phones[-1]}", "--password", EXTENSION_PASSWORD)  # fmt: skip
        time.sleep(1.0)
    for phone in phones:
        register((LOOPBACK, SIP_PORT), uac_port, phone, EXTENSION_PASSWORD)


# -- callyard ----------------------------------------------------------------------------------


def cli(data: Path, *args: str) -> Any:
    return callyard(*args, "--data-dir", str(data))


def company_code(data: Path) -> str:
    companies = cli(data, "company", "list")
    return str(next(c["code"] for c in companies if c["name"] == "bench"))


def _utc(text: str | None) -> float | None:
    """A time as the store keeps it (naive UTC text) as an epoch time."""
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def read_db(data: Path, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(
        sqlite3.connect(f"file:{data / 'callyard.db'}?mode=ro", uri=True, timeout=10)
    ) as db:
        return list(db.execute(query, args).fetchall())


@dataclass(frozen=True)
class OutboxRow:
    call_id: str
    seq: int
    kind: str
    status: str
    attempts: int
    created: float | None  # the event happened (call-state) / the record was stored
    attempted: float | None  # the delivered attempt started


def outbox_rows(data: Path) -> dict[str, OutboxRow]:
    """callyard's outbox, by event id."""
    rows = read_db(
        data,
        "SELECT event_id, call_id, seq, kind, status, attempts, created_at, delivered_at"
        " FROM webhook_events",
    )
    return {r[0]: OutboxRow(r[1], r[2], r[3], r[4], r[5], _utc(r[6]), _utc(r[7])) for r in rows}


@dataclass(frozen=True)
class Record:
    """A call record's times in callyard's database (its clock)."""

    uuid: str
    phone: str  # the extension that called
    start: float
    end: float


def call_records(data: Path, number: str) -> list[Record]:
    rows = read_db(
        data,
        "SELECT uuid, extnumber, starttime, endtime FROM call_records WHERE destnumber = ?",
        number,
    )
    return [
        Record(uuid, phone, start, end)
        for uuid, phone, started, ended in rows
        if (start := _utc(started)) is not None and (end := _utc(ended)) is not None
    ]


def pair(calls: list[UacCall], records: list[Record]) -> dict[str, Any]:
    """SIPp's calls and callyard's records of them, phone by phone: a record starts and
    ends within PAIRING_WINDOW of the UAC's authenticated INVITE and its BYE, and the
    record that starts closest to an INVITE of its phone is that call's (the start is
    the steadier of the two: the end moves with callyard's load at the BYE).
    `offsets_ms` says how close they were, `margin_ms` how much further than the chosen
    INVITE the phone's next-best one was, at the least (a phone's calls are seconds
    apart: offsets much smaller than the margin leave no doubt)."""
    low, high = PAIRING_WINDOW
    candidates = []
    for i, call in enumerate(calls):
        for j, record in enumerate(records):
            if record.phone != call.phone:
                continue
            start = record.start - call.invite_at
            end = record.end - call.bye_at if call.bye_at is not None else 0.0
            if low <= start <= high and low <= end <= high:
                candidates.append((abs(start), i, j))
    costs: dict[int, list[float]] = {}
    for cost, _i, j in candidates:
        costs.setdefault(j, []).append(cost)
    margins = [1000 * (b - a) for a, b, *_ in (sorted(c) for c in costs.values() if len(c) > 1)]
    paired: dict[str, UacCall] = {}
    taken_calls: set[int] = set()
    taken_records: set[int] = set()
    for _cost, i, j in sorted(candidates):
        if i not in taken_calls and j not in taken_records:
            taken_calls.add(i)
            taken_records.add(j)
            paired[records[j].uuid] = calls[i]
    by_uuid = {r.uuid: r for r in records}
    start_ms = [1000 * (by_uuid[u].start - c.invite_at) for u, c in paired.items()]
    end_ms = [1000 * (by_uuid[u].end - c.bye_at) for u, c in paired.items() if c.bye_at is not None]
    return {
        "paired": paired,
        "count": len(paired),
        "records": len(records),
        "unpaired_calls": len(calls) - len(paired),
        "unpaired_records": len(records) - len(paired),
        # A phone's next-best INVITE for a record was at least this much further from it.
        "margin_ms": round(min(margins), 1) if margins else None,
        "offsets_ms": {"start": summary(start_ms), "end": summary(end_ms)},
    }


# -- a step ------------------------------------------------------------------------------------


def first_arrivals(arrivals: Iterable[Arrival]) -> list[Arrival]:
    """Each event once, as it first arrived."""
    seen: set[str] = set()
    out = []
    for arrival in sorted(arrivals, key=lambda a: a.at):
        if arrival.event_id not in seen:
            seen.add(arrival.event_id)
            out.append(arrival)
    return out


def expected_path(arrival: Arrival) -> str:
    return RECORD_PATH if arrival.kind == "call_record" else STATE_PATH


def of_kind(arrival: Arrival, kind: str) -> bool:
    if kind == "record":
        return arrival.kind == "call_record"
    return arrival.kind == "call_state" and arrival.body.get("status") == kind


def rate(count: int, times: list[float]) -> float | None:
    span = max(times) - min(times) if times else 0.0
    return round(count / span, 2) if span > 0 else None


def analyse(
    arrivals: list[Arrival], hangups: dict[str, float], outbox: dict[str, OutboxRow]
) -> dict[str, Any]:
    """A step's webhook figures: per kind (hangup call-state events, call records) how
    many arrived and how long after the call's hangup (`hangups`: by callyard's call
    id), where that time went inside callyard, and what came per call."""
    events = first_arrivals(arrivals)
    by_call: dict[str, list[Arrival]] = {}
    for arrival in events:
        by_call.setdefault(arrival.call, []).append(arrival)
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        mine = [a for a in events if of_kind(a, kind)]
        latency = [1000 * (a.at - hangups[a.call]) for a in mine if a.call in hangups]
        inside: dict[str, list[float]] = {"event": [], "queued": [], "sent": []}
        for a in mine:
            row = outbox.get(a.event_id)
            if row is None or row.created is None or row.attempted is None:
                continue
            if a.call in hangups:
                inside["event"].append(1000 * (row.created - hangups[a.call]))
            inside["queued"].append(1000 * (row.attempted - row.created))
            inside["sent"].append(1000 * (a.at - row.attempted))
        calls_with = {a.call for a in mine}
        kinds[kind] = {
            "events": len(mine),
            "calls": len(calls_with),
            "missing": len(set(hangups) - calls_with),
            "no_hangup": sum(1 for a in mine if a.call not in hangups),
            "per_s": rate(len(mine), [a.at for a in mine]),
            "latency_ms": summary(latency),
            "inside_ms": {part: summary(values) for part, values in inside.items()},
        }
    patterns = Counter(" ".join(a.label for a in calls) for calls in by_call.values())
    # The outbox keeps order per call and destination URL: the call-state URL's events
    # among themselves (the record goes to its own URL and may arrive before a hangup).
    out_of_order = 0
    for calls in by_call.values():
        for path in {a.path for a in calls}:
            seqs = [
                outbox[a.event_id].seq for a in calls if a.event_id in outbox and a.path == path
            ]
            if seqs != sorted(seqs):
                out_of_order += 1
                break
    return {
        "requests": len(arrivals),
        "events": len(events),
        "duplicates": len(arrivals) - len(events),
        "signature_failures": sum(1 for a in arrivals if not a.signed),
        "misrouted": sum(1 for a in arrivals if a.path != expected_path(a)),
        "calls_with_events": len(by_call),
        "events_per_call": round(len(events) / len(by_call), 2) if by_call else None,
        "patterns": dict(patterns.most_common(5)),
        "out_of_order": out_of_order,
        "per_s": rate(len(events), [a.at for a in events]),
        "kinds": kinds,
    }


def baseline(
    work: Path, per_minute: int, seconds: int, settings: Settings, target: Target, caller: Caller
) -> dict[str, Any]:
    """The same calls with no webhooks set: callyard's CPU without them. The step ends
    when every call's record is written."""
    started = datetime.now(UTC)

    def records_written(sipp: Sipp) -> None:
        assert sipp.result is not None
        target.wait_idle(expected_records=sipp.result.created, since=started)

    placed = place_calls(
        work, "baseline", dialled(99), per_minute, seconds, settings, target, caller,
        records_written,
    )  # fmt: skip
    return {
        "rate_per_min": per_minute,
        "seconds": seconds,
        "calls": placed.calls,
        "successful": placed.result.successful,
        "failed": placed.result.failed,
        **placed.cpu(),
    }


def run_step(
    work: Path,
    index: int,
    per_minute: int,
    seconds: int,
    settings: Settings,
    target: Target,
    caller: Caller,
    hooks: Hooks,
    data: Path,
    same_clock: bool,
) -> dict[str, Any]:
    number = dialled(index)
    log = LogWatch(target.log).mark()
    traced: dict[str, Any] = {}

    def delivered(sipp: Sipp) -> None:
        traced["calls"] = uac_calls(sipp, caller.phones)
        traced["drain_s"] = hooks.drain(number, len(traced["calls"]))

    placed = place_calls(
        work, f"step-{index}", number, per_minute, seconds, settings, target, caller, delivered
    )
    calls: list[UacCall] = traced["calls"]
    records = call_records(data, number)
    paired = pair(calls, records)
    ends = {record.uuid: record.end for record in records}
    hangups = ends
    late: list[float] = []  # ms by which SIPp's BYE stamp came after the record's end
    if same_clock:
        # Both SIPp's stamp (just after it sent the BYE) and callyard's end of the call
        # come after the BYE left: the earlier of the two is the closer.
        hangups = {}
        for uuid, call in paired["paired"].items():
            if call.bye_at is not None:
                hangups[uuid] = min(call.bye_at, ends[uuid])
                if ends[uuid] < call.bye_at:
                    late.append(1000 * (call.bye_at - ends[uuid]))
    return {
        "rate_per_min": per_minute,
        "seconds": seconds,
        "number": number,
        "calls": placed.calls,
        "successful": placed.result.successful,
        "failed": placed.result.failed,
        "sipp_failures": sipp_failures(placed.result),
        "calls_invited": len(calls),
        "pairing": {key: value for key, value in paired.items() if key != "paired"},
        "hangups": len(hangups),
        "bye_stamped_late": {"calls": len(late), "max_ms": round(max(late, default=0.0), 1)},
        "drain_s": traced["drain_s"],
        **placed.cpu(),
        **analyse(hooks.of_number(number), hangups, outbox_rows(data)),
        "server_log": LogWatch(target.log).since(log),
    }


def warm_up(
    work: Path, settings: Settings, target: Target, caller: Caller, hooks: Hooks
) -> dict[str, Any]:
    """Three calls, not measured: the server sees the new webhook settings (within half
    a second) and each path runs once; fails when no call record comes back."""
    number = dialled(0)
    waited: list[float] = []

    def delivered(sipp: Sipp) -> None:
        waited.append(hooks.drain(number, len(uac_calls(sipp, caller.phones))))

    placed = place_calls(work, "warm-up", number, 180, 1, settings, target, caller, delivered)
    records = [a for a in hooks.of_number(number) if a.kind == "call_record"]
    if not records:
        raise HarnessError(
            f"no call-record webhook within {waited[0]:g} s of {placed.calls} calls"
            f" ({placed.result.successful} ok, {len(hooks.snapshot())} requests in all;"
            f" SIPp: {sipp_failures(placed.result)})"
        )
    return {"calls": placed.calls, "successful": placed.result.successful, "records": len(records)}


def outbox_state(data: Path, company: str) -> dict[str, Any]:
    """What callyard's delivery log says once everything was delivered: `callyard webhook
    log --status pending/dead` (both should be empty), and the outbox by status and kind
    with the events that needed more than one attempt."""
    state: dict[str, Any] = {}
    for status in ("pending", "dead"):
        rows = cli(data, "webhook", "log", "--company", company, "--status", status,
                   "--limit", "1000")  # fmt: skip
        state[status] = len(rows)
        state[f"{status}_sample"] = rows[:3]
    state["by_status"] = {
        f"{status} {kind}": {"events": count, "retried": retried, "max_attempts": most}
        for status, kind, count, retried, most in read_db(
            data,
            "SELECT status, kind, count(*), sum(attempts > 1), max(attempts)"
            " FROM webhook_events GROUP BY status, kind ORDER BY status, kind",
        )
    }
    return state


# -- the report --------------------------------------------------------------------------------


def step_label(step: dict[str, Any]) -> str:
    return f"{step['rate_per_min']}/min x {step['seconds']} s"


def print_report(report: dict[str, Any]) -> None:
    clock = report["clock"]
    offsets = clock["offset_ms"]
    print()
    if clock["same_clock"]:
        print(
            "hangup = the UAC's first BYE as SIPp's trace stamped it, or callyard's end of the"
            " call if earlier. SIPp's trace and time.time() are one clock: "
            f"{len(offsets)} datagrams arrived {fmt(min(offsets), 3)} to"
            f" {fmt(max(offsets), 3)} ms after SIPp wrote them sent"
        )
    else:
        print(
            "hangup = the call record's endtime in callyard's database: SIPp's trace times"
            f" are not time.time()'s clock (offsets {offsets} ms)"
        )
    rows = []
    for step in report["steps"]:
        for kind in KINDS:
            figures = step["kinds"][kind]
            latency = figures["latency_ms"]
            rows.append([
                step_label(step), kind, str(step["calls"]), str(step["successful"]),
                str(figures["events"]), str(figures["missing"]), fmt(figures["per_s"], 2),
                fmt(latency.get("p50")), fmt(latency.get("p90")), fmt(latency.get("p99")),
                fmt(latency.get("max")),
            ])  # fmt: skip
    header = ["step", "event", "calls", "ok", "events", "missing", "per s",
              "p50 ms", "p90 ms", "p99 ms", "max ms"]  # fmt: skip
    print(table(rows, header))
    for step in report["steps"]:
        failures = ", ".join(f"{k} {v}" for k, v in step["sipp_failures"].items())
        print(
            f"  {step_label(step)}: {step['requests']} requests, {step['events']} events"
            f" ({fmt(step['per_s'], 2)}/s), {fmt(step['events_per_call'], 2)} per call;"
            f" duplicates {step['duplicates']}, signature failures"
            f" {step['signature_failures']}, misrouted {step['misrouted']}, out of order"
            f" {step['out_of_order']}" + (f"; SIPp {failures}" if failures else "")
        )
        for pattern, count in step["patterns"].items():
            print(f"    {count} calls: {pattern}")
        pairing, late = step["pairing"], step["bye_stamped_late"]
        start, end = pairing["offsets_ms"]["start"], pairing["offsets_ms"]["end"]
        margin = pairing["margin_ms"]
        print(
            f"    paired with callyard's records: {pairing['count']} of {step['calls_invited']}"
            f" calls ({pairing['records']} records), record start - INVITE"
            f" {fmt(start.get('p50'))}/{fmt(start.get('max'))} ms p50/max, end - BYE"
            f" {fmt(end.get('p50'))}/{fmt(end.get('max'))}; "
            + (f"another call at least {margin:g} ms further" if margin else "no other candidate")
            + f"; BYE stamped after the call's end {late['calls']}"
            + (f" (up to {late['max_ms']:g} ms)" if late["calls"] else "")
        )
        for kind in KINDS:
            inside = step["kinds"][kind]["inside_ms"]
            legs = (("event", "hangup -> event"), ("queued", "event -> sent"),
                    ("sent", "sent -> received"))  # fmt: skip
            print(
                f"    {kind}, p50/p99 ms: "
                + ", ".join(
                    f"{label} {fmt(inside[part].get('p50'))}/{fmt(inside[part].get('p99'))}"
                    for part, label in legs
                )
            )
        print(
            f"    callyard CPU {fmt(step['cpu_cores'], 2)} core,"
            f" {fmt(step['cpu_ms_per_call'], 1)} ms per call"
        )
        for entry in step["server_log"][:3]:
            print(f"    callyard log {entry['count']}x {entry['what'][:150]}")
    base = report["baseline"]
    if base:
        print(
            f"  no webhooks set, {base['rate_per_min']}/min x {base['seconds']} s:"
            f" {base['successful']} ok, {base['failed']} failed; callyard CPU"
            f" {fmt(base['cpu_cores'], 2)} core, {fmt(base['cpu_ms_per_call'], 1)} ms per call"
        )
    totals, outbox = report["totals"], report["outbox"]
    print(
        f"all steps: {totals['requests']} requests, {totals['events']} events, duplicates"
        f" {totals['duplicates']}, signature failures {totals['signature_failures']};"
        f" outbox after the run: pending {outbox['pending']}, dead {outbox['dead']}"
    )
    retried = sum(v["retried"] or 0 for v in outbox["by_status"].values())
    print(
        "    outbox: "
        + ", ".join(f"{k} {v['events']}" for k, v in outbox["by_status"].items())
        + f"; events sent more than once: {retried}"
    )
    verdict = report["verdict"]
    if verdict is None:
        print(f"aim (p99 under {AIM_P99_MS:g} ms at {AIM_RATE} calls/min): not measured")
        return
    parts = [
        f"{kind} p99 {fmt(verdict[kind]['p99_ms'])} ms"
        f" ({'met' if verdict[kind]['met'] else 'MISSED'})"
        for kind in KINDS
    ]
    print(
        f"aim: p99 under {AIM_P99_MS:g} ms from hangup to delivery at {AIM_RATE} calls/min: "
        + ", ".join(parts)
        + f" -> {'met' if verdict['met'] else 'MISSED'}"
    )


def judge(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The aim at AIM_RATE: every call placed paired with its record, every such call's
    events delivered, p99 under AIM_P99_MS."""
    step = next((s for s in steps if s["rate_per_min"] == AIM_RATE), None)
    if step is None:
        return None
    verdict: dict[str, Any] = {"step": step_label(step)}
    complete = step["hangups"] == step["calls_invited"] == step["calls"]
    for kind in KINDS:
        figures = step["kinds"][kind]
        p99 = figures["latency_ms"].get("p99")
        verdict[kind] = {
            "p99_ms": p99,
            "met": complete and p99 is not None and p99 < AIM_P99_MS and not figures["missing"],
        }
    verdict["met"] = all(verdict[kind]["met"] for kind in KINDS)
    return verdict


def main() -> int:
    if not isolated_network():
        print("bench/webhooks: not in an isolated network namespace (run bench/webhooks/run)")
        return 2
    settings = Settings.from_env()
    if not settings.rates or len(settings.rates) > 8:
        print("bench/webhooks: BENCH_WEBHOOK_RATES takes 1 to 8 rates")
        return 2
    cpus = settings.calls.sipp_cpu
    if cpus:  # the receiver runs in this process: beside SIPp, away from callyard
        os.sched_setaffinity(0, {int(c) for c in re.split(r"[,\s]+", cpus) if c})
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    started = time.monotonic()
    hooks = Hooks().start()
    carrier: Sipp | None = None
    target: Target | None = None
    try:
        print(
            f"callyard on CPU {settings.calls.target_cpu or 'any'}, SIPp and the receiver on"
            f" CPU {cpus or 'any'}; work dir {work}",
            flush=True,
        )
        clock = clock_check(work / "clock", settings.calls)
        carrier = start_carrier(work, settings.calls)
        target = start_callyard(work / "target", carrier, settings.calls)
        assert target is not None
        data = work / "target" / "data"
        company = company_code(data)
        phones = phone_numbers(settings.phones)
        provision_phones(data, company, phones, settings.calls.uac_port)
        scenario, injection = caller_files(work, target.caller.scenario, phones)
        caller = Caller(scenario, injection, phones)
        print(
            f"== callyard {metadata.version('callyard')} on {target.address},"
            f" {len(phones)} phones ({phones[0]}-{phones[-1]})",
            flush=True,
        )
        base = None
        if settings.baseline_seconds > 0:
            per_minute, seconds = settings.rates[0], settings.baseline_seconds
            print(f"  no webhooks: {per_minute} calls/min for {seconds} s ...", flush=True)
            base = baseline(work, per_minute, seconds, settings, target, caller)
        configured = cli(
            data, "webhook", "set", "--company", company,
            "--call-state-url", hooks.url(STATE_PATH), "--cdr-url", hooks.url(RECORD_PATH),
        )  # fmt: skip
        hooks.secret = configured["secret"]
        print(f"  webhooks to {hooks.url('/hooks/')}", flush=True)
        time.sleep(1.0)  # the server sees new settings within half a second
        print("  warm-up: 3 calls ...", flush=True)
        warm = warm_up(work, settings, target, caller, hooks)
        steps = []
        for index, (per_minute, seconds) in enumerate(
            zip(settings.rates, settings.seconds, strict=True), start=1
        ):
            print(f"  {per_minute} calls/min for {seconds} s ...", flush=True)
            step = run_step(
                work, index, per_minute, seconds, settings, target, caller, hooks, data,
                clock["same_clock"],
            )  # fmt: skip
            steps.append(step)
            if not target.alive():
                raise HarnessError("callyard died")
        all_arrivals = hooks.snapshot()
        unique = len({a.event_id for a in all_arrivals})
        report: dict[str, Any] = {
            **run_header(callyard=metadata.version("callyard")),
            "settings": {
                "rates_per_min": settings.rates,
                "seconds": settings.seconds,
                "hold_ms": settings.hold_ms,
                "baseline_seconds": settings.baseline_seconds,
                "phones": settings.phones,
                "target_cpu": settings.calls.target_cpu,
                "sipp_cpu": settings.calls.sipp_cpu,
            },
            "aim": {"rate_per_min": AIM_RATE, "p99_ms": AIM_P99_MS},
            "clock": clock,
            "hangup_from": "sipp_bye_or_call_end" if clock["same_clock"] else "cdr_endtime",
            "baseline": base,
            "warm_up": warm,
            "steps": steps,
            "totals": {
                "requests": len(all_arrivals),
                "events": unique,
                "duplicates": len(all_arrivals) - unique,
                "signature_failures": sum(1 for a in all_arrivals if not a.signed),
            },
            "outbox": outbox_state(data, company),
            "server_log": LogWatch(target.log).since(0),
        }
        report["verdict"] = judge(steps)
        report["seconds"] = round(time.monotonic() - started, 1)
        print_report(report)
        settings.results.parent.mkdir(parents=True, exist_ok=True)
        settings.results.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\n({report['seconds']} s; written to {settings.results})")
        return 0
    finally:
        if target is not None:
            target.stop()
        if carrier is not None and carrier.running:
            carrier.stop(grace=3)
        hooks.stop()
        if settings.keep:
            print(f"(kept {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
