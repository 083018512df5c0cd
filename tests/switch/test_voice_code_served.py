"""`POST /api/voiceCode` against a running `callyard serve`: the carrier (SIPp) gets the
call at the number normalised to E.164, hears the message, and the call record carries
the answer's customuuid; a bad request places no call."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.switch.pbx import Pbx

pytestmark = pytest.mark.sip


def credentials(pbx: Pbx) -> dict[str, str]:
    stdout = pbx.server.stdout
    return {
        "appid": stdout.split("appid:")[1].split()[0],
        "accesskey": stdout.split("accesskey:")[1].split()[0],
    }


def test_a_voice_code_is_called_spoken_and_recorded(pbx: Pbx) -> None:
    carrier = pbx.carrier("uas_answer_echo.xml")
    pbx.trunk_to(carrier)
    url = f"{pbx.server.url}/api/voiceCode"
    with carrier.start():
        refused = httpx.post(
            url,
            data={**credentials(pbx), "code": "48152", "phone": "08123456789", "nationCode": "id"},
        ).json()
        answer = httpx.post(
            url,
            data={**credentials(pbx), "code": "4815", "phone": "08123456789", "nationCode": "id"},
        ).json()
        assert answer["code"] == 1, answer
        customuuid = answer["data"]["customuuid"]
        record = pbx.record_of(customuuid, timeout=30)
        deadline = time.monotonic() + 10
        while not carrier.received("BYE") and time.monotonic() < deadline:
            time.sleep(0.2)
        invites = carrier.received("INVITE")

    assert (refused["code"], refused["data"]) == (1001, {})
    assert "code" in refused["msg"]
    # One call, to the Indonesian number in E.164, for the accepted request only.
    assert {m.call_id for m in invites} == {invites[0].call_id}
    assert invites[0].first_line.split()[1].startswith("sip:628123456789@")
    assert record["callmethod"] == 6
    assert record["customuuid"] == customuuid
    assert record["destnumber"] == "628123456789"
    assert record["answertime"]
    # The switch hung up after the message ("Kode verifikasi Anda adalah 4, 8, 1, 5. ...").
    assert record["hangupcause"] == 10007
    assert record["billsec"] >= 3
    assert carrier.received("BYE"), "the carrier got no BYE after the message"
