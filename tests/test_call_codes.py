"""The App.Sip_* dialect's tables for calls and tasks cover every value callyard has."""

from __future__ import annotations

from callyard.api.dialects.sip_api import call_codes
from callyard.api.dialects.sip_api.code_tables import AnswerType, HangupCode
from callyard.domain.calls import CallKind, Direction
from callyard.domain.hangups import EndReason, Party
from callyard.domain.tasks import NumberState, TaskState
from callyard.services.tasks import AttemptOutcome


def test_every_value_has_its_code() -> None:
    assert set(call_codes.CALL_METHODS) == set(CallKind)
    assert set(call_codes.CALL_TYPES) == set(Direction)
    assert set(call_codes.HANGUP_CAUSES) == set(EndReason)
    assert set(call_codes.HANGUP_DIRECTIONS) == set(Party)
    assert set(call_codes.TASK_STATUSES) == set(TaskState)
    assert set(call_codes.NUMBER_STATUSES) == set(NumberState)
    assert set(call_codes.ANSWER_TYPES) == set(AttemptOutcome)


def test_the_seeds_hangup_codes_are_each_one_reason_or_side() -> None:
    reasons = list(call_codes.HANGUP_CAUSES.values())
    sides = list(call_codes.HANGUP_DIRECTIONS.values())
    assert len(set(reasons)) == len(reasons)  # no two reasons share a code
    assert set(reasons) | set(sides) == set(HangupCode)


def test_answer_type_filters_partition_the_outcomes() -> None:
    found = [o for answer in AnswerType for o in call_codes.OUTCOMES[answer]]
    assert sorted(found) == sorted(AttemptOutcome)
    assert set(call_codes.TASK_STATES) == {1025, 1026, 1027, 1028}
