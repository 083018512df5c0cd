"""Who hears whom in a room, and the sums they hear: the mixing alone, no sockets."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from callyard.mixer import g711
from callyard.mixer.room import FRAME_SAMPLES, Room, RoomError, Rooms


def frame(value: int) -> NDArray[np.int16]:
    return np.full(FRAME_SAMPLES, value, dtype=np.int16)


def heard(room: Room, **values: int) -> dict[str, int]:
    """The (constant) value each party hears when each sends a constant frame."""
    mixed = room.mix({party: frame(value) for party, value in values.items()})
    result = {}
    for party, samples in mixed.items():
        assert samples.dtype == np.int16
        assert samples.shape == (FRAME_SAMPLES,)
        assert (samples == samples[0]).all()
        result[party] = int(samples[0])
    return result


def three_way() -> Room:
    room = Room("conf")
    for party in ("customer", "agent", "supervisor"):
        room.join(party, g711.PCMU)
    return room


def test_in_a_three_way_call_each_hears_the_other_two() -> None:
    room = three_way()
    assert heard(room, customer=1, agent=10, supervisor=100) == {
        "customer": 110,
        "agent": 101,
        "supervisor": 11,
    }


def test_a_listener_hears_both_and_is_heard_by_nobody() -> None:
    room = three_way()
    room.hear("customer", ["agent"])
    room.hear("agent", ["customer"])
    assert room.hears("supervisor") == {"customer", "agent"}
    assert heard(room, customer=1, agent=10, supervisor=100) == {
        "customer": 10,
        "agent": 1,
        "supervisor": 11,
    }


def test_a_whisper_reaches_the_agent_only() -> None:
    room = three_way()
    room.hear("customer", ["agent"])
    assert heard(room, customer=1, agent=10, supervisor=100) == {
        "customer": 10,
        "agent": 101,
        "supervisor": 11,
    }


def test_sums_are_clipped_to_16_bits() -> None:
    room = three_way()
    assert heard(room, customer=30000, agent=20000, supervisor=-30000) == {
        "customer": -10000,
        "agent": 0,
        "supervisor": 32767,
    }
    assert heard(room, customer=-30000, agent=-20000, supervisor=0)["supervisor"] == -32768


def test_a_party_that_left_is_heard_no_more_and_named_by_nobody() -> None:
    room = three_way()
    room.hear("supervisor", ["customer", "agent"])
    room.leave("agent")
    assert room.parties == ("customer", "supervisor")
    assert room.hears("supervisor") == {"customer"}
    assert heard(room, customer=1, supervisor=100) == {"customer": 100, "supervisor": 1}
    # Someone joining later under the same name is not heard through the old setting.
    room.join("agent", g711.PCMA)
    assert room.hears("supervisor") == {"customer"}


def test_hearing_everyone_includes_later_joiners() -> None:
    room = Room("conf")
    room.join("customer", g711.PCMU)
    room.join("agent", g711.PCMA)
    assert heard(room, customer=1, agent=10) == {"customer": 10, "agent": 1}
    room.join("supervisor", g711.PCMU)
    assert heard(room, customer=1, agent=10, supervisor=100) == {
        "customer": 110,
        "agent": 101,
        "supervisor": 11,
    }
    room.hear("customer", ["agent"])
    room.hear("customer", None)  # back to everyone
    assert room.hears("customer") == {"agent", "supervisor"}


def test_a_party_missing_from_the_frames_is_silence_and_nobody_hears_itself() -> None:
    room = three_way()
    room.hear("agent", ["agent", "customer"])
    assert room.hears("agent") == {"customer"}
    assert heard(room, customer=1) == {"customer": 0, "agent": 1, "supervisor": 1}


def test_a_listener_who_hears_nobody_gets_silence() -> None:
    room = three_way()
    room.hear("customer", [])
    assert heard(room, customer=1, agent=10, supervisor=100)["customer"] == 0


def test_unknown_and_duplicate_parties_are_refused() -> None:
    room = three_way()
    with pytest.raises(RoomError, match="already"):
        room.join("agent", g711.PCMU)
    with pytest.raises(RoomError, match="no party 'nobody'"):
        room.hear("nobody", None)
    with pytest.raises(RoomError, match="no party 'nobody'"):
        room.hear("agent", ["nobody"])
    with pytest.raises(RoomError, match="no party 'nobody'"):
        room.leave("nobody")
    with pytest.raises(ValueError, match=r"not G\.711"):
        room.join("fax", 101)


def test_many_rooms_mixed_at_once_match_each_room_mixed_alone() -> None:
    random = np.random.default_rng(7)
    rooms = Rooms()
    for number in range(30):
        name = f"room{number}"
        size = int(random.integers(1, 6))
        for index in range(size):
            rooms.join(name, f"p{index}", g711.PCMU if index % 2 else g711.PCMA)
        for index in range(size):
            if random.random() < 0.4:
                chosen = [f"p{i}" for i in range(size) if random.random() < 0.5]
                rooms.room(name).hear(f"p{index}", chosen)
    layout = rooms.layout()
    frames = random.integers(-20000, 20000, (len(layout), FRAME_SAMPLES)).astype(np.int16)
    mixed = layout.mix(frames)
    rows = {(m.room, m.party): row for row, m in enumerate(layout.members)}
    for name in (f"room{number}" for number in range(30)):
        room = rooms.room(name)
        alone = room.mix({party: frames[rows[name, party]] for party in room.parties})
        for party, samples in alone.items():
            assert (mixed[rows[name, party]] == samples).all()
            expected = sum(
                (frames[rows[name, s]].astype(np.int64) for s in room.hears(party)),
                np.zeros(FRAME_SAMPLES, dtype=np.int64),
            )
            assert (samples == np.clip(expected, -32768, 32767)).all()


def test_rooms_are_made_on_first_join_and_removed_once_empty() -> None:
    rooms = Rooms()
    rooms.join("a", "x", g711.PCMU)
    rooms.join("a", "y", g711.PCMU)
    rooms.join("b", "z", g711.PCMA)
    first = rooms.layout()
    # Each room's parties in consecutive rows, smaller rooms first.
    assert [(m.room, m.party, m.payload_type) for m in first.members] == [
        ("b", "z", 8),
        ("a", "x", 0),
        ("a", "y", 0),
    ]
    assert rooms.layout() is first  # kept while nothing changes
    rooms.room("a").hear("x", ["y"])
    assert rooms.layout() is not first
    rooms.leave("b", "z")
    assert "b" not in rooms
    assert rooms.close("a") == ("x", "y")
    assert rooms.close("a") == ()
    assert len(rooms) == 0
    assert len(rooms.layout()) == 0
