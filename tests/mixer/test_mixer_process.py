"""The mixer process on loopback: plain UDP sockets play the parties, each sending a tone
of its own as 20 ms G.711 RTP, and each party's received audio is checked for the tones
it should hear, and only those."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from callyard.mixer import g711, rtp
from callyard.mixer.client import Mixer, MixerError, MixerStats
from callyard.testing.audio import tone, tone_power, tones_heard
from callyard.testing.sip import this_worker

HOST = "127.0.0.1"
TELEPHONE_EVENT = 101
SECONDS = 1.0
FRAME = 160


def port_area() -> int:
    """The first port of this test worker's 500: others use 36000-37999 and 50000 up."""
    return 40000 + 500 * this_worker()[0]


class Phone:
    """A party: a UDP socket that sends a tone as RTP and keeps what it receives."""

    def __init__(self, frequency: float, payload_type: int = g711.PCMU) -> None:
        self.frequency = frequency
        self.payload_type = payload_type
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((HOST, 0))
        self.socket.setblocking(False)
        self.address: tuple[str, int] = self.socket.getsockname()
        self.mixer_port: int | None = None
        self.sequence = 1000
        self.sent_samples = 0
        self.packets: list[rtp.RtpPacket] = []
        self.sends_payload_type = payload_type

    def send_frame(self) -> None:
        if self.mixer_port is None:
            return
        if self.sends_payload_type == TELEPHONE_EVENT:
            payload = bytes([5, 10, 0, 160])  # digit 5 (RFC 4733), as a phone sends it
        else:
            samples = tone(self.frequency, FRAME, start=self.sent_samples)
            payload = g711.encode(samples, self.payload_type)
        packet = rtp.build(
            self.sends_payload_type, self.sequence, self.sent_samples, 0x5EED, payload
        )
        self.socket.sendto(packet, (HOST, self.mixer_port))
        self.sequence += 1
        self.sent_samples += FRAME

    def receive(self) -> None:
        while True:
            try:
                datagram = self.socket.recv(2048)
            except BlockingIOError:
                return
            packet = rtp.parse(datagram)
            assert packet is not None
            self.packets.append(packet)

    def heard(self) -> NDArray[np.int16]:
        payloads = [p.payload for p in self.packets]
        return g711.decode(b"".join(payloads), self.payload_type)

    def forget(self) -> None:
        self.packets.clear()

    def close(self) -> None:
        self.socket.close()


def talk(phones: list[Phone], listeners: Sequence[Phone] = (), seconds: float = SECONDS) -> None:
    """Every phone sends its tone for `seconds`, on a 20 ms schedule; every phone (and
    the extra listeners) keeps what comes back."""
    everyone = [*phones, *listeners]
    for phone in everyone:
        phone.forget()
    start = time.monotonic()
    for frame in range(round(seconds / 0.02)):
        delay = start + frame * 0.02 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for phone in phones:
            phone.send_frame()
        for phone in everyone:
            phone.receive()
    time.sleep(0.1)
    for phone in everyone:
        phone.receive()


TONES = (440.0, 1000.0, 600.0)


def hears(phone: Phone) -> set[float]:
    return tones_heard(phone.heard(), TONES)


@pytest.fixture(scope="module")
def mixer() -> Iterator[Mixer]:
    base = port_area()
    with Mixer(HOST, (base, base + 199)) as started:
        yield started


@pytest.fixture
def room(request: pytest.FixtureRequest) -> str:
    return str(request.node.name)


@pytest.fixture
def phones() -> Iterator[list[Phone]]:
    made = [Phone(440.0), Phone(1000.0, g711.PCMA), Phone(600.0)]
    yield made
    for phone in made:
        phone.close()


def join_all(mixer: Mixer, room: str, phones: list[Phone], names: list[str]) -> None:
    for phone, name in zip(phones, names, strict=True):
        phone.mixer_port = mixer.join(room, name, phone.payload_type, phone.address)


def test_in_a_three_way_call_each_hears_the_other_two(
    mixer: Mixer, room: str, phones: list[Phone]
) -> None:
    customer, agent, supervisor = phones
    join_all(mixer, room, phones, ["customer", "agent", "supervisor"])
    before = mixer.stats()
    talk(phones)
    assert hears(customer) == {1000.0, 600.0}
    assert hears(agent) == {440.0, 600.0}
    assert hears(supervisor) == {440.0, 1000.0}
    for phone in phones:
        packets = phone.packets
        assert 45 <= len(packets) <= 60
        assert {p.payload_type for p in packets} == {phone.payload_type}
        assert {len(p.payload) for p in packets} == {FRAME}
        assert len({p.ssrc for p in packets}) == 1
        assert packets[0].marker
        assert not any(p.marker for p in packets[1:])
        # A frame the mixer skipped (it fell behind) moves the timestamp on, not the sequence.
        steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)]
        assert all((b.sequence - a.sequence) % 65536 == 1 for a, b in itertools.pairwise(packets))
        assert all(step > 0 and step % 160 == 0 for step in steps)
        # Each tone was sent at a quarter of full scale; the sum is heard at about that.
        for frequency in hears(phone):
            assert tone_power(phone.heard(), frequency) > 0.15
    after = mixer.stats()
    assert isinstance(after, MixerStats)
    assert after.rooms >= 1
    assert after.parties >= 3
    assert after.ticks - before.ticks >= 45
    assert after.frames_sent - before.frames_sent >= 3 * 45
    assert after.packets_received - before.packets_received == 3 * 50
    assert after.cpu_seconds > 0
    mixer.close(room)


def test_a_supervisor_listening_hears_both_and_nobody_hears_the_supervisor(
    mixer: Mixer, room: str, phones: list[Phone]
) -> None:
    customer, agent, supervisor = phones
    join_all(mixer, room, phones, ["customer", "agent", "supervisor"])
    mixer.hearing(room, "customer", ["agent"])
    mixer.hearing(room, "agent", ["customer"])
    talk(phones)
    assert hears(customer) == {1000.0}
    assert hears(agent) == {440.0}
    assert hears(supervisor) == {440.0, 1000.0}
    mixer.close(room)


def test_a_whisper_reaches_the_agent_only(mixer: Mixer, room: str, phones: list[Phone]) -> None:
    customer, agent, supervisor = phones
    join_all(mixer, room, phones, ["customer", "agent", "supervisor"])
    mixer.hearing(room, "customer", ["agent"])
    talk(phones)
    assert hears(customer) == {1000.0}
    assert hears(agent) == {440.0, 600.0}
    assert hears(supervisor) == {440.0, 1000.0}
    mixer.close(room)


def test_after_leaving_a_party_is_heard_no_more_and_its_port_is_free(
    mixer: Mixer, room: str, phones: list[Phone]
) -> None:
    customer, agent, supervisor = phones
    join_all(mixer, room, phones, ["customer", "agent", "supervisor"])
    mixer.leave(room, "supervisor")
    supervisor.receive()  # what the mixer sent it before it left (talk forgets it)
    assert supervisor.mixer_port is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, supervisor.mixer_port))
    talk(phones)  # the supervisor's packets go to a port nobody has
    assert hears(customer) == {1000.0}
    assert hears(agent) == {440.0}
    assert supervisor.packets == []
    mixer.leave(room, "agent")
    mixer.leave(room, "customer")
    with pytest.raises(MixerError, match="no room"):
        mixer.leave(room, "customer")  # the room went with its last party


def test_a_party_behind_nat_is_answered_where_it_sends_from_until_told_otherwise(
    mixer: Mixer, room: str, phones: list[Phone]
) -> None:
    customer, agent, _ = phones
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as unused:
        unused.bind((HOST, 0))
        wrong = unused.getsockname()
    customer.mixer_port = mixer.join(room, "customer", customer.payload_type, wrong)
    agent.mixer_port = mixer.join(room, "agent", agent.payload_type, agent.address)
    talk([customer, agent])
    assert hears(customer) == {1000.0}
    assert hears(agent) == {440.0}
    # Told another address, the mixer sends there, while the customer is quiet.
    elsewhere = Phone(440.0)
    try:
        mixer.send_to(room, "customer", *elsewhere.address)
        customer.receive()  # what the mixer sent it before the answer (talk forgets it)
        talk([agent], listeners=[customer, elsewhere])
        assert hears(elsewhere) == {1000.0}
        assert customer.packets == []
    finally:
        elsewhere.close()
    mixer.close(room)


def test_telephone_events_are_not_mixed_and_a_party_is_learnt_from_its_first_packet(
    mixer: Mixer, room: str, phones: list[Phone]
) -> None:
    customer, agent, _ = phones
    customer.sends_payload_type = TELEPHONE_EVENT
    customer.mixer_port = mixer.join(room, "customer", customer.payload_type)
    agent.mixer_port = mixer.join(room, "agent", agent.payload_type, agent.address)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stray:
        for garbage in (b"", b"\x80", b"\x00" * 40, b"\x9f" + b"\xff" * 30):
            stray.sendto(garbage, (HOST, agent.mixer_port))  # not RTP: no answer, no harm
    talk([customer, agent])
    assert hears(customer) == {1000.0}  # its address learnt from the events
    heard = agent.heard().astype(np.int64)
    assert len(heard) >= 45 * FRAME
    assert np.abs(heard).max() <= 8  # A-law's silence: nothing of the events
    mixer.close(room)


def test_requests_on_unknown_rooms_and_parties_are_refused(mixer: Mixer, room: str) -> None:
    with pytest.raises(MixerError, match="no room"):
        mixer.send_to(room, "nobody", HOST, 4000)
    port = mixer.join(room, "agent", g711.PCMU)
    assert port % 2 == 0
    assert port_area() <= port <= port_area() + 199
    with pytest.raises(MixerError, match="already"):
        mixer.join(room, "agent", g711.PCMU)
    with pytest.raises(MixerError, match="no party 'nobody'"):
        mixer.hearing(room, "nobody", None)
    with pytest.raises(MixerError, match="no party 'nobody'"):
        mixer.hearing(room, "agent", ["nobody"])
    with pytest.raises(MixerError, match="no party 'nobody'"):
        mixer.leave(room, "nobody")
    with pytest.raises(MixerError, match="not G"):
        mixer.join(room, "fax", 18)
    with pytest.raises(MixerError, match="not an IP address"):
        mixer.send_to(room, "agent", "example.invalid", 4000)
    mixer.close(room)
    mixer.close(room)  # unknown now: nothing


def test_calls_to_a_killed_mixer_raise_at_once() -> None:
    base = port_area() + 200
    mixer = Mixer(HOST, (base, base + 99))
    try:
        mixer.join("room", "agent", g711.PCMU)
        assert mixer.pid is not None
        os.kill(mixer.pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(MixerError, match="gone"):
            mixer.stats()
        with pytest.raises(MixerError, match="gone"):
            mixer.join("room", "customer", g711.PCMU)
        assert time.monotonic() - started < 1
    finally:
        mixer.stop()
    assert mixer.pid is None


def test_stop_ends_the_process_and_frees_the_ports() -> None:
    base = port_area() + 300
    mixer = Mixer(HOST, (base, base + 99), advertise="192.0.2.10")
    assert mixer.address == "192.0.2.10"
    ports = [mixer.join("room", name, g711.PCMA) for name in ("a", "b", "c")]
    pid = mixer.pid
    mixer.stop()
    mixer.stop()  # again: nothing
    assert mixer.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid or 0, 0)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((HOST, port))
    with pytest.raises(MixerError, match="stopped"):
        mixer.stats()


def test_a_mixer_that_cannot_bind_does_not_start() -> None:
    with pytest.raises(MixerError, match="cannot start"):
        Mixer("192.0.2.1", (port_area() + 400, port_area() + 499))
