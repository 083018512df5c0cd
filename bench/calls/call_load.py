"""The load: SIPp callers through a target to a SIPp carrier, and the phases (setup
rate, concurrent calls, post-dial delay) with their outcomes."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from call_probes import (
    Drops,
    DropSampler,
    LogWatch,
    MediaCounters,
    sipp_failures,
)
from call_settings import (
    Settings,
)
from call_targets import (
    CallerProfile,
    Target,
)

from callyard.testing.sip import (
    Sipp,
    SippResult,
    pcap_packet_count,
    prepare_pcap_dir,
)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "mean": round(statistics.fmean(values), 3),
        "p50": round(percentile(values, 50), 3),
        "p90": round(percentile(values, 90), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3),
    }


@dataclass
class Caller:
    """One SIPp UAC run and what it left."""

    sipp: Sipp
    result: SippResult
    clip_packets: int
    clip_seconds: float
    seconds: float

    @property
    def peak_calls(self) -> int:
        match = re.search(r"Peak was (\d+) calls", self.result.screen)
        return int(match.group(1)) if match else 0


def digest_uri(profile: CallerProfile, remote: str) -> tuple[str, ...]:
    """SIPp computes its digest over sip:REMOTE_IP:PORT unless told the Request-URI,
    which callyard checks it against."""
    return ("-auth_uri", f"{profile.service}@{remote}") if profile.auth else ()


def run_caller(
    work: Path,
    name: str,
    remote: str,
    settings: Settings,
    profile: CallerProfile,
    *,
    calls: int,
    rate: float,
    hold_ms: int,
    short_messages: bool = False,
    during: Callable[[], None] | None = None,
    during_at: float = 0.0,
) -> Caller:
    """Place `calls` calls at `rate`/s, each with media until ~300 ms before its BYE at
    `hold_ms` after the answer. `during` runs once, `during_at` s after the start."""
    caller_dir = work / name
    clip_seconds = max(0.2, hold_ms / 1000 - 0.3)
    clip = prepare_pcap_dir(caller_dir, seconds=clip_seconds)
    limit = calls
    guard = calls / rate + hold_ms / 1000 + 40
    sipp = Sipp(
        profile.scenario,
        caller_dir,
        remote=remote,
        port=settings.uac_port,
        media_port=settings.uac_media_port,
        service=profile.service,
        auth=profile.auth,
        variables=profile.variables,
        calls=calls,
        rate=rate,
        call_limit=limit,
        duration_ms=hold_ms,
        trace_messages=False,
        trace_short_messages=short_messages,
        trace_rtt=True,
        timeout_s=guard,
        prefix=settings.pin(settings.sipp_cpu),
        recv_timeout_ms=10_000,
        extra_args=["-fd", "1", "-max_recv_loops", "10000", *digest_uri(profile, remote)],
        name="uac",
    )
    started = time.monotonic()
    sipp.start()
    try:
        if during is not None:
            time.sleep(max(0.0, during_at - (time.monotonic() - started)))
            if sipp.running:
                during()
        result = sipp.wait(guard + 10)
    finally:
        if sipp.running:
            sipp.stop(grace=2)
    return Caller(sipp, result, pcap_packet_count(clip), clip_seconds, time.monotonic() - started)


def post_dial_delays(caller: Caller) -> dict[str, list[float]]:
    """INVITE->180 and INVITE->200 per call, in ms, from the caller's short trace:
    `ringing`/`answer` from the call's first INVITE (with a challenge, its round trip
    included, as the phone sees it), `ringing_tx`/`answer_tx` from the INVITE the
    response answers (the authenticated one). With a challenge, `reaction` is the
    caller's own time from the 407 to its authenticated INVITE, and `ringing_switch`
    the phone's INVITE->180 less that: the time the target itself took."""
    first: dict[str, float] = {}
    sent: dict[tuple[str, str], float] = {}
    challenged: dict[str, float] = {}
    reaction: dict[str, float] = {}
    ringing: dict[str, tuple[float, str]] = {}
    answer: dict[str, tuple[float, str]] = {}
    for message in caller.sipp.short_messages():
        if message.direction == "S" and message.first_line.startswith("INVITE "):
            first.setdefault(message.call_id, message.at)
            sent.setdefault((message.call_id, message.cseq), message.at)
            if message.call_id in challenged:
                reaction.setdefault(
                    message.call_id, 1000 * (message.at - challenged[message.call_id])
                )
        elif message.direction == "R" and message.cseq.endswith(" INVITE"):
            if message.first_line.startswith("SIP/2.0 407"):
                challenged.setdefault(message.call_id, message.at)
            elif message.first_line.startswith("SIP/2.0 180"):
                ringing.setdefault(message.call_id, (message.at, message.cseq))
            elif message.first_line.startswith("SIP/2.0 200"):
                answer.setdefault(message.call_id, (message.at, message.cseq))

    def delays(got: dict[str, tuple[float, str]], per_transaction: bool) -> list[float]:
        out = []
        for call_id, (at, cseq) in got.items():
            start = sent.get((call_id, cseq)) if per_transaction else first.get(call_id)
            if start is not None:
                out.append(1000 * (at - start))
        return out

    switch_own = [
        1000 * (at - first[call_id]) - reaction.get(call_id, 0.0)
        for call_id, (at, _) in ringing.items()
        if call_id in first
    ]
    return {
        "ringing": delays(ringing, False),
        "answer": delays(answer, False),
        "ringing_tx": delays(ringing, True),
        "answer_tx": delays(answer, True),
        "ringing_switch": switch_own,
        "reaction": list(reaction.values()),
    }


def legs_inside(caller: Caller, carrier: Sipp) -> dict[str, list[float]]:
    """Where a target's post-dial delay goes, per call, in ms: `invite`, from the UAC
    sending the INVITE that gets the 180 (the authenticated one) to the UAS receiving
    the target's INVITE; `ringing` and `answer`, from the UAS sending its 180 or 200 to
    the UAC receiving the target's. Both SIPp log with the same clock; the calls of the
    post-dial delay phase do not overlap, so the two sides' calls are paired in order.
    Empty if they cannot be (different counts)."""
    sent: dict[tuple[str, str], float] = {}
    uac: dict[str, dict[str, float]] = {}
    for message in caller.sipp.short_messages():
        if message.direction == "S" and message.first_line.startswith("INVITE "):
            sent.setdefault((message.call_id, message.cseq), message.at)
        elif message.direction == "R" and message.first_line.startswith(
            ("SIP/2.0 180", "SIP/2.0 200")
        ):
            invite = sent.get((message.call_id, message.cseq))
            if invite is not None:
                times = uac.setdefault(message.call_id, {"invite": invite})
                times.setdefault(message.first_line[8:11], message.at)
    calls = sorted(
        (times["invite"], times["180"], times["200"])
        for times in uac.values()
        if "180" in times and "200" in times
    )
    if not calls:
        return {}
    first, last = calls[0][0], calls[-1][0]
    uas: dict[str, dict[str, float]] = {}
    answers = ("SIP/2.0 180", "SIP/2.0 200")
    for message in carrier.short_messages():
        if message.direction == "R" and message.first_line.startswith("INVITE "):
            if first <= message.at <= last + 1:
                uas.setdefault(message.call_id, {}).setdefault("invite", message.at)
        elif (
            message.direction == "S"
            and message.first_line.startswith(answers)
            and message.cseq.endswith(" INVITE")
            and message.call_id in uas
        ):
            uas[message.call_id].setdefault(message.first_line[8:11], message.at)
    carried = sorted(
        (times["invite"], times["180"], times["200"])
        for times in uas.values()
        if "180" in times and "200" in times
    )
    if len(carried) != len(calls):
        return {}
    pairs = list(zip(calls, carried, strict=True))
    return {
        "invite": [1000 * (down[0] - up[0]) for up, down in pairs],
        "ringing": [1000 * (up[1] - down[1]) for up, down in pairs],
        "answer": [1000 * (up[2] - down[2]) for up, down in pairs],
    }


def measure_pdd(
    work: Path,
    name: str,
    remote: str,
    settings: Settings,
    profile: CallerProfile,
    carrier: Sipp | None = None,
) -> dict[str, Any]:
    """Post-dial delays; with `carrier`, also the time the INVITE and the 180 spend
    inside the target (legs_inside)."""
    caller = run_caller(
        work,
        name,
        remote,
        settings,
        profile,
        calls=settings.pdd_calls,
        rate=settings.pdd_rate,
        hold_ms=500,
        short_messages=True,
    )
    delays = post_dial_delays(caller)
    report = {
        "calls": settings.pdd_calls,
        "rate": settings.pdd_rate,
        "successful": caller.result.successful,
        "failed": caller.result.failed,
        "authenticated": profile.auth is not None,
        **{f"{kind}_ms": summary(values) for kind, values in delays.items()},
    }
    if carrier is not None:
        time.sleep(1.5)  # SIPp writes its trace lines out every second or so
        legs = legs_inside(caller, carrier)
        report["inside_target_ms"] = {kind: summary(values) for kind, values in legs.items()}
    return report


def delta(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    """Counter differences; empty when one of the readings is (the relay did not answer)."""
    if not after or not before:
        return {}
    return {key: after[key] - before.get(key, 0) for key in after}


def media_report(
    caller: Caller, packets: dict[str, int], relay: dict[str, int], drops: Drops
) -> dict[str, Any]:
    """Media of a phase. Each call's clip goes UAC -> target -> UAS and, echoed, UAS ->
    target -> UAC: `expected` is twice the clip per completed call.

    Counted on the SIPp side (MediaCounters), for every target alike: what SIPp sent
    into the target (UAC's clip + UAS's echo) minus what the target delivered to the
    other SIPp (at the UAS + back at the UAC) is either `after_close`, packets that
    reached a port with no socket (UDP NoPorts: sent to the relay after the call's BYE
    had closed its ports, by SIPp's players or echo running late), or `lost_in_target`
    (dropped on the relay's sockets, by the relay, or never forwarded).
    `sipp_behind` = what SIPp itself did not send in time (the UAC's players falling
    behind, or the UAS not echoing what it received).

    `relay` (sippy only): the relay's own counters, `lost` = expected - received + the
    relay's discards, as earlier versions of this benchmark reported it."""
    clip = caller.clip_packets * caller.result.successful
    sent = packets["caller_sent"] + packets["carrier_sent"]
    delivered = packets["carrier_received"] + packets["caller_received"]
    report: dict[str, Any] = {
        "clip_packets": caller.clip_packets,
        "expected": 2 * clip,
        **packets,
        "sent_into_target": sent,
        "delivered_by_target": delivered,
        "after_close": min(max(0, sent - delivered), packets["udp_no_ports"]),
        "lost_in_target": max(0, sent - delivered - packets["udp_no_ports"]),
        "lost_caller_to_carrier": packets["caller_sent"] - packets["carrier_received"],
        "lost_carrier_to_caller": packets["carrier_sent"] - packets["caller_received"],
        "sipp_behind": max(0, clip - packets["caller_sent"])
        + max(0, packets["carrier_received"] - packets["carrier_sent"]),
        "kernel_drops_relay": drops.target_media,
        "kernel_drops_carrier": drops.carrier,
    }
    if relay:
        report["relay"] = {
            "received": relay["npkts_rcvd"],
            "relayed": relay["npkts_relayed"],
            "dropped": relay["npkts_discard"],
            "rtp_seq_lost": relay["rtpa_nlost"],
            "lost": max(0, 2 * clip - relay["npkts_rcvd"]) + relay["npkts_discard"],
        }
    return report


@dataclass(frozen=True)
class Ports:
    carrier: list[int]
    caller: list[int]
    target_sip: list[int]

    def sampler(self) -> DropSampler:
        return DropSampler(self.carrier, self.caller, self.target_sip)


@dataclass(frozen=True)
class Before:
    """Readings at the start of a phase."""

    wall: datetime
    cpu: float
    relay: dict[str, int]
    media: dict[str, int]
    records: dict[str, int]
    recorded_s: float
    log: int

    @classmethod
    def take(cls, target: Target, media: MediaCounters) -> Before:
        wall = datetime.now(UTC)
        return cls(
            wall=wall,
            cpu=target.cpu(),
            relay=target.relay_counters(),
            media=media.read(),
            records=target.record_counts(wall),
            recorded_s=target.recorded_seconds() if target.recorded_seconds else 0.0,
            log=LogWatch(target.log).mark(),
        )


def phase_outcome(
    target: Target, media: MediaCounters, before: Before, caller: Caller, sampler: DropSampler
) -> dict[str, Any]:
    """What a phase left, once the target is at rest again: calls, CPU, media, records."""
    result = caller.result
    settled = target.wait_idle(expected_records=result.created, since=before.wall)
    drops = sampler.stop()
    cpu = target.cpu() - before.cpu
    relay = delta(target.relay_counters(), before.relay)
    packets = delta(media.read(), before.media)
    done = result.successful + result.failed
    outcome: dict[str, Any] = {
        "successful": result.successful,
        "failed": result.failed,
        "created": result.created,
        "retransmissions": result.counter("Retransmissions"),
        "sipp_exit": result.returncode,
        "sipp_failures": sipp_failures(result),
        "peak_calls": caller.peak_calls,
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_call": round(1000 * cpu / done, 2) if done else None,
        "relay_sessions_left": settled.sessions_left,
        "settle_s": settled.seconds,
        "sip_drops_at_target": drops.target_sip,
        "media": media_report(caller, packets, relay, drops),
        "server_log": LogWatch(target.log).since(before.log),
    }
    if target.records is not None:
        captures = settled.records.get("capture_files", 0) - before.records.get("capture_files", 0)
        outcome["records"] = {**settled.records, "capture_files": captures}
    if target.recorded_seconds is not None:
        # Each call's WAV should hold about its clip (both directions side by side).
        seconds = target.recorded_seconds() - before.recorded_s
        expected = result.successful * caller.clip_seconds
        outcome["recordings"] = {
            "seconds": round(seconds, 1),
            "expected_seconds": round(expected, 1),
            "percent": round(100 * seconds / expected, 1) if expected else None,
        }
    return outcome


def measure_rate(
    work: Path, target: Target, rate: int, settings: Settings, ports: Ports, media: MediaCounters
) -> dict[str, Any]:
    calls = rate * settings.rate_seconds
    target.wait_idle()
    before = Before.take(target, media)
    sampler = ports.sampler().start()
    caller = run_caller(
        work, f"rate-{rate}", target.address, settings, target.caller, calls=calls, rate=rate,
        hold_ms=settings.rate_hold_ms,
    )  # fmt: skip
    answer = caller.sipp.response_times().get("answer", [])
    return {
        "rate": rate,
        "calls": calls,
        "seconds": round(caller.seconds, 1),
        "answer_ms": summary(answer),
        **phase_outcome(target, media, before, caller, sampler),
    }


def measure_concurrent(
    work: Path, target: Target, calls: int, settings: Settings, ports: Ports, media: MediaCounters
) -> dict[str, Any]:
    ramp = calls / settings.ramp_rate
    hold_ms = round(1000 * (ramp + settings.hold_seconds))
    target.wait_idle()
    before = Before.take(target, media)
    sampler = ports.sampler().start()
    plateau: dict[str, float] = {}

    def plateau_sample() -> None:
        # All calls are up from ramp + 1 s on; sample just before the first ends.
        plateau["cpu0"] = target.cpu()
        plateau["at0"] = time.monotonic()
        time.sleep(max(0.0, settings.hold_seconds - 2))
        plateau["cpu"] = target.cpu()
        plateau["at"] = time.monotonic()
        sessions = target.sessions() if target.sessions else None
        if sessions is not None:
            plateau["sessions"] = sessions

    caller = run_caller(
        work, f"hold-{calls}", target.address, settings, target.caller, calls=calls,
        rate=settings.ramp_rate, hold_ms=hold_ms, during=plateau_sample, during_at=ramp + 1,
    )  # fmt: skip
    held_cpu = plateau.get("cpu", 0.0) - plateau.get("cpu0", 0.0)
    held_wall = plateau.get("at", 0.0) - plateau.get("at0", 0.0)
    answer = caller.sipp.response_times().get("answer", [])
    return {
        "calls": calls,
        "hold_s": settings.hold_seconds,
        "answer_ms": summary(answer),
        "relay_sessions_held": int(plateau["sessions"]) if "sessions" in plateau else None,
        "held_cpu_cores": round(held_cpu / held_wall, 2) if held_wall > 0 else None,
        **phase_outcome(target, media, before, caller, sampler),
    }


def start_carrier(work: Path, settings: Settings) -> Sipp:
    carrier = Sipp(
        "uas_answer_echo.xml",
        work / "carrier",
        trace_messages=False,
        trace_short_messages=True,  # for the time calls spend inside the target
        call_limit=100_000,
        prefix=settings.pin(settings.sipp_cpu),
        extra_args=["-max_recv_loops", "10000"],
        name="uas",
    )
    return carrier.start()


def completed(step: dict[str, Any]) -> bool:
    """Every call of the step succeeded."""
    return not step["failed"] and step["successful"] == step["calls"]


def clean(step: dict[str, Any]) -> bool:
    """Completed, and the target lost no packet (counted on the SIPp side)."""
    return completed(step) and step["media"]["lost_in_target"] <= 0


def sustainable(step: dict[str, Any], settings: Settings) -> bool:
    """Clean, and answered without queueing: the 99th percentile of INVITE->200 under
    BENCH_MAX_ANSWER_P99_MS (1000; an INVITE unanswered after 500 ms is retransmitted,
    so beyond that the target is falling behind)."""
    p99 = step["answer_ms"].get("p99", float("inf"))
    return clean(step) and p99 < settings.max_answer_p99_ms


def pdd_added(pdd: dict[str, Any], direct: dict[str, Any]) -> dict[str, float]:
    """Median delays through the target minus the same UAC->UAS directly, for each kind
    (ringing, answer, and the same from the authenticated INVITE)."""
    added = {}
    for kind in ("ringing", "answer", "ringing_tx", "answer_tx", "ringing_switch"):
        through = pdd.get(f"{kind}_ms", {})
        base = direct.get(f"{kind.removesuffix('_tx').removesuffix('_switch')}_ms", {})
        if through and base:
            added[kind] = round(through["p50"] - base["p50"], 3)
    return added
