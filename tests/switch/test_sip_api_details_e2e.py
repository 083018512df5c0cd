"""App.Sip_* details that integrations written from the seeds rely on, through the PHP
client the seeds' examples use, against a running callyard with real SIP."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from callyard.testing.sip import running, wait_until
from tests.e2e.php_client import php
from tests.switch.pbx import AGENT, SECOND_AGENT, Pbx

pytestmark = pytest.mark.sip

WRITTEN = "+62 (812) 345-6789"  # as a CRM stores it
DIALED = "+628123456789"


def ask(pbx: Pbx, service: str, **fields: Any) -> dict[str, Any]:
    return php(pbx.server, {"service": service, "token": pbx.token, **fields})


def result(reply: dict[str, Any]) -> Any:
    assert (reply["ret"], reply["data"]["status"]) == (200, 0), reply
    return reply["data"].get("result")


def members(pbx: Pbx, **filters: str) -> list[dict[str, Any]]:
    reply = ask(pbx, "App.Sip_Extgroup.GetGroupExt", **filters)
    assert (reply["ret"], reply["msg"]) == (200, ""), reply
    rows: list[dict[str, Any]] = reply["data"]
    return rows


def test_group_members_follow_the_call_and_filters_keep_the_shape(pbx: Pbx) -> None:
    result(ask(pbx, "App.Sip_Extgroup.AddExtgroup", name="sales"))
    result(ask(pbx, "App.Sip_Extgroup.AddExtnumber", name="sales", extnumber=AGENT))
    (member,) = members(pbx, name="sales")
    assert member == {
        "name": "sales",
        "extnumber": AGENT,
        "status": "hangup",
        "priority": 1,
        "linkcount": 0,
        "date": None,  # no state set yet, as the seed's example
        "state": "idle",
    }
    # Filters that match nothing answer the documented shape, an empty list.
    assert members(pbx, name="nosuch") == []
    assert members(pbx, extnumber="55550000") == []
    assert members(pbx, name="sales", extnumber=SECOND_AGENT) == []
    assert result(ask(pbx, "App.Sip_Extgroup.GetExtgroupInfo", name="nosuch")) == []

    # A customer that rings and never answers: the agent is not talking yet.
    silent = pbx.carrier("uas_no_answer.xml", calls=1)
    pbx.trunk_to(silent)
    agent = pbx.phone(AGENT)
    with running(silent, agent):
        agent.wait_registered()
        call = {"extnumber": AGENT, "destnumber": WRITTEN, "customuuid": "rings"}
        reply = ask(pbx, "App.Sip_Call.MakeCall", **call)
        assert reply["data"]["desc"] == "Call command sent successfully", reply
        agent.wait_established(timeout=10)
        wait_until(lambda: bool(silent.received("INVITE")), timeout=10, what="the INVITE")
        status = result(ask(pbx, "App.Sip_Status.GetSipCallStatus", extnumber=AGENT))[0]
        assert (status["status"], status["callee"]) == (1203, DIALED)
        (ringing,) = members(pbx, name="sales")
        assert (ringing["status"], ringing["linkcount"]) == ("hangup", 0)
        agent.wait_closed(timeout=15)
    invite = silent.received("INVITE")[0]
    assert invite.first_line.startswith(f"INVITE sip:{DIALED}@"), invite.first_line
    unanswered = pbx.record_of("rings")
    assert (unanswered["destnumber"], unanswered["recordfilename"]) == (DIALED, "")
    assert unanswered["downloadip"] == "127.0.0.1"  # set as in the seed's example

    # A customer that answers: `answer`, and linkcount counts the call's seconds.
    echo = pbx.carrier("uas_answer_echo.xml", calls=1)
    pbx.trunk_to(echo)
    agent = pbx.phone(AGENT)
    with running(echo, agent):
        agent.wait_registered()
        reply = ask(pbx, "App.Sip_Call.MakeCall", extnumber=AGENT, destnumber="628 123 456")
        assert reply["data"]["status"] == 0, reply
        agent.wait_established(timeout=10)
        wait_until(
            lambda: members(pbx, name="sales")[0]["status"] == "answer",
            timeout=10,
            what="the extension answered in GetGroupExt",
        )
        time.sleep(2.2)
        (talking,) = members(pbx, extnumber=AGENT)
        status = result(ask(pbx, "App.Sip_Status.GetSipCallStatus", extnumber=AGENT))[0]
        assert talking["status"] == "answer"
        assert 2 <= talking["linkcount"] <= status["callduration"] + 1, (talking, status)
        agent.hangup()
        agent.wait_closed(timeout=10)
    wait_until(
        lambda: members(pbx, name="sales")[0]["status"] == "hangup",
        timeout=10,
        what="the extension back to hangup",
    )
    assert members(pbx, name="sales")[0]["linkcount"] == 0
    result(ask(pbx, "App.Sip_Extgroup.EditExtnumber", name="sales", extnumber=AGENT, state="busy"))
    assert members(pbx, name="sales")[0]["date"] is not None


def test_status_lists_blank_tokens_task_pages_and_written_numbers(pbx: Pbx) -> None:
    listed = f"{AGENT},abc,55550000,{SECOND_AGENT}"
    valid = result(ask(pbx, "App.Sip_Status.GetSipValidStatus", extnumber=listed))
    assert [(r["extnumber"], r["code"]) for r in valid] == [
        (AGENT, 1016),
        ("abc", 1012),
        ("55550000", 1012),
        (SECOND_AGENT, 1016),
    ]
    registered = result(ask(pbx, "App.Sip_Status.GetSipRegisterStatus", extnumber=listed))
    assert [r["code"] for r in registered] == [1014, 1012, 1012, 1014]
    calls = result(ask(pbx, "App.Sip_Status.GetSipCallStatus", extnumber=listed))
    assert [r["status"] for r in calls] == [1014, 1012, 1012, 1014]

    blank = php(pbx.server, {"service": "App.Sip_Extgroup.GetExtgroupInfo", "token": ""})
    assert blank["ret"] == 600, blank

    result(ask(pbx, "App.Sip_Extgroup.AddExtgroup", name="renewals"))
    numbers = [WRITTEN, *(f"62811{i:06d}" for i in range(1100))]
    created = result(
        ask(
            pbx,
            "App.Sip_Yccall.TaskCreate",
            name="written numbers",
            groupname="renewals",
            numbers=json.dumps(numbers),
            startdate=time.strftime("%Y-%m-%d"),
            enddate=time.strftime("%Y-%m-%d"),
        )
    )
    assert (created["added"], created["invalid"]) == (1101, [])
    page = result(
        ask(pbx, "App.Sip_Yccall.TaskInfo", taskid=created["taskid"], itemsperpage="1000")
    )
    assert (page["totalitems"], len(page["result"])) == (1101, 1000)
    assert page["result"][0]["telphone"] == DIALED
    double = ask(
        pbx,
        "App.Sip_Call.DoubleCall",
        extnumber=SECOND_AGENT,
        anumber="0812-111-222",
        bnumber="(0812) 333.444",
    )
    assert double["data"]["status"] == 1, double  # no trunk yet: past the input checks
    assert double["data"]["errors"]["code"] == "1003", double
