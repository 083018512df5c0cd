"""`POST /api/token` of the vcall API (seed 003, M1.1) through the HTTP app: the
catalog's request and answer, field by field and type by type; bad bodies; tokens that
expire, are revoked with their credential, and serve their own API only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from callyard.container import Container
from callyard.errors import AccessDenied
from callyard.security import verify_secret
from callyard.services import credentials as credentials_module
from callyard.services.companies import Capability, TokenAudience
from callyard.services.credentials import CredentialKind, IssuedCredential
from callyard.testing.clock import ManualClock
from tests.conftest import SipClient, Tenant

CLIENT = "203.0.113.7"  # the address the test client sends from


async def vcall_key(container: Container, tenant: Tenant) -> IssuedCredential:
    return await container.credentials.issue(tenant.code, CredentialKind.VCALL)


async def get_token(http: httpx.AsyncClient, body: Any, path: str = "/api/token") -> Any:
    response = await http.post(path, json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


async def test_the_catalogs_request_gets_a_token_and_its_expiry_in_epoch_ms(
    http: httpx.AsyncClient, container: Container, tenant: Tenant, clock: ManualClock
) -> None:
    key = await vcall_key(container, tenant)
    reply = await get_token(http, {"accessKeyId": key.key_id, "accessKeySecret": key.secret})

    assert set(reply) == {"code", "msg", "data"}
    assert (reply["code"], reply["msg"]) == (0, "success")
    assert type(reply["code"]) is int  # the token's module: integer 0 (catalog §1.3)
    assert set(reply["data"]) == {"token", "expireTime"}
    token, expires = reply["data"]["token"], reply["data"]["expireTime"]
    assert isinstance(token, str)
    assert len(token) >= 32
    assert type(expires) is int
    assert len(str(expires)) == 13
    assert expires == int((clock.now() + timedelta(hours=2)).timestamp() * 1000)

    caller = await container.auth.authorize(token, CLIENT, Capability.SESSIONS, TokenAudience.VCALL)
    assert caller.company_code == tenant.code


async def test_the_path_without_api_the_seeds_examples_use(
    http: httpx.AsyncClient, container: Container, tenant: Tenant
) -> None:
    key = await vcall_key(container, tenant)
    body = {"accessKeyId": key.key_id, "accessKeySecret": key.secret}
    assert (await get_token(http, body, "/token"))["code"] == 0


async def test_a_token_serves_its_own_api_only(
    http: httpx.AsyncClient, container: Container, tenant: Tenant, sip: SipClient
) -> None:
    key = await vcall_key(container, tenant)
    reply = await get_token(http, {"accessKeyId": key.key_id, "accessKeySecret": key.secret})
    vcall_token = reply["data"]["token"]
    # Not an App.Sip_* token: ret 600, as any unknown token.
    listed = await sip.call({"service": "App.Sip_Sipnum.GetSipnumberInfo", "token": vcall_token})
    assert listed["ret"] == 600
    # Nor is an App.Sip_* Login token one of the vcall API's.
    with pytest.raises(AccessDenied):
        await container.auth.authorize(
            tenant.token, CLIENT, Capability.SESSIONS, TokenAudience.VCALL
        )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "accessKeyId"),
        ({"accessKeyId": "k"}, "accessKeySecret"),
        ({"accessKeyId": "", "accessKeySecret": "s"}, "accessKeyId"),
        ({"accessKeyId": 12345, "accessKeySecret": "s"}, "accessKeyId"),
        ({"accessKeyId": "k", "accessKeySecret": ["s"]}, "accessKeySecret"),
        ({"accessKeyId": "k" * 129, "accessKeySecret": "s"}, "accessKeyId"),
        (["accessKeyId", "accessKeySecret"], "JSON object"),
    ],
)
async def test_bad_bodies_get_minus_one_with_the_reason(
    http: httpx.AsyncClient, body: Any, reason: str
) -> None:
    reply = await get_token(http, body)
    assert (reply["code"], reply["data"]) == (-1, None)
    assert reason in reply["msg"]


async def test_a_body_that_is_not_json_gets_minus_one(http: httpx.AsyncClient) -> None:
    for content, kind in (
        ("accessKeyId=k&accessKeySecret=s", "application/x-www-form-urlencoded"),
        ("{not json", "application/json"),
    ):
        response = await http.post("/api/token", content=content, headers={"Content-Type": kind})
        assert response.status_code == 200
        reply = response.json()
        assert (reply["code"], reply["data"]) == (-1, None), reply


async def test_wrong_keys_get_minus_one_and_no_token(
    http: httpx.AsyncClient, container: Container, tenant: Tenant
) -> None:
    key = await vcall_key(container, tenant)
    robot = await container.credentials.issue(tenant.code, CredentialKind.ROBOT)
    for body in (
        {"accessKeyId": key.key_id, "accessKeySecret": "not-the-secret"},
        {"accessKeyId": "no-such-key", "accessKeySecret": key.secret},
        # Another kind of credential of the same company is no vcall key.
        {"accessKeyId": robot.key_id, "accessKeySecret": robot.secret},
    ):
        reply = await get_token(http, body)
        assert (reply["code"], reply["data"]) == (-1, None), body
        assert "wrong key id or secret" in reply["msg"]


async def test_tokens_expire_and_go_with_their_credential(
    http: httpx.AsyncClient, container: Container, tenant: Tenant, clock: ManualClock
) -> None:
    key = await vcall_key(container, tenant)
    second = await vcall_key(container, tenant)
    body = {"accessKeyId": key.key_id, "accessKeySecret": key.secret}
    token = (await get_token(http, body))["data"]["token"]

    async def valid(token: str) -> bool:
        try:
            await container.auth.authorize(token, CLIENT, Capability.SESSIONS, TokenAudience.VCALL)
        except AccessDenied:
            return False
        return True

    # Rotating the App.Sip_* access key leaves the vcall API's tokens alone.
    await container.companies.rotate_accesskey(tenant.code)
    clock.advance(1)
    assert await valid(token)

    clock.advance(2 * 3600)
    assert not await valid(token)

    token = (await get_token(http, body))["data"]["token"]
    await container.credentials.revoke(tenant.code, key.key_id)
    clock.advance(1)  # past the directory's poll interval
    assert not await valid(token)
    assert (await get_token(http, body))["code"] == -1
    other_body = {"accessKeyId": second.key_id, "accessKeySecret": second.secret}
    assert (await get_token(http, other_body))["code"] == 0


async def test_a_lapsed_company_gets_403_no_auth(
    http: httpx.AsyncClient, container: Container, tenant: Tenant, clock: ManualClock
) -> None:
    key = await vcall_key(container, tenant)
    await container.companies.set_expiry(tenant.code, clock.now() - timedelta(minutes=1))
    reply = await get_token(http, {"accessKeyId": key.key_id, "accessKeySecret": key.secret})
    assert (reply["code"], reply["data"]) == (403, None)
    assert reply["msg"].startswith("no auth")


async def test_a_client_fetching_tokens_again_is_not_slowed_to_the_kdfs_pace(
    http: httpx.AsyncClient,
    container: Container,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = await vcall_key(container, tenant)
    runs: list[str] = []

    def counted(secret: str, stored: str) -> bool:
        runs.append(secret)
        return verify_secret(secret, stored)

    monkeypatch.setattr(credentials_module, "verify_secret", counted)
    body = {"accessKeyId": key.key_id, "accessKeySecret": key.secret}
    for _ in range(3):
        assert (await get_token(http, body))["code"] == 0
    wrong = {"accessKeyId": key.key_id, "accessKeySecret": "wrong"}
    assert (await get_token(http, wrong))["code"] == -1
    # The right secret is hashed once; a wrong one always is.
    assert runs == [key.secret, "wrong"]
