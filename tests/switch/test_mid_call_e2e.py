"""The middle of a call through `callyard serve` and its CTI: a carrier's caller reaches a
queue's agent, who holds, consults, talks three-way and hands the call over; a supervisor
listens, whispers, barges in and takes the call over. baresip plays every party, each
with a tone of its own; what each one hears is checked phase by phase, with the events
and the call's record."""

from __future__ import annotations

import contextlib
import json
import signal
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest

from callyard.testing.audio import tone_power, tones_heard
from callyard.testing.cti import AgentDesk
from callyard.testing.receiver import Receiver
from callyard.testing.sip import Baresip, running, write_tone_wav
from tests.switch.pbx import AGENT, CALLER_ID, COMPANY, SECOND_AGENT, Pbx, open_pbx
from tests.switch.test_inbound_e2e import download
from tests.switch.test_queue_e2e import (
    THIRD_AGENT,
    WORK_NUMBERS,
    nothing_left,
    restarted,
    staffed_queue,
)
from tests.switch.test_queued_call import channel

pytestmark = pytest.mark.sip

PASSWORD = "s3cret-pass"
CALLER = "628123456789"
CALLER_HZ, FIRST_HZ, SECOND_HZ, SUPERVISOR_HZ = 1000, 440, 600, 800
VOICES = (CALLER_HZ, FIRST_HZ, SECOND_HZ, SUPERVISOR_HZ)
MARGIN = 0.6  # seconds at each end of a phase not judged (jitter buffers, re-INVITEs)
SUPERVISOR = THIRD_AGENT
VOICE_LEVEL = 0.25  # each voice's tone reaches its hearers at half of full scale


@dataclass
class Center:
    """A queue's group with two agents and a supervisor signed in, and their phones."""

    pbx: Pbx
    phones: dict[str, Baresip]
    caller: Baresip
    desks: dict[str, AgentDesk] = field(default_factory=dict)
    start: float = 0.0
    marks: list[tuple[str, float]] = field(default_factory=list)

    def desk(self, extension: str) -> AgentDesk:
        return self.desks[extension]

    def mark(self, name: str, seconds: float = 2.2) -> None:
        """A phase of the call begins now; it lasts `seconds`."""
        self.marks.append((name, time.monotonic() - self.start))
        time.sleep(seconds)

    def span(self, name: str, since: float = 0.0) -> tuple[float, float]:
        """A phase, in seconds of the audio of a party that joined at `since`."""
        names = [mark for mark, _ in self.marks]
        index = names.index(name)
        begin = self.marks[index][1]
        end = self.marks[index + 1][1] if index + 1 < len(self.marks) else begin + 2.0
        return begin + MARGIN - since, end - MARGIN - since


def heard(path: Path, span: tuple[float, float]) -> set[float]:
    return tones_heard(_samples(path, span), VOICES)


def music_heard(path: Path, span: tuple[float, float]) -> bool:
    """Something neither silence nor any party's voice: the hold music (its notes'
    overtones come near some voices' tones, far below a voice's level)."""
    samples = _samples(path, span)
    loud = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) > 300
    return loud and not tones_heard(samples, VOICES, floor=VOICE_LEVEL)


def _samples(path: Path, span: tuple[float, float]) -> Any:
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    start, end = (int(t * rate) for t in span)
    assert min(end, len(samples)) - start >= rate // 2, f"{path}: too little audio in {span}"
    return samples[start:end]


@contextmanager
def center(
    pbx: Pbx, receiver: Receiver, trunk_port: int = 5999, manual: frozenset[str] = frozenset()
) -> Iterator[Center]:
    """Group `sales` (queued number, two agents and a supervisor, all ready) and a
    carrier's caller at the trunk's host (the trunk at `trunk_port`); the phones of the
    extensions in `manual` answer only when told to."""
    staffed_queue(pbx, receiver, supervisor=SUPERVISOR, ring_seconds=10, max_wait_seconds=120)
    pbx.cli(
        "trunk", "add", "--company", COMPANY, "--name", "carrier",
        "--host", "127.0.0.1", "--port", str(trunk_port),
    )  # fmt: skip
    tones = {AGENT: FIRST_HZ, SECOND_AGENT: SECOND_HZ, SUPERVISOR: SUPERVISOR_HZ}
    phones = {
        ext: pbx.phone(
            ext,
            audio=write_tone_wav(pbx.workdir / f"{ext}.wav", seconds=90, frequency=hz),
            answermode="manual" if ext in manual else "auto",
        )
        for ext, hz in tones.items()
    }
    caller = Baresip(
        pbx.workdir / "caller",
        user=CALLER,
        port=pbx.server.sip_port,
        audio=write_tone_wav(pbx.workdir / "caller.wav", seconds=90, frequency=CALLER_HZ),
    )
    with running(*phones.values(), caller):
        for phone in phones.values():
            phone.wait_registered()
        rig = Center(pbx, phones, caller)
        for extension in (SUPERVISOR, SECOND_AGENT, AGENT):  # the first agent ready last
            rig.desks[extension] = desk = AgentDesk(pbx.server.url)
            login = desk.ask(
                "login", companyId=COMPANY, agentNumber=WORK_NUMBERS[extension],
                password=PASSWORD, loginType="1",
            )  # fmt: skip
            assert login["code"] == "0", login
            ready = "busy" if extension != AGENT else "idle"
            assert desk.ask(ready)["code"] == "0"
        try:
            yield rig
        finally:
            for desk in rig.desks.values():
                desk.close()


def put_through(rig: Center) -> None:
    """The caller dials the queued number and is put through to the first agent."""
    rig.caller.dial(f"sip:{CALLER_ID}@127.0.0.1:{rig.pbx.server.sip_port}")
    rig.phones[AGENT].wait_established(timeout=20)
    rig.caller.wait_established(timeout=10)
    rig.desk(AGENT).event("Conversation", timeout=10)
    rig.start = time.monotonic()
    rig.mark("talk")


def ask(desk: AgentDesk, request: str, **fields: Any) -> dict[str, Any]:
    answer = desk.ask(request, **fields)
    assert answer["code"] == "0", (request, answer.get("msg"))
    return answer


def later_event(desk: AgentDesk, name: str, seen: int, timeout: float = 10) -> dict[str, Any]:
    """Event `name` among those after the first `seen` messages the desk received."""
    return desk.wait(
        lambda m: (
            m.get("type") == "event" and m.get("event") == name and desk.messages.index(m) >= seen
        ),
        timeout,
    )


def refused(desk: AgentDesk, request: str, failure: str, **fields: Any) -> dict[str, Any]:
    """A request that does not fit: answered -1, its failure event with a cause."""
    answer = desk.ask(request, **fields)
    assert answer["code"] == "-1", (request, answer)
    event = desk.event(failure, sequence=answer["sequence"])
    assert event["data"]["cause"], event
    return event


def test_an_agent_holds_consults_talks_three_way_and_hands_the_call_over(
    pbx: Pbx, receiver: Receiver
) -> None:
    with center(pbx, receiver) as rig:
        pbx.admin("PUT", "/webhook", {"call_state_url": receiver.url})
        first, second = rig.desk(AGENT), rig.desk(SECOND_AGENT)
        ask(second, "idle")
        put_through(rig)
        hold = ask(first, "hold")
        assert first.event("Hold", sequence=hold["sequence"])["data"]["callType"] == "normal"
        rig.mark("hold")
        ask(first, "unHold")
        rig.mark("resumed")
        seen = len(first.messages)
        rig.phones[AGENT].hold()  # the desk phone's own hold key: a re-INVITE, sendonly
        later_event(first, "Hold", seen)
        rig.mark("phone hold")
        rig.phones[AGENT].resume()
        later_event(first, "UnHold", seen)
        rig.mark("phone resumed")
        consult = ask(first, "consultCall", consultType="1", consultId=WORK_NUMBERS[SECOND_AGENT])
        rig.phones[SECOND_AGENT].wait_established(timeout=15)
        done = first.event("ConsultCall", sequence=consult["sequence"])
        assert done["data"]["callType"] == "consult"
        assert second.event("Conversation")["data"]["callType"] == "consult"
        second_since = time.monotonic() - rig.start
        rig.mark("consult")
        ask(first, "tripartiteTalk")
        rig.mark("three-way")
        rig.phones[AGENT].hangup()  # the first agent leaves: the second keeps the call
        rig.phones[AGENT].wait_closed(timeout=10)
        first.event("After")
        rig.mark("handed over")
        seen = len(first.messages)
        transfer = ask(second, "transferCall", transferType="1", transferId=WORK_NUMBERS[AGENT])
        second.event("TransferCalling", sequence=transfer["sequence"])
        assert second.event("After")["data"]["callType"] == "transfer"  # it had taken the call
        rig.phones[AGENT].wait_established(timeout=15)
        assert later_event(first, "Conversation", seen)["data"]["callType"] == "transfer"
        second.event("TransferCall", sequence=transfer["sequence"])
        rig.mark("transferred")
        rig.caller.hangup()
        rig.caller.wait_closed(timeout=10)
        rig.phones[AGENT].wait_closed(timeout=10)
        after = later_event(first, "After", seen)
    to_caller = rig.caller.received_wav()
    assert heard(to_caller, rig.span("talk")) == {FIRST_HZ}
    assert music_heard(to_caller, rig.span("hold")), "the held caller heard no music"
    assert heard(to_caller, rig.span("resumed")) == {FIRST_HZ}
    assert music_heard(to_caller, rig.span("phone hold")), "the phone's hold played no music"
    assert heard(to_caller, rig.span("phone resumed")) == {FIRST_HZ}
    assert music_heard(to_caller, rig.span("consult")), "the caller heard the consult"
    assert heard(to_caller, rig.span("three-way")) == {FIRST_HZ, SECOND_HZ}
    assert heard(to_caller, rig.span("handed over")) == {SECOND_HZ}
    assert heard(to_caller, rig.span("transferred")) == {FIRST_HZ}
    to_second = rig.phones[SECOND_AGENT].received_wav()
    assert heard(to_second, rig.span("consult", second_since)) == {FIRST_HZ}
    assert heard(to_second, rig.span("three-way", second_since)) == {FIRST_HZ, CALLER_HZ}
    assert heard(to_second, rig.span("handed over", second_since)) == {CALLER_HZ}
    assert after["data"]["callType"] == "transfer"
    record = pbx.record_with(type="callin")
    assert record["extnumber"] == AGENT, "the record names the agent who had the call last"
    assert record["recordfilename"], "the call is recorded once"
    # One recording of the whole call: what the caller heard (left), and the caller.
    stereo = download(pbx, record)
    assert tones_heard(
        _samples(channel(stereo, True, pbx.workdir / "left.wav"), (0, 99)), VOICES
    ) == {
        FIRST_HZ,
        SECOND_HZ,
    }
    assert len([r for r in pbx.records() if r["type"] == "callin"]) == 1
    # App.Sip_* call-state callbacks follow the agent's leg from one agent to the next.
    states = [
        json.loads(r.body)
        for r in receiver.wait_for(8)
        if r.headers.get("x-callyard-event") == "call_state"
    ]
    assert [(s["status"], s["extnumber"]) for s in states] == [
        *(("ring", AGENT), ("answer", AGENT), ("hangup", AGENT)),  # the first agent
        *(("answer", SECOND_AGENT), ("hangup", SECOND_AGENT)),  # took over from the consult
        *(("ring", AGENT), ("answer", AGENT), ("hangup", AGENT)),  # transferred back
    ]
    assert {s["uuid"] for s in states} == {record["uuid"]}
    nothing_left(pbx.server.url)


def test_a_supervisor_listens_whispers_barges_in_and_intercepts(
    pbx: Pbx, receiver: Receiver
) -> None:
    with center(pbx, receiver) as rig:
        agent, other, supervisor = rig.desk(AGENT), rig.desk(SECOND_AGENT), rig.desk(SUPERVISOR)
        # Requests that do not fit change nothing and get their failure events.
        refused(other, "hold", "HoldFail")
        refused(supervisor, "intercept", "InterceptFail", beAgentNumber=WORK_NUMBERS[AGENT])
        put_through(rig)
        refused(other, "listen", "ListenFail", beAgentNumber=WORK_NUMBERS[AGENT])
        refused(agent, "consultTransfer", "ConsultTransferFail")
        refused(agent, "transferCall", "TransferCallFail", transferType="4", transferId="1")
        listen = ask(supervisor, "listen", beAgentNumber=WORK_NUMBERS[AGENT])
        supervisor.event("Listening", sequence=listen["sequence"])
        rig.phones[SUPERVISOR].wait_established(timeout=15)
        supervisor.event("Listen", sequence=listen["sequence"])
        assert supervisor.event("Conversation")["data"]["callType"] == "listen"
        since = time.monotonic() - rig.start
        rig.mark("listen")
        ask(supervisor, "whisper", beAgentNumber=WORK_NUMBERS[AGENT])
        rig.mark("whisper")
        # Barging in through callyard's admin API: the same, told on the desktop.
        seen = len(supervisor.messages)
        barge = {"supervisor": WORK_NUMBERS[SUPERVISOR], "mode": "barge"}
        pbx.admin("POST", f"/agents/{WORK_NUMBERS[AGENT]}/monitor", barge)
        assert later_event(supervisor, "ForceInsert", seen)["data"]["callType"] == "forceInsert"
        rig.mark("barge")
        intercept = ask(supervisor, "intercept", beAgentNumber=WORK_NUMBERS[AGENT])
        supervisor.event("Intercept", sequence=intercept["sequence"])
        agent.event("After")
        rig.phones[AGENT].wait_closed(timeout=10)
        rig.mark("intercepted")
        ask(supervisor, "hold")
        rig.caller.hangup()
        rig.caller.wait_closed(timeout=10)
        supervisor.event("After")
    to_caller, to_agent = rig.caller.received_wav(), rig.phones[AGENT].received_wav()
    to_supervisor = rig.phones[SUPERVISOR].received_wav()
    assert heard(to_caller, rig.span("listen")) == {FIRST_HZ}
    assert heard(to_agent, rig.span("listen")) == {CALLER_HZ}
    assert heard(to_supervisor, rig.span("listen", since)) == {CALLER_HZ, FIRST_HZ}
    assert heard(to_caller, rig.span("whisper")) == {FIRST_HZ}
    assert heard(to_agent, rig.span("whisper")) == {CALLER_HZ, SUPERVISOR_HZ}
    assert heard(to_caller, rig.span("barge")) == {FIRST_HZ, SUPERVISOR_HZ}
    assert heard(to_supervisor, rig.span("barge", since)) == {CALLER_HZ, FIRST_HZ}
    assert heard(to_caller, rig.span("intercepted")) == {SUPERVISOR_HZ}
    assert tone_power(_samples(to_supervisor, rig.span("intercepted", since)), FIRST_HZ) < 0.02
    assert pbx.record_with(type="callin")["extnumber"] == SUPERVISOR
    nothing_left(pbx.server.url)


def test_hang_ups_in_the_middle_of_a_consult_leave_nothing_behind(
    pbx: Pbx, receiver: Receiver
) -> None:
    with center(pbx, receiver) as rig:
        first, second = rig.desk(AGENT), rig.desk(SECOND_AGENT)
        # A supervisor ends a first call: the caller and the agent are released.
        put_through(rig)
        ended = ask(rig.desk(SUPERVISOR), "forceBreak", beAgentNumber=WORK_NUMBERS[AGENT])
        rig.desk(SUPERVISOR).event("ForceBreak", sequence=ended["sequence"])
        rig.caller.wait_closed(timeout=10)
        rig.phones[AGENT].wait_closed(timeout=10)
        first.event("After")
        rig.marks.clear()
        put_through(rig)  # the second agent is still busy: the first takes the next call
        ask(second, "idle")
        consulted = rig.phones[SECOND_AGENT]
        consult = ask(first, "consultCall", consultType="1", consultId=WORK_NUMBERS[SECOND_AGENT])
        consulted.wait_established(timeout=15)
        first.event("ConsultCall", sequence=consult["sequence"])
        consulted.hangup()  # the party consulted leaves: the caller is back with the agent
        consulted.wait_closed(timeout=10)
        first.event("ConsultedCancel", sequence=consult["sequence"])
        second.event("After")
        rig.mark("back")
        seen, second_seen = len(first.messages), len(second.messages)
        ask(first, "consultCall", consultType="1", consultId=WORK_NUMBERS[SECOND_AGENT])
        consulted.wait_established(timeout=15)
        later_event(first, "ConsultCall", seen)
        rig.caller.hangup()  # the caller gives up while it waits
        rig.caller.wait_closed(timeout=10)
        rig.phones[AGENT].wait_closed(timeout=10)
        consulted.wait_closed(timeout=10)
        assert later_event(first, "After", seen)["data"]["occCallId"]
        later_event(second, "After", second_seen)
        for desk in (first, second):
            assert desk.ask("idle")["code"] == "0"  # free again, not stuck in a call
    assert heard(rig.caller.received_wav(), rig.span("back")) == {FIRST_HZ}
    assert len([r for r in pbx.records() if r["type"] == "callin"]) == 2  # one per call
    nothing_left(pbx.server.url)


def test_a_desk_phone_hands_its_caller_over_by_an_attended_transfer(
    pbx: Pbx, receiver: Receiver
) -> None:
    with center(pbx, receiver) as rig:
        first, second = rig.desk(AGENT), rig.desk(SECOND_AGENT)
        phone = rig.phones[AGENT]
        put_through(rig)
        held_dialog = [e for e in phone.events if e.type == "CALL_ESTABLISHED"][-1].call_id
        phone.hold()  # the phone's hold key: the caller hears music
        rig.mark("held")
        # The agent's phone calls the second agent's extension, then transfers the held
        # caller to it: a REFER in that call naming the held call's dialog (Replaces).
        phone.dial(f"sip:{SECOND_AGENT}@127.0.0.1:{pbx.server.sip_port}")
        rig.phones[SECOND_AGENT].wait_established(timeout=15)
        rig.mark("consulting", 2.0)
        seen = len(second.messages)
        target = f"sip:{SECOND_AGENT}@127.0.0.1:{pbx.server.sip_port}"
        phone.transfer(f"{target}?Replaces={quote(held_dialog, safe='')}")
        later_event(second, "Conversation", seen, timeout=15)
        first.event("After")
        phone.wait_closed(timeout=10)
        phone.wait_closed(timeout=10)  # both of its calls
        rig.mark("transferred")
        # The second agent's phone hands the caller back with a blind transfer (REFER).
        first_seen = len(first.messages)
        rig.phones[SECOND_AGENT].transfer(f"sip:{AGENT}@127.0.0.1:{pbx.server.sip_port}")
        phone.wait_established(timeout=15)
        later_event(first, "Conversation", first_seen)
        later_event(second, "After", seen)
        rig.mark("back")
        rig.caller.hangup()
        rig.caller.wait_closed(timeout=10)
        later_event(first, "After", first_seen)
    # What the caller heard, as the call's recording has it (left: the first agent, the
    # second after the attended transfer, the first again after the blind one; right:
    # the caller). The phones' own recordings are not judged here: baresip 1.0 drops
    # frames it takes for old when a phone moved between calls brings its timestamps.
    record = pbx.record_with(type="callin")
    stereo = download(pbx, record)
    left, right = (channel(stereo, side, pbx.workdir / f"{side}.wav") for side in (True, False))
    assert tones_heard(_samples(left, (0, 99)), VOICES) == {FIRST_HZ, SECOND_HZ}
    assert tones_heard(_samples(right, (0, 99)), VOICES) == {CALLER_HZ}
    record = pbx.record_with(type="callin")
    assert record["extnumber"] == AGENT
    assert len([r for r in pbx.records() if r["type"] == "callin"]) == 1
    nothing_left(pbx.server.url)


def children(pid: int) -> set[int]:
    """The processes `pid` started (every thread's)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def test_a_server_killed_in_a_conference_leaves_no_process_and_agents_stay_true(
    pbx: Pbx, receiver: Receiver
) -> None:
    with center(pbx, receiver) as rig:
        supervisor = rig.desk(SUPERVISOR)
        tokens = {ext: rig.desk(ext).event("Login")["data"]["token"] for ext in (AGENT, SUPERVISOR)}
        put_through(rig)
        ask(supervisor, "listen", beAgentNumber=WORK_NUMBERS[AGENT])
        rig.phones[SUPERVISOR].wait_established(timeout=15)
        supervisor.event("Listen")
        (sip,) = children(pbx.server.process.pid)
        (mixer,) = children(sip)  # the conference's mixer, under the SIP process
        pbx.server.stop(signal.SIGKILL)
        for phone in (rig.caller, rig.phones[AGENT], rig.phones[SUPERVISOR]):
            phone.wait_closed(timeout=15)  # the SIP process hung up as the server died
        deadline = time.monotonic() + 15
        while Path(f"/proc/{sip}").exists() or Path(f"/proc/{mixer}").exists():
            assert time.monotonic() < deadline, "the SIP process or the mixer outlived the server"
            time.sleep(0.2)
    server = restarted(pbx)
    try:
        again = open_pbx(server, pbx.workdir)
        assert len([r for r in again.records() if r["type"] == "callin"]) == 1
        states = {}
        for extension, token in tokens.items():
            desk = AgentDesk(again.server.url, token=token)
            states[extension] = desk.event("Reconnect")["nowState"]
            desk.close()
        assert states == {AGENT: "Idle", SUPERVISOR: "Busy"}  # as they chose, out of the call
        nothing_left(again.server.url)
    finally:
        server.stop()


def test_an_agent_mutes_consults_and_hands_the_call_over_to_a_queue_then_a_number(
    pbx: Pbx, receiver: Receiver
) -> None:
    number = pbx.carrier("uas_answer_echo.xml", calls=1)  # echoes what it hears
    with running(number), center(pbx, receiver, trunk_port=number.port) as rig:
        first, second = rig.desk(AGENT), rig.desk(SECOND_AGENT)
        ask(second, "idle")
        put_through(rig)
        ask(first, "mute")
        rig.mark("muted")
        ask(first, "unmute")
        rig.mark("unmuted")
        consult = ask(first, "consultCall", consultType="1", consultId=WORK_NUMBERS[SECOND_AGENT])
        rig.phones[SECOND_AGENT].wait_established(timeout=15)
        first.event("ConsultCall", sequence=consult["sequence"])
        cancel = ask(first, "consultCancel")
        first.event("ConsultCancel", sequence=cancel["sequence"])
        rig.phones[SECOND_AGENT].wait_closed(timeout=10)
        rig.mark("consult cancelled")
        again = ask(first, "consultCall", consultType="1", consultId=WORK_NUMBERS[SECOND_AGENT])
        rig.phones[SECOND_AGENT].wait_established(timeout=15)
        first.event("ConsultCall", sequence=again["sequence"])
        handed = ask(first, "consultTransfer")
        first.event("ConsultTransfer", sequence=handed["sequence"])
        rig.phones[AGENT].wait_closed(timeout=10)
        first.event("After")
        ask(first, "busy")  # the first agent takes no more calls
        rig.mark("consult handed over")
        # To the group: the caller waits in its queue, offered to its ready agent: the
        # second, once its wrap-up is over.
        seen = len(second.messages)
        (sales,) = first.event("Login")["data"]["groupIdList"]  # the group's sn
        to_group = ask(second, "transferCall", transferType="3", transferId=sales)
        second.event("TransferCall", sequence=to_group["sequence"])
        rig.phones[SECOND_AGENT].wait_closed(timeout=10)
        rig.phones[SECOND_AGENT].wait_established(timeout=20)
        assert later_event(second, "Conversation", seen)["data"]["callType"] == "normal"
        rig.mark("queued to the second")
        # To a number, once it answers (transferMode 1): the second agent stays till then.
        outside = ask(
            second, "transferCall", transferType="2", transferId="628555000111", transferMode=1
        )
        second.event("TransferCalling", sequence=outside["sequence"])
        second.event("TransferCall", sequence=outside["sequence"], timeout=15)
        rig.phones[SECOND_AGENT].wait_closed(timeout=10)
        rig.mark("to the number")
        rig.caller.hangup()
        rig.caller.wait_closed(timeout=10)
    to_caller, to_first = rig.caller.received_wav(), rig.phones[AGENT].received_wav()
    assert heard(to_caller, rig.span("muted")) == set(), "the muted agent was heard"
    assert heard(to_first, rig.span("muted")) == {CALLER_HZ}
    assert heard(to_caller, rig.span("unmuted")) == {FIRST_HZ}
    assert heard(to_caller, rig.span("consult cancelled")) == {FIRST_HZ}
    assert heard(to_caller, rig.span("consult handed over")) == {SECOND_HZ}
    assert heard(to_caller, rig.span("queued to the second")) == {SECOND_HZ}
    assert heard(to_caller, rig.span("to the number")) == {CALLER_HZ}  # its own voice, echoed
    invites = number.received("INVITE")
    assert any("628555000111" in (m.header("To") or "") for m in invites)
    assert len([r for r in pbx.records() if r["type"] == "callin"]) == 1
    nothing_left(pbx.server.url)


def test_a_transfer_waiting_for_its_target_is_cancelled(pbx: Pbx, receiver: Receiver) -> None:
    with center(pbx, receiver, manual=frozenset({SECOND_AGENT})) as rig:
        first, second = rig.desk(AGENT), rig.desk(SECOND_AGENT)
        ask(second, "idle")
        put_through(rig)
        transfer = ask(
            first, "transferCall", transferType="1", transferId=WORK_NUMBERS[SECOND_AGENT],
            transferMode=1,
        )  # fmt: skip
        rig.phones[SECOND_AGENT].wait_incoming(timeout=15)
        first.event("TransferCalling", sequence=transfer["sequence"])
        rig.mark("target ringing")
        cancel = ask(first, "transferCancel")
        first.event("TransferCancel", sequence=cancel["sequence"])
        rig.phones[SECOND_AGENT].wait_closed(timeout=10)
        assert second.event("Idle", sequence=0)["nowState"] == "Idle"  # free again
        rig.mark("back")
        refused(first, "transferCancel", "TransferCancelFail")  # nothing to cancel now
        rig.caller.hangup()
        rig.caller.wait_closed(timeout=10)
    to_caller = rig.caller.received_wav()
    assert music_heard(to_caller, rig.span("target ringing")), "the caller heard no music"
    assert heard(to_caller, rig.span("back")) == {FIRST_HZ}
    nothing_left(pbx.server.url)
