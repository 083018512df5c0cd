"""The agent session's state machine: its table, and what it refuses."""

from __future__ import annotations

import pytest

from callyard.domain.agent_sessions import TRANSITIONS, Status, Step, after, in_call, takes_offers


def test_every_status_but_talking_and_dialing_can_be_left_by_its_agent() -> None:
    assert set(TRANSITIONS) == set(Status)
    for status, steps in TRANSITIONS.items():
        if status in (Status.SIGNED_OUT, Status.DIALING, Status.TALKING):
            continue
        assert Step.SIGN_OUT in steps, status


@pytest.mark.parametrize(
    ("status", "step", "ready", "expected"),
    [
        (Status.SIGNED_OUT, Step.SIGN_IN, False, Status.SIGNED_IN),
        (Status.SIGNED_IN, Step.READY, False, Status.IDLE),
        (Status.IDLE, Step.RESERVE, True, Status.RESERVED),
        (Status.RESERVED, Step.RELEASE, True, Status.IDLE),
        (Status.RESERVED, Step.MISS, True, Status.BUSY),
        (Status.IDLE, Step.RING, True, Status.RINGING),
        (Status.RINGING, Step.ANSWER_OFFER, True, Status.TALKING),
        (Status.RINGING, Step.ANSWER_OWN, False, Status.DIALING),
        (Status.DIALING, Step.CONNECT, False, Status.TALKING),
        (Status.DIALING, Step.RELEASE, False, Status.BUSY),
        (Status.TALKING, Step.HANG_UP, True, Status.WRAP_UP),
        (Status.WRAP_UP, Step.RESUME, True, Status.IDLE),
        (Status.WRAP_UP, Step.RESUME, False, Status.BUSY),
    ],
)
def test_transitions(status: Status, step: Step, ready: bool, expected: Status) -> None:
    assert after(status, step, ready) is expected


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (Status.SIGNED_OUT, Step.READY),
        (Status.SIGNED_OUT, Step.RING),
        (Status.BUSY, Step.RESERVE),  # only a ready agent is offered calls
        (Status.WRAP_UP, Step.RESERVE),
        (Status.TALKING, Step.SIGN_OUT),  # hang up first
        (Status.TALKING, Step.READY),
        (Status.DIALING, Step.NOT_READY),
        (Status.RINGING, Step.RING),
    ],
)
def test_steps_the_table_lacks_are_refused(status: Status, step: Step) -> None:
    assert after(status, step, True) is None


def test_only_a_ready_agent_takes_offers_and_calls_are_calls() -> None:
    assert [s for s in Status if takes_offers(s)] == [Status.IDLE]
    assert {s for s in Status if in_call(s)} == {
        Status.RESERVED,
        Status.RINGING,
        Status.DIALING,
        Status.TALKING,
    }
