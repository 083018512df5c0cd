"""callyard's refusals and line statuses, and each dialect's table of their codes."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

import pytest

from callyard.api.dialects.sip_api import codes as sip_api
from callyard.api.dialects.sip_api.code_tables import Code, GroupStatus
from callyard.api.dialects.voice_code import codes as voice_code
from callyard.api.dialects.voice_code.code_tables import VoiceCodeResult
from callyard.domain.lines import LineCheck, LinePhase
from callyard.domain.refusals import Denial, Refusal
from callyard.errors import AccessDenied, BusinessError

TABLES: list[tuple[Mapping[Any, object], type[Enum]]] = [
    (sip_api.REFUSALS, Refusal),
    (sip_api.DENIALS, Denial),
    (sip_api.LINE_CHECKS, LineCheck),
    (sip_api.LINE_PHASES, LinePhase),
    (voice_code.REFUSALS, Refusal),
    (voice_code.DENIALS, Denial),
    (voice_code.DENIAL_TEXTS, Denial),
]


@pytest.mark.parametrize(("table", "words"), TABLES)
def test_every_table_maps_every_member_of_its_enum(
    table: Mapping[Any, object], words: type[Enum]
) -> None:
    assert set(table) == set(words)


def test_group_statuses_cover_both_states() -> None:
    assert sip_api.GROUP_STATUSES == {True: GroupStatus.ENABLED, False: GroupStatus.DISABLED}


def test_the_values_are_callyards_own_lower_snake_words() -> None:
    for words in (Refusal, Denial, LineCheck, LinePhase):
        for member in words:
            assert member.value == member.name.lower()


def test_sip_api_codes_are_the_documented_ones() -> None:
    assert sip_api.REFUSALS[Refusal.EXTENSION_FOREIGN] is Code.EXTENSION_ILLEGAL  # 1011
    assert sip_api.REFUSALS[Refusal.EXTENSION_BUSY] is Code.CALL_CALLING  # 1204
    assert sip_api.REFUSALS[Refusal.NO_NUMBER] is Code.NUMBER_NOT_FOUND  # 1020
    assert sip_api.REFUSALS[Refusal.GROUP_DISABLED] is Code.QUEUE_EXCEPTION  # 1210
    assert sip_api.REFUSALS[Refusal.NOT_CHECKED_IN] is Code.QUEUE_EXCEPTION  # 1210
    assert sip_api.REFUSALS[Refusal.TASK_EXPIRED] is Code.TASK_OVER  # 1028
    assert {d: r.value for d, r in sip_api.DENIALS.items()} == {
        Denial.TOKEN_INVALID: 600,
        Denial.CREDENTIAL_UNKNOWN: 601,
        Denial.EXPIRED: 602,
        Denial.NOT_LICENSED: 603,
        Denial.ADDRESS_NOT_ALLOWED: 604,
    }
    assert [sip_api.line_code(p).value for p in LinePhase] == [1201, 1202, 1203, 1204]
    assert sip_api.line_code(LineCheck.NOT_REGISTERED) is Code.EXTENSION_NOT_REGISTERED


def test_voice_code_results() -> None:
    assert voice_code.REFUSALS[Refusal.TOO_MANY_REQUESTS] is VoiceCodeResult.TOO_MANY_REQUESTS
    assert voice_code.REFUSALS[Refusal.CALL_NOT_PLACED] is VoiceCodeResult.SYSTEM_ERROR
    assert voice_code.REFUSALS[Refusal.WRONG_CREDENTIALS] is VoiceCodeResult.PARAMETER_ERROR
    assert voice_code.DENIALS[Denial.CREDENTIAL_UNKNOWN] is VoiceCodeResult.PARAMETER_ERROR
    # Without details a denial says what the primary API's `ret` says.
    for denial, ret in sip_api.DENIALS.items():
        assert voice_code.DENIAL_TEXTS[denial] == ret.message


def test_the_exceptions_carry_the_words() -> None:
    refused = BusinessError(Refusal.NO_TRUNK, "no trunk")
    assert (refused.refusal, refused.desc, str(refused)) == (
        Refusal.NO_TRUNK,
        "no trunk",
        "no trunk",
    )
    denied = AccessDenied(Denial.EXPIRED)
    assert (denied.denial, denied.detail, str(denied)) == (Denial.EXPIRED, "", "expired")
