"""App.Sip_Auth.Login / Logout and the checks every request passes (ret 400, 600-604)."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from callyard.container import Container
from callyard.store.models import ApiToken, Company
from callyard.testing.clock import ManualClock
from tests.conftest import SipClient, Tenant

LOGIN = "App.Sip_Auth.Login"
INFO = "App.Sip_Sipnum.GetSipnumberInfo"


async def test_login_returns_the_documented_result(
    container: Container, sip: SipClient, clock: ManualClock
) -> None:
    created = await container.companies.create("test")
    clock.advance(3600)
    reply = await sip.call(
        {"service": LOGIN, "appid": created.appid, "accesskey": created.accesskey}
    )
    assert reply["ret"] == 200
    assert reply["msg"] == ""
    data = reply["data"]
    assert data["status"] == 0
    assert data["desc"] == "Authorization successful"
    assert data["reqtime"] == data["rsptime"] == int(clock.now().timestamp())
    result = data["result"]
    assert set(result) == {"companycode", "companyname", "token", "authtime", "authmodel"}
    assert result["companycode"] == str(created.companycode)
    assert result["companyname"] == "test"
    assert re.fullmatch(r"[0-9a-f]{32}", result["token"])
    assert result["authtime"] == "2026-01-01 00:00:00"  # when the company was authorized
    assert result["authmodel"] == ""


async def test_each_login_gets_its_own_working_token(tenant: Tenant, sip: SipClient) -> None:
    second = await sip.login(tenant.appid, tenant.accesskey)
    assert second != tenant.token
    for token in (tenant.token, second):
        reply = await sip.call({"service": INFO, "token": token, "status": 3, "extnumber": ""})
        assert reply["data"]["status"] == 0


async def test_unknown_appid_is_601(sip: SipClient) -> None:
    reply = await sip.call({"service": LOGIN, "appid": "nobody", "accesskey": "whatever1"})
    assert reply == {
        "ret": 601,
        "data": [],
        "msg": "appid is not authorized: appid nobody is not authorized",
    }


async def test_wrong_accesskey_is_authorization_failed(tenant: Tenant, sip: SipClient) -> None:
    reply = await sip.call({"service": LOGIN, "appid": tenant.appid, "accesskey": "wrong-key"})
    assert reply["ret"] == 200
    assert reply["data"]["status"] == 1
    assert reply["data"]["errors"] == {"code": "1003", "codemsg": "operation failed"}
    assert "Authorization failed" in reply["data"]["desc"]
    assert reply["msg"] == ""


async def test_missing_login_fields_are_400(sip: SipClient) -> None:
    reply = await sip.call({"service": LOGIN, "appid": "x"})
    assert reply == {"ret": 400, "data": [], "msg": "Illegal request: missing parameter accesskey"}
    reply = await sip.call({"service": LOGIN, "appid": "", "accesskey": "y"})
    assert reply["ret"] == 400
    assert reply["msg"].endswith("missing parameter appid")


async def test_accesskey_is_stored_only_as_a_hash(container: Container, tenant: Tenant) -> None:
    async with container.db.transaction() as session:
        company = await session.scalar(select(Company).where(Company.code == tenant.code))
        tokens = list(await session.scalars(select(ApiToken.token_hash)))
    assert company is not None
    assert tenant.accesskey not in company.accesskey_hash
    assert company.accesskey_hash.startswith("pbkdf2_sha256$")
    assert tenant.token not in tokens  # tokens too are kept as digests


async def test_token_expires_after_12_hours(
    tenant: Tenant, sip: SipClient, clock: ManualClock
) -> None:
    request = {"service": INFO, "token": tenant.token, "status": 1, "extnumber": ""}
    clock.advance(12 * 3600 - 1)
    assert (await sip.call(request))["ret"] == 200
    clock.advance(1)
    reply = await sip.call(request)
    assert reply == {
        "ret": 600,
        "data": [],
        "msg": "The token is invalid, please log in again to verify",
    }


async def test_logout_invalidates_the_token(tenant: Tenant, sip: SipClient) -> None:
    # The seed's own example has a stray space before the service name.
    reply = await sip.call({"service": " App.Sip_Auth.Logout", "token": tenant.token})
    assert reply["ret"] == 200
    assert reply["data"]["status"] == 0
    assert reply["data"]["desc"] == "logout successful"
    after = await sip.call({"service": INFO, "token": tenant.token, "status": 1, "extnumber": ""})
    assert after["ret"] == 600
    assert (await sip.call({"service": "App.Sip_Auth.Logout", "token": tenant.token}))["ret"] == 600


async def test_logout_leaves_other_tokens_working(tenant: Tenant, sip: SipClient) -> None:
    second = await sip.login(tenant.appid, tenant.accesskey)
    await sip.call({"service": "App.Sip_Auth.Logout", "token": tenant.token})
    reply = await sip.call({"service": INFO, "token": second, "status": 1, "extnumber": ""})
    assert reply["ret"] == 200


async def test_invalid_token_is_600(sip: SipClient, tenant: Tenant) -> None:
    for token in ("0" * 32, "short", tenant.token.upper()):
        reply = await sip.call({"service": INFO, "token": token, "status": 1, "extnumber": ""})
        assert reply["ret"] == 600, token


async def test_expired_authorization_is_602(
    container: Container, tenant: Tenant, sip: SipClient, clock: ManualClock
) -> None:
    await container.companies.set_expiry(tenant.code, clock.now() + timedelta(hours=1))
    request = {"service": INFO, "token": tenant.token, "status": 1, "extnumber": ""}
    assert (await sip.call(request))["ret"] == 200
    clock.advance(3600)
    reply = await sip.call(request)
    assert reply["ret"] == 602
    assert reply["msg"].startswith("appid authorization has expired")
    login = await sip.call({"service": LOGIN, "appid": tenant.appid, "accesskey": tenant.accesskey})
    assert login["ret"] == 602


async def test_unlicensed_module_is_603(
    container: Container, tenant: Tenant, sip: SipClient
) -> None:
    await container.companies.set_capabilities(tenant.code, enable=[], disable=["extensions"])
    reply = await sip.call({"service": INFO, "token": tenant.token, "status": 1, "extnumber": ""})
    assert reply["ret"] == 603
    assert reply["msg"] == "Module not licensed: extensions is not licensed for the company"
    other = await sip.call({"service": "App.Sip_Extgroup.GetExtgroupInfo", "token": tenant.token})
    assert other["ret"] == 200
    await container.companies.set_capabilities(tenant.code, enable=["extensions"], disable=[])
    again = await sip.call({"service": INFO, "token": tenant.token, "status": 1, "extnumber": ""})
    assert again["ret"] == 200


async def test_ip_outside_the_allow_list_is_604(
    container: Container, tenant: Tenant, sip: SipClient
) -> None:
    # The test client connects from 203.0.113.7.
    await container.companies.allow_ips(tenant.code, ["198.51.100.0/24"], replace=True)
    request = {"service": INFO, "token": tenant.token, "status": 1, "extnumber": ""}
    reply = await sip.call(request)
    assert reply["ret"] == 604
    assert reply["msg"] == "IP is not authorized: IP 203.0.113.7 is not authorized"
    login = await sip.call({"service": LOGIN, "appid": tenant.appid, "accesskey": tenant.accesskey})
    assert login["ret"] == 604
    await container.companies.allow_ips(tenant.code, ["203.0.113.0/28"], replace=False)
    assert (await sip.call(request))["ret"] == 200


async def test_service_is_required_and_must_exist(sip: SipClient) -> None:
    assert await sip.call({"token": "x"}) == {
        "ret": 400,
        "data": [],
        "msg": "Illegal request: missing parameter service",
    }
    assert await sip.call({"service": "App.Sip_Nothing.Here"}) == {
        "ret": 400,
        "data": [],
        "msg": "Illegal request: unknown service App.Sip_Nothing.Here",
    }


async def test_missing_token_is_400(sip: SipClient) -> None:
    reply = await sip.call({"service": INFO, "status": 1, "extnumber": ""})
    assert reply == {"ret": 400, "data": [], "msg": "Illegal request: missing parameter token"}


async def test_blank_token_is_600_so_clients_log_in_again(sip: SipClient) -> None:
    for blank in ("", "   "):
        reply = await sip.call({"service": INFO, "token": blank, "status": 1})
        assert reply == {
            "ret": 600,
            "data": [],
            "msg": "The token is invalid, please log in again to verify: the token is blank",
        }


async def test_urlencoded_bodies_work_like_multipart(tenant: Tenant, sip: SipClient) -> None:
    fields = {"service": INFO, "token": tenant.token, "status": 3, "extnumber": ""}
    assert (await sip.urlencoded(fields))["data"]["result"] == (await sip.call(fields))["data"][
        "result"
    ]


async def test_other_bodies_get_400_not_500(http: httpx.AsyncClient) -> None:
    cases = [
        (b'{"service": "App.Sip_Auth.Login"}', "application/json"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"service=App.Sip_Auth.Login", ""),
    ]
    for body, content_type in cases:
        headers = {"Content-Type": content_type} if content_type else {}
        response = await http.post("/", content=body, headers=headers)
        assert response.status_code == 200
        reply = response.json()
        assert reply["ret"] == 400, (content_type, reply)
        assert reply["msg"].startswith("Illegal request: ")


async def test_get_is_answered_with_an_envelope(http: httpx.AsyncClient) -> None:
    reply = (await http.get("/")).json()
    assert reply["ret"] == 400
