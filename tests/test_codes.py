"""The seed's code tables, defined once."""

from __future__ import annotations

from callyard.api.dialects.sip_api.code_tables import Code, GroupStatus, HangupCode, Ret
from callyard.api.dialects.voice_code.code_tables import VoiceCodeResult


def test_tables_hold_the_documented_codes() -> None:
    assert [r.value for r in Ret] == [200, 400, 500, 600, 601, 602, 603, 604]
    assert Code.lookup(1218).message == "checked in"
    assert Code.EXTENSION_ILLEGAL.value == 1011
    assert HangupCode.lookup(10041).message == "Called hang up"
    assert len(Code) == 34
    assert len(HangupCode) == 25
    assert {g.value for g in GroupStatus} == {1042, 1043}
    assert [v.value for v in VoiceCodeResult] == [1, 1000, 1001, 1002, 1003]


def test_no_code_is_defined_twice_across_the_status_tables() -> None:
    values = (
        [c.value for c in Code] + [h.value for h in HangupCode] + [g.value for g in GroupStatus]
    )
    assert len(values) == len(set(values))
