"""A call's conference: whom each party hears, as the mixer is told, under a hold, a mute
and services' choice of who hears a supervisor; the media ports shared out."""

from __future__ import annotations

from collections.abc import Iterable

from callyard.switch.calls.conference import Conference, split_ports
from callyard.switch.events import AGENT_LEG, CUSTOMER_LEG

SUPERVISOR = "monitor-1"


class RecordingMixer:
    """Stands in for the mixer process: ports in turn, every hearing kept."""

    address = "127.0.0.1"

    def __init__(self) -> None:
        self.hears: dict[str, frozenset[str]] = {}
        self.left: list[str] = []
        self._next = 40000

    def join(self, room: str, party: str, payload_type: int, remote: object) -> int:
        self._next += 2
        return self._next

    def hearing(self, room: str, listener: str, speakers: Iterable[str] | None) -> None:
        self.hears[listener] = frozenset(speakers or ())

    def leave(self, room: str, party: str) -> None:
        self.left.append(party)
        self.hears.pop(party, None)

    def send_to(self, room: str, party: str, address: str, port: int) -> None:
        pass

    def close(self, room: str) -> None:
        pass


def conference() -> tuple[Conference, RecordingMixer]:
    mixer = RecordingMixer()
    room = Conference(mixer, "call-1", CUSTOMER_LEG)  # type: ignore[arg-type]
    for leg in (CUSTOMER_LEG, AGENT_LEG):
        room.join(leg, 0, None)
    return room, mixer


def test_everyone_hears_everyone_else_until_told_otherwise() -> None:
    room, mixer = conference()
    room.join(SUPERVISOR, 0, None)
    assert mixer.hears == {
        CUSTOMER_LEG: {AGENT_LEG, SUPERVISOR},
        AGENT_LEG: {CUSTOMER_LEG, SUPERVISOR},
        SUPERVISOR: {CUSTOMER_LEG, AGENT_LEG},
    }


def test_a_listening_supervisor_is_heard_by_nobody_and_a_whisper_by_the_agent() -> None:
    room, mixer = conference()
    room.heard_by[SUPERVISOR] = frozenset()
    room.join(SUPERVISOR, 0, None)
    assert mixer.hears[CUSTOMER_LEG] == {AGENT_LEG}
    assert mixer.hears[AGENT_LEG] == {CUSTOMER_LEG}
    assert mixer.hears[SUPERVISOR] == {CUSTOMER_LEG, AGENT_LEG}
    room.heard(SUPERVISOR, frozenset({AGENT_LEG}))
    assert mixer.hears[CUSTOMER_LEG] == {AGENT_LEG}
    assert mixer.hears[AGENT_LEG] == {CUSTOMER_LEG, SUPERVISOR}


def test_a_held_customer_hears_nobody_and_nobody_hears_it_nor_a_muted_party() -> None:
    room, mixer = conference()
    room.join("consult-1", 0, None)
    room.customer_held = True
    room.muted = {AGENT_LEG}
    room.apply()
    assert mixer.hears[CUSTOMER_LEG] == frozenset()
    assert mixer.hears[AGENT_LEG] == {"consult-1"}
    assert mixer.hears["consult-1"] == frozenset()  # the agent is muted
    room.leave("consult-1")
    assert mixer.left == ["consult-1"]
    assert "consult-1" not in mixer.hears


def test_the_mixer_takes_the_top_tenth_of_the_media_ports() -> None:
    assert split_ports((20000, 29999)) == ((20000, 28999), (29000, 29999))
    assert split_ports((50000, 50009)) == ((50000, 50007), (50008, 50009))
