"""A leg's state machine, and each kind of call's: the tables' transitions taken,
anything else ignored."""

from __future__ import annotations

from collections.abc import Mapping

from callyard.switch.calls import BridgedCall, DialedCall, InboundCall, State
from callyard.switch.calls.leg import TRANSITIONS, Leg, LegState
from callyard.switch.relay import SIDE_A


def test_a_leg_rings_answers_and_ends_once_each() -> None:
    leg = Leg("customer", "628123", object(), SIDE_A)
    assert not leg.heard
    assert leg.move(LegState.PROCEEDING, 1.0)
    assert leg.heard
    assert leg.move(LegState.RINGING, 2.0)
    assert not leg.move(LegState.RINGING, 2.5)  # a 183 after the 180
    assert not leg.move(LegState.PROCEEDING, 2.6)  # no way back
    assert leg.move(LegState.ANSWERED, 3.0)
    assert leg.move(LegState.ENDED, 9.0)
    assert not leg.move(LegState.ANSWERED, 9.5)  # a late 200: the leg is over
    assert [state for _, state in leg.history] == [
        LegState.CALLING,
        LegState.PROCEEDING,
        LegState.RINGING,
        LegState.ANSWERED,
        LegState.ENDED,
    ]
    assert [at for at, _ in leg.history[1:]] == [1.0, 2.0, 3.0, 9.0]


def test_every_state_but_the_end_can_end_and_the_end_is_final() -> None:
    for state, reachable in TRANSITIONS.items():
        assert (LegState.ENDED in reachable) is (state is not LegState.ENDED)
    assert TRANSITIONS[LegState.ENDED] == frozenset()


def reachable(table: Mapping[State, frozenset[State]]) -> set[State]:
    seen, todo = {State.NEW}, [State.NEW]
    while todo:
        for after in table[todo.pop()] - seen:
            seen.add(after)
            todo.append(after)
    return seen


def test_each_kind_of_call_has_its_own_transitions() -> None:
    # A click-to-call rings its parties in turn, and once bridged its customer may be
    # held for another agent; a dialed customer is held, for an agent or a prompt; a
    # phone's call rings its destination at once.
    assert reachable(BridgedCall.TRANSITIONS) == set(State)
    assert BridgedCall.TRANSITIONS[State.BRIDGED] == {
        State.HELD,
        State.TRANSFERRING,
        State.ENDED,
    }
    assert DialedCall.TRANSITIONS[State.HELD] == {
        State.SECOND_RINGING,
        State.PLAYING,
        State.ENDED,
    }
    assert DialedCall.TRANSITIONS[State.PLAYING] == {State.ENDED}
    assert InboundCall.TRANSITIONS[State.NEW] == {State.SECOND_RINGING, State.ENDED}
    for call in (BridgedCall, DialedCall, InboundCall):
        assert call.TRANSITIONS[State.ENDED] == frozenset()
