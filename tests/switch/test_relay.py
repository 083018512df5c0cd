"""The embedded relay carries real RTP both ways, its captures become a stereo WAV, and it
plays prompts."""

from __future__ import annotations

import audioop
import math
import queue
import socket
import struct
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from callyard.switch.recording import captures_to_wav
from callyard.switch.relay import (
    PCMA,
    PCMU,
    SIDE_A,
    SIDE_B,
    MediaRelay,
    RelayError,
    prompt_duration,
    prompt_file,
)


def tone(frequency: float, packets: int) -> list[bytes]:
    """20 ms μ-law frames of a sine tone."""
    frames = []
    for n in range(packets):
        samples = [
            int(8000 * math.sin(2 * math.pi * frequency * (n * 160 + i) / 8000)) for i in range(160)
        ]
        frames.append(audioop.lin2ulaw(struct.pack(f"<{len(samples)}h", *samples), 2))
    return frames


def rtp(seq: int, payload: bytes, ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc) + payload


def answer(command: Callable[..., None], *args: Any) -> Any:
    """What a relay command hands its callback (waiting for it)."""
    answers: queue.Queue[Any] = queue.Queue()
    command(*args, answers.put)
    return answers.get(timeout=5)


def endpoint() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    return sock


def drain(sock: socket.socket) -> int:
    """Packets that arrive until 2 s of quiet (on a loaded machine the relay may fall a
    moment behind the 20 ms pace)."""
    sock.settimeout(2.0)
    count = 0
    try:
        while True:
            sock.recv(2048)
            count += 1
    except TimeoutError:
        return count


def test_relay_bridges_and_records_both_directions(tmp_path: Path) -> None:
    relay = MediaRelay("127.0.0.1", (31000, 31100), tmp_path / "captures")
    agent, customer = endpoint(), endpoint()
    try:
        to_agent_side = answer(relay.open, "call-1")
        to_customer_side = answer(
            relay.side_b_at, "call-1", ("127.0.0.1", agent.getsockname()[1], None)
        )
        relay.side_a_at("call-1", ("127.0.0.1", customer.getsockname()[1], None))
        from_customer, from_agent = relay.record("call-1")
        agent_voice, customer_voice = tone(440, 50), tone(1000, 50)
        for seq in range(50):
            agent.sendto(rtp(seq, agent_voice[seq], 1), ("127.0.0.1", to_agent_side))
            customer.sendto(rtp(seq, customer_voice[seq], 2), ("127.0.0.1", to_customer_side))
            time.sleep(0.02)
        assert drain(customer) == 50
        assert drain(agent) == 50
        stats = relay.stats("call-1")
        assert stats is not None
        assert (stats.relayed, stats.dropped) == (100, 0)
        closed = threading.Event()
        relay.close("call-1", closed.set)
        assert closed.wait(5)  # and the captures are complete
        duration = captures_to_wav(from_agent, from_customer, tmp_path / "call-1.wav")
    finally:
        relay.shutdown()
        agent.close()
        customer.close()
    assert 0.9 < duration < 1.3
    with wave.open(str(tmp_path / "call-1.wav")) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        frames = wav.readframes(wav.getnframes())
    left, right = audioop.tomono(frames, 2, 1, 0), audioop.tomono(frames, 2, 0, 1)
    assert audioop.rms(left, 2) > 2000  # the agent's tone
    assert audioop.rms(right, 2) > 2000  # the customer's tone


def test_relay_behind_nat_advertises_another_address(tmp_path: Path) -> None:
    relay = MediaRelay("127.0.0.1", (31200, 31210), tmp_path, advertise="198.51.100.7")
    try:
        assert relay.address == "198.51.100.7"  # what SDP bodies name
        assert 31200 <= answer(relay.open, "call-nat") <= 31210  # bound locally all the same
    finally:
        relay.shutdown()


def receive_rtp(sock: socket.socket) -> list[tuple[int, int, bytes]]:
    """(sequence number, payload type, payload) of every packet until 0.5 s of quiet."""
    packets = []
    try:
        while True:
            data = sock.recv(2048)
            packets.append((struct.unpack_from("!H", data, 2)[0], data[1] & 0x7F, data[12:]))
    except TimeoutError:
        return packets


def receive_for(sock: socket.socket, seconds: float) -> list[bytes]:
    """The RTP payloads that arrive within `seconds`."""
    payloads = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            payloads.append(sock.recv(2048)[12:])
        except TimeoutError:
            break
    sock.settimeout(0.5)
    return payloads


def write_prompt_files(base: Path, seconds: float) -> bytes:
    """A tone as prompt `base` (μ-law and A-law); returns the A-law bytes."""
    samples = [
        int(8000 * math.sin(2 * math.pi * 700 * i / 8000)) for i in range(int(seconds * 8000))
    ]
    linear = struct.pack(f"<{len(samples)}h", *samples)
    prompt_file(base, PCMU).write_bytes(audioop.lin2ulaw(linear, 2))
    alaw = audioop.lin2alaw(linear, 2)
    prompt_file(base, PCMA).write_bytes(alaw)
    return alaw


def test_relay_plays_a_prompt_to_one_side_whole(tmp_path: Path) -> None:
    relay = MediaRelay("127.0.0.1", (31300, 31310), tmp_path / "captures")
    listener, other = endpoint(), endpoint()
    expected = write_prompt_files(tmp_path / "hello", seconds=1.2)
    try:
        to_listener_side = answer(relay.open, "call-play")
        answer(relay.side_b_at, "call-play", ("127.0.0.1", listener.getsockname()[1], None))
        relay.side_a_at("call-play", ("127.0.0.1", other.getsockname()[1], None))
        assert to_listener_side
        seconds = relay.play("call-play", tmp_path / "hello", PCMA, to=SIDE_B)
        packets = receive_rtp(listener)
        assert drain(other) == 0
    finally:
        relay.shutdown()
        listener.close()
        other.close()
    assert seconds == prompt_duration(tmp_path / "hello", PCMA) == 1.2
    assert {payload_type for _, payload_type, _ in packets} == {PCMA}
    played = b"".join(payload for _, _, payload in sorted(packets))
    assert played == expected


def test_a_prompt_replaces_relayed_media_until_stopped(tmp_path: Path) -> None:
    relay = MediaRelay("127.0.0.1", (31320, 31330), tmp_path / "captures")
    listener, talker = endpoint(), endpoint()
    write_prompt_files(tmp_path / "hold", seconds=30)
    voice = tone(1000, 25)
    try:
        answer(relay.open, "call-hold")
        to_talker_side = answer(
            relay.side_b_at, "call-hold", ("127.0.0.1", listener.getsockname()[1], None)
        )
        relay.side_a_at("call-hold", ("127.0.0.1", talker.getsockname()[1], None))
        relay.play("call-hold", tmp_path / "hold", PCMU, to=SIDE_B)
        for seq in range(25):
            talker.sendto(rtp(seq, voice[seq], 3), ("127.0.0.1", to_talker_side))
            time.sleep(0.02)
        during = set(receive_for(listener, 0.2))
        relay.stop_playing("call-hold", to=SIDE_B)
        receive_for(listener, 0.2)
        for seq in range(25, 50):
            talker.sendto(rtp(seq, voice[seq - 25], 3), ("127.0.0.1", to_talker_side))
            time.sleep(0.02)
        after = [payload for _, _, payload in receive_rtp(listener)]
    finally:
        relay.shutdown()
        listener.close()
        talker.close()
    assert during  # the prompt...
    assert not during & set(voice)  # ...and none of the talker's voice
    assert after == voice  # relayed again once the prompt stopped


def test_a_prompt_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    relay = MediaRelay("127.0.0.1", (31340, 31350), tmp_path / "captures")
    write_prompt_files(tmp_path / "known", seconds=0.5)
    try:
        answer(relay.open, "call-missing")
        answer(relay.side_b_at, "call-missing", ("127.0.0.1", 9, None))
        with pytest.raises(RelayError):
            relay.play("call-missing", tmp_path / "unknown", PCMU, to=SIDE_B)
        with pytest.raises(RelayError):
            relay.play(
                "call-missing", tmp_path / "known", 18, to=SIDE_B
            )  # G.729: no such prompt file
        with pytest.raises(RelayError):
            relay.play("no-such-call", tmp_path / "known", PCMU, to=SIDE_B)
    finally:
        relay.shutdown()


class Loop:
    """A stand-in for the SIP thread: scheduled work waits until `run` (one at a time)."""

    def __init__(self) -> None:
        self.work: queue.Queue[Callable[[], None]] = queue.Queue()
        self.scheduled = 0

    def schedule(self, work: Callable[[], None]) -> None:
        self.scheduled += 1
        self.work.put(work)

    def run(self) -> None:
        self.work.get(timeout=5)()


def test_answers_reach_the_calls_thread_in_order_and_refusals_as_none(tmp_path: Path) -> None:
    loop = Loop()
    relay = MediaRelay("127.0.0.1", (31360, 31378), tmp_path / "captures", schedule=loop.schedule)
    answers: list[tuple[str, int | None]] = []
    try:

        def opened(n: int) -> Callable[[int | None], None]:
            return lambda port: answers.append((f"open {n}", port))

        for n in range(3):
            relay.open(f"call-{n}", opened(n))
        relay.side_b_at("no-such-call", ("127.0.0.1", 9, None), lambda p: answers.append(("L", p)))
        relay.close("call-0", lambda: answers.append(("closed", None)))
        assert answers == []  # nothing runs before the calls' thread takes it
        while len(answers) < 5:
            loop.run()
    finally:
        relay.shutdown()
    assert [what for what, _ in answers] == ["open 0", "open 1", "open 2", "L", "closed"]
    ports = [port for _, port in answers[:3]]
    assert all(port is not None and 31360 <= port <= 31378 for port in ports), answers
    assert answers[3] == ("L", None)  # no such session
    assert loop.scheduled <= 5  # answers that came together are taken in one turn


def test_shutdown_runs_the_callbacks_still_due(tmp_path: Path) -> None:
    loop = Loop()
    relay = MediaRelay("127.0.0.1", (31380, 31390), tmp_path / "captures", schedule=loop.schedule)
    closed: list[str] = []
    relay.open("call-1", lambda port: None)
    relay.close("call-1", lambda: closed.append("call-1"))
    relay.shutdown()  # on the calls' thread, which never ran the scheduled work
    assert closed == ["call-1"]
    with pytest.raises(RelayError):
        relay.play("call-1", tmp_path / "any", PCMU, to=SIDE_B)  # gone: refused at once


def test_a_port_offered_to_a_browser_comes_with_the_relays_dtls_and_ice(tmp_path: Path) -> None:
    relay = MediaRelay("127.0.0.1", (31400, 31410), tmp_path / "captures")
    try:
        port = answer(lambda then: relay.open("call-web", then, for_browser=True))
        secure = relay.secure("call-web", SIDE_B)
        assert secure is not None
        assert secure.setup == "actpass"
        assert secure.fingerprint.startswith("SHA-256 ")
        assert secure.ice_ufrag
        assert secure.ice_pwd
        assert any(f" 127.0.0.1 {port} typ host" in c for c in secure.candidates)
        # Side a's port, first offered to a phone, gets them when a browser is called.
        answer(relay.side_b_at, "call-web", ("127.0.0.1", 9, None))
        assert relay.secure("call-web", SIDE_A) is None
        first = answer(lambda then: relay.secure_side("call-web", SIDE_A, then))
        assert first is not None
        assert first == relay.secure("call-web", SIDE_A)
        # The next browser on that side gets an end of its own: new ICE credentials.
        second = answer(lambda then: relay.secure_side("call-web", SIDE_A, then))
        assert second is not None
        assert (second.ice_ufrag, second.ice_pwd) != (first.ice_ufrag, first.ice_pwd)
        # Forgotten with the session.
        assert answer(lambda then: relay.close("call-web", lambda: then(True)))
        assert relay.secure("call-web", SIDE_B) is None
    finally:
        relay.shutdown()
