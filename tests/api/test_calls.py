"""MakeCall, DoubleCall and GetSipCallStatus checks that need no switch (in-process app).

The calls themselves, with real SIP, are in tests/switch/test_calls_e2e.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from callyard.container import Container
from tests.conftest import SipClient, Tenant

MAKE = "App.Sip_Call.MakeCall"
DOUBLE = "App.Sip_Call.DoubleCall"


def code_of(reply: dict[str, Any]) -> str:
    assert reply["ret"] == 200, reply
    assert reply["data"]["status"] == 1, reply
    code: str = reply["data"]["errors"]["code"]
    return code


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"destnumber": "628123"}, "missing parameter extnumber"),
        ({"extnumber": "8001"}, "missing parameter destnumber"),
        ({"extnumber": "8001", "destnumber": "62-8a12"}, "invalid parameter destnumber"),
        ({"extnumber": "abc", "destnumber": "628123"}, "invalid parameter extnumber"),
        (
            {"extnumber": "8001", "destnumber": "628123", "customuuid": "x" * 129},
            "invalid parameter customuuid",
        ),
    ],
)
async def test_make_call_bad_input_is_400(
    sip: SipClient, tenant: Tenant, fields: dict[str, str], message: str
) -> None:
    reply = await sip.call({"service": MAKE, "token": tenant.token, **fields})
    assert reply["ret"] == 400
    assert reply["msg"].startswith("Illegal request: " + message), reply


async def test_make_call_checks_the_extension(
    container: Container, sip: SipClient, tenant: Tenant, other: Tenant
) -> None:
    def make(ext: str) -> dict[str, str]:
        return {"service": MAKE, "token": tenant.token, "extnumber": ext, "destnumber": "628123456"}

    assert code_of(await sip.call(make("7777"))) == "1012"
    assert code_of(await sip.call(make(other.extensions[0]))) == "1011"
    await container.extensions.set_enabled(tenant.code, [tenant.extensions[1]], False)
    assert code_of(await sip.call(make(tenant.extensions[1]))) == "1013"
    # Without a running switch nothing can be called: 1001, and a clear desc.
    reply = await sip.call(make(tenant.extensions[0]))
    assert code_of(reply) == "1001"
    assert "switch is not running" in reply["data"]["desc"]


@pytest.mark.parametrize("written", ["+62 (812) 345-6789", "62.812.345.6789", "62-812 3456789"])
async def test_numbers_written_with_separators_are_accepted(
    sip: SipClient, tenant: Tenant, written: str
) -> None:
    make = {"service": MAKE, "token": tenant.token, "extnumber": tenant.extensions[0]}
    # Past the input checks: only the missing switch (1001) stops the call here.
    assert code_of(await sip.call({**make, "destnumber": written})) == "1001"
    double = {"service": DOUBLE, "token": tenant.token, "extnumber": tenant.extensions[0]}
    assert code_of(await sip.call({**double, "anumber": written, "bnumber": written})) == "1001"


async def test_double_call_bad_input(sip: SipClient, tenant: Tenant, other: Tenant) -> None:
    base = {"service": DOUBLE, "token": tenant.token, "extnumber": tenant.extensions[0]}
    missing = await sip.call({**base, "anumber": "6281111"})
    assert missing["ret"] == 400
    assert missing["msg"].endswith("missing parameter bnumber")
    foreign = {**base, "extnumber": other.extensions[0], "anumber": "6281", "bnumber": "6282"}
    assert code_of(await sip.call(foreign)) == "1011"


async def test_call_module_can_be_unlicensed(
    container: Container, sip: SipClient, tenant: Tenant
) -> None:
    await container.companies.set_capabilities(tenant.code, enable=[], disable=["calls"])
    reply = await sip.call(
        {"service": MAKE, "token": tenant.token, "extnumber": "8001", "destnumber": "628123"}
    )
    assert reply["ret"] == 603


async def test_call_status_without_calls(
    container: Container, sip: SipClient, tenant: Tenant, other: Tenant
) -> None:
    first, second, _ = tenant.extensions
    await container.extensions.set_enabled(tenant.code, [second], False)
    reply = await sip.call(
        {
            "service": "App.Sip_Status.GetSipCallStatus",
            "token": tenant.token,
            "extnumber": f"{first},{second},{other.extensions[0]},4444,80-01",
        }
    )
    assert reply["ret"] == 200
    assert reply["data"]["status"] == 0
    nothing = {
        "caller": None,
        "callee": None,
        "disnumber": None,
        "direction": None,
        "channel": None,
        "idleduration": None,
        "callduration": None,
    }
    assert reply["data"]["result"] == [
        {"extnumber": first, "status": 1014, **nothing},
        {"extnumber": second, "status": 1013, **nothing},
        {"extnumber": other.extensions[0], "status": 1011, **nothing},
        {"extnumber": "4444", "status": 1012, **nothing},
        {"extnumber": "80-01", "status": 1012, **nothing},
    ]


async def test_register_status_without_a_switch(sip: SipClient, tenant: Tenant) -> None:
    reply = await sip.call(
        {
            "service": "App.Sip_Status.GetSipRegisterStatus",
            "token": tenant.token,
            "extnumber": f"{tenant.extensions[0]},abc",
        }
    )
    assert reply["data"]["result"] == [
        {"extnumber": tenant.extensions[0], "code": 1014, "clientip": None, "serverip": None},
        {"extnumber": "abc", "code": 1012, "clientip": None, "serverip": None},
    ]
