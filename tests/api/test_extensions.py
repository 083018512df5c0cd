"""App.Sip_Sipnum.GetSipnumberInfo and App.Sip_Status.GetSipValidStatus."""

from __future__ import annotations

from callyard.container import Container
from tests.conftest import TENANT_PASSWORD, SipClient, Tenant

INFO = "App.Sip_Sipnum.GetSipnumberInfo"
VALID = "App.Sip_Status.GetSipValidStatus"


async def test_info_lists_by_status(container: Container, sip: SipClient, tenant: Tenant) -> None:
    first, second, third = tenant.extensions
    await container.extensions.set_enabled(tenant.code, [second], False)

    async def numbers(status: int | str) -> list[tuple[str, int]]:
        reply = await sip.call(
            {"service": INFO, "token": tenant.token, "status": status, "extnumber": ""}
        )
        assert reply["ret"] == 200
        assert reply["data"]["status"] == 0
        assert reply["data"]["desc"] == "get success"
        return [(e["extnumber"], e["status"]) for e in reply["data"]["result"]]

    assert await numbers(1) == [(first, 1016), (third, 1016)]
    assert await numbers(2) == [(second, 1013)]
    assert await numbers(3) == [(first, 1016), (second, 1013), (third, 1016)]
    # The seed marks status "1: enable (default)": a blank status means 1.
    assert await numbers("") == await numbers(1)


async def test_info_fields_are_the_documented_ones(sip: SipClient, tenant: Tenant) -> None:
    reply = await sip.call(
        {"service": INFO, "token": tenant.token, "status": 3, "extnumber": tenant.extensions[0]}
    )
    assert reply["data"]["result"] == [
        {
            "extnumber": tenant.extensions[0],
            "password": TENANT_PASSWORD,
            "status": 1016,
            "register": "nreg",
        }
    ]


async def test_info_for_one_extension_checks_ownership(
    container: Container, sip: SipClient, tenant: Tenant, other: Tenant
) -> None:
    def request(ext: str, status: int = 3) -> dict[str, str | int]:
        return {"service": INFO, "token": tenant.token, "status": status, "extnumber": ext}

    foreign = await sip.call(request(other.extensions[0]))
    assert foreign["data"]["status"] == 1
    assert foreign["data"]["errors"] == {"code": "1011", "codemsg": "illegal extension"}
    missing = await sip.call(request("5555"))
    assert missing["data"]["errors"] == {"code": "1012", "codemsg": "extension does not exist"}
    await container.extensions.set_enabled(tenant.code, [tenant.extensions[0]], False)
    assert (await sip.call(request(tenant.extensions[0], 1)))["data"]["result"] == []
    assert (await sip.call(request(tenant.extensions[0], 2)))["data"]["result"][0]["status"] == 1013


async def test_info_rejects_bad_status(sip: SipClient, tenant: Tenant) -> None:
    for status in (0, 4, "all"):
        reply = await sip.call({"service": INFO, "token": tenant.token, "status": status})
        assert reply["ret"] == 400
        assert reply["msg"].startswith("Illegal request: invalid parameter status"), reply


async def test_valid_status_gives_a_code_per_extension(
    container: Container, sip: SipClient, tenant: Tenant, other: Tenant
) -> None:
    first, second, _ = tenant.extensions
    await container.extensions.set_enabled(tenant.code, [second], False)
    asked = f"{first}, {second},{other.extensions[0]},4444,{first}, abc ,1"
    reply = await sip.call({"service": VALID, "token": tenant.token, "extnumber": asked})
    assert reply["ret"] == 200
    assert reply["data"]["status"] == 0
    assert reply["data"]["result"] == [
        {"extnumber": first, "code": 1016},
        {"extnumber": second, "code": 1013},
        {"extnumber": other.extensions[0], "code": 1011},
        {"extnumber": "4444", "code": 1012},
        # Not an extension number: one that does not exist, answered like any other.
        {"extnumber": "abc", "code": 1012},
        {"extnumber": "1", "code": 1012},
    ]


async def test_valid_status_bad_input_is_400(sip: SipClient, tenant: Tenant) -> None:
    for value, message in [
        ("", "missing parameter extnumber"),
        (",,", "invalid parameter extnumber: no extension number given"),
        ("1001," + "9" * 65, "invalid parameter extnumber: '9999999999999999'... is longer"),
        (",".join(str(1000 + i) for i in range(501)), "invalid parameter extnumber: 501"),
    ]:
        reply = await sip.call({"service": VALID, "token": tenant.token, "extnumber": value})
        assert reply["ret"] == 400
        assert reply["msg"].startswith("Illegal request: " + message), reply


async def test_new_extensions_show_up_without_a_new_token(
    container: Container, sip: SipClient, tenant: Tenant
) -> None:
    await container.extensions.create(tenant.code, ["8100"], "another1")
    reply = await sip.call(
        {"service": INFO, "token": tenant.token, "status": 1, "extnumber": "8100"}
    )
    assert reply["data"]["result"][0]["extnumber"] == "8100"
