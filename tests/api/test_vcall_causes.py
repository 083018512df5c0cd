"""The vcall cause table (seed 003, catalog §1.9(a)) and the cause of each way a call
ends: total over callyard's end reasons and SIP statuses, never outside the table."""

from __future__ import annotations

import pytest

from callyard.api.dialects.vcall.causes import (
    CAUSE_BY_CODE,
    CAUSES,
    NORMAL_CLEARING,
    OTHER_NAMES,
    cause_of,
)
from callyard.domain.hangups import EndReason

STATUSES: list[int | None] = [None, *range(400, 700)]


def test_every_reason_status_and_ringing_maps_into_the_table() -> None:
    for reason in EndReason:
        for status in STATUSES:
            for rang in (False, True):
                cause = cause_of(reason, status, rang)
                assert CAUSE_BY_CODE.get(cause.code) == cause, (reason, status, rang)


def test_one_name_per_code_and_the_second_names_kept_aside() -> None:
    codes = [cause.code for cause in CAUSES]
    names = [cause.name for cause in CAUSES]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)
    assert codes == sorted(codes)
    assert all(cause.description for cause in CAUSES)
    assert not set(OTHER_NAMES) & set(names)
    assert all(code in CAUSE_BY_CODE for code in OTHER_NAMES.values())
    first_names = {0: "NORMAL_CLEARING", 1017: "USER_BUSY", 1063: "SERVICE_UNAVAILABLE"}
    first_names |= {1487: "ORIGINATOR_CANCEL", 1066: "USER_NOT_REGISTERED"}
    for code, name in first_names.items():
        assert CAUSE_BY_CODE[code].name == name


@pytest.mark.parametrize(
    ("reason", "status", "rang", "code"),
    [
        (EndReason.NORMAL, None, True, 0),
        (EndReason.SERVER_HANGUP, None, True, 0),
        (EndReason.BUSY, 486, True, 2101),
        (EndReason.BUSY, 486, False, 2103),
        (EndReason.BUSY, 600, False, 2103),
        (EndReason.BUSY, None, True, 2101),
        (EndReason.DECLINED, 603, True, 2101),
        (EndReason.DECLINED, 603, False, 1021),
        (EndReason.NO_ANSWER, 480, True, 2102),
        (EndReason.NO_ANSWER, 480, False, 1018),
        (EndReason.TIMED_OUT, None, True, 2102),
        (EndReason.REQUEST_TIMEOUT, 408, False, 1102),
        (EndReason.NOT_FOUND, 404, False, 2114),
        (EndReason.NOT_FOUND, 604, True, 2114),
        (EndReason.INVALID, 484, False, 2115),
        (EndReason.INVALID, 488, False, 1065),
        (EndReason.LINE_FAILURE, 503, False, 2104),
        (EndReason.LINE_FAILURE, None, False, 2104),
        (EndReason.NUMBER_CHANGED, 410, False, 1022),
        (EndReason.CANCELLED, None, True, 1487),
        (EndReason.CANCELLED, 487, False, 1487),
        (EndReason.NOT_REGISTERED, None, False, 1066),
        (EndReason.UNREACHABLE, 500, False, 1041),
        (EndReason.NO_SUCH_EXTENSION, None, False, 1001),
        (EndReason.UNKNOWN, None, False, 1127),
    ],
)
def test_documented_causes(reason: EndReason, status: int | None, rang: bool, code: int) -> None:
    assert cause_of(reason, status, rang).code == code


def test_a_normal_hang_up_is_code_0() -> None:
    assert cause_of(EndReason.NORMAL, None, False) == NORMAL_CLEARING
    assert (NORMAL_CLEARING.code, NORMAL_CLEARING.name) == (0, "NORMAL_CLEARING")
    assert NORMAL_CLEARING.description == "normal hang-up"
