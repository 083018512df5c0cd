"""Failed logins: limits per address and per appid, key derivation off the event loop,
answers that stay the documented ones, and tokens revoked when a key changes."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from callyard import security
from callyard.container import Container
from callyard.errors import BusinessError
from callyard.services import auth
from callyard.services.auth import AuthService, LoginLimits
from callyard.store.models import ApiToken
from callyard.testing.clock import ManualClock
from tests.conftest import ADMIN_KEY, SipClient, Tenant

LOGIN = "App.Sip_Auth.Login"
INFO = "App.Sip_Sipnum.GetSipnumberInfo"
VOICE_CODE = "/api/voiceCode"


def client(container: Container, ip: str) -> SipClient:
    """A client of the in-process app whose requests come from `ip`."""
    from callyard.api.app import create_app

    transport = httpx.ASGITransport(app=create_app(container, ADMIN_KEY), client=(ip, 40000))
    return SipClient(httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080"))


async def login(sip: SipClient, appid: str, accesskey: str) -> dict[str, object]:
    return await sip.call({"service": LOGIN, "appid": appid, "accesskey": accesskey})


def refused(reply: dict[str, object], why: str = "") -> bool:
    """The documented wrong-key answer: ret 200, data.status 1, code 1003."""
    data = reply["data"]
    return (
        isinstance(data, dict)
        and data["status"] == 1
        and data["errors"] == {"code": "1003", "codemsg": "operation failed"}
        and why in data["desc"]
    )


@pytest.fixture
def kdf_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads the access-key derivation ran in, one entry per run."""
    runs: list[str] = []

    def counted(secret: str, stored: str) -> bool:
        runs.append(threading.current_thread().name)
        return security.verify_secret(secret, stored)

    monkeypatch.setattr(auth, "verify_secret", counted)
    return runs


async def test_an_address_guessing_keys_is_blocked_and_others_are_not(
    container: Container, tenant: Tenant, clock: ManualClock
) -> None:
    attacker, office = client(container, "198.51.100.9"), client(container, "192.0.2.50")
    for i in range(10):
        assert refused(await login(attacker, tenant.appid, f"guess-{i}"), "wrong accesskey")
    # Blocked now: even the right key is refused from there, in the documented shape.
    reply = await login(attacker, tenant.appid, tenant.accesskey)
    assert refused(reply, "too many failed attempts, try again in 300 s")
    assert (await login(office, tenant.appid, tenant.accesskey))["ret"] == 200
    clock.advance(300)
    assert (await login(attacker, tenant.appid, tenant.accesskey))["ret"] == 200


async def test_unknown_appids_count_against_the_address(container: Container) -> None:
    scanner = client(container, "198.51.100.10")
    for i in range(10):
        assert (await login(scanner, f"app-{i}", "whatever1"))["ret"] == 601
    assert refused(await login(scanner, "app-10", "whatever1"), "too many failed attempts")


async def test_many_addresses_guessing_one_appid_spare_its_own_servers(
    container: Container, tenant: Tenant, clock: ManualClock
) -> None:
    own = client(container, "192.0.2.50")
    assert (await login(own, tenant.appid, tenant.accesskey))["ret"] == 200
    for i in range(10):  # a botnet: each address stays under its own limit
        attacker = client(container, f"198.51.100.{i + 1}")
        assert refused(await login(attacker, tenant.appid, f"guess-{i}"))
    newcomer = client(container, "203.0.113.99")
    assert refused(await login(newcomer, tenant.appid, tenant.accesskey), "too many failed")
    assert (await login(own, tenant.appid, tenant.accesskey))["ret"] == 200
    clock.advance(1)
    assert (await login(newcomer, tenant.appid, tenant.accesskey))["ret"] == 200


async def test_the_voice_code_api_shares_the_limits(container: Container, tenant: Tenant) -> None:
    sip = client(container, "198.51.100.11")
    for i in range(10):
        assert refused(await login(sip, tenant.appid, f"guess-{i}"))
    fields = {
        "appid": tenant.appid,
        "accesskey": tenant.accesskey,
        "code": "4815",
        "phone": "08123456789",
        "nationCode": "id",
    }
    reply = (await sip.http.post(VOICE_CODE, json=fields)).json()
    assert reply == {"code": 1001, "msg": "Parameter error: authentication failed", "data": {}}


async def test_keys_are_derived_off_the_event_loop_and_outside_the_write_lock(
    container: Container, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[tuple[str, bool]] = []  # (thread, whether the write lock was held)

    def watched(secret: str, stored: str) -> bool:
        lock = container.db._write_lock
        runs.append((threading.current_thread().name, lock is not None and lock.locked()))
        return security.verify_secret(secret, stored)

    monkeypatch.setattr(auth, "verify_secret", watched)
    monkeypatch.setattr(container.auth, "_verified", security.VerifiedSecrets())
    sip = client(container, "192.0.2.60")
    assert refused(await login(sip, tenant.appid, "wrong-key"))
    assert (await login(sip, tenant.appid, tenant.accesskey))["ret"] == 200
    assert len(runs) == 2
    assert all(thread != threading.current_thread().name for thread, _ in runs)
    assert not any(held for _, held in runs)


async def test_a_burst_of_wrong_keys_runs_the_kdf_only_up_to_the_limit(
    container: Container, tenant: Tenant, kdf_runs: list[str]
) -> None:
    sip = client(container, "198.51.100.12")
    replies = await asyncio.gather(*(login(sip, tenant.appid, f"guess-{i}") for i in range(128)))
    assert all(refused(reply) for reply in replies)
    assert len(kdf_runs) == 10
    info = await sip.call({"service": INFO, "token": tenant.token, "status": 3, "extnumber": ""})
    assert info["data"]["status"] == 0  # the address's other requests are not blocked


async def test_a_remembered_key_is_not_derived_again(
    container: Container, tenant: Tenant, kdf_runs: list[str]
) -> None:
    sip = client(container, "192.0.2.61")
    for _ in range(3):
        assert (await login(sip, tenant.appid, tenant.accesskey))["ret"] == 200
    assert len(kdf_runs) <= 1  # the tenant fixture's own login may have done it


async def test_failed_attempts_are_answered_late(container: Container, tenant: Tenant) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    service = AuthService(
        container.db,
        container.clock,
        container.directory,
        timedelta(hours=12),
        replace(LoginLimits.of(container.settings), failure_delay=1.5),
        sleep,
    )
    await service.login(tenant.appid, tenant.accesskey, "192.0.2.1")
    assert slept == []
    with pytest.raises(BusinessError):
        await service.login(tenant.appid, "wrong-key", "192.0.2.1")
    assert slept == [1.5]


async def test_a_new_key_revokes_the_company_tokens(
    container: Container, tenant: Tenant, sip: SipClient
) -> None:
    request = {"service": INFO, "token": tenant.token, "status": 3, "extnumber": ""}
    rotated = await container.companies.rotate_accesskey(tenant.code)
    assert (await sip.call(request))["ret"] == 600
    assert refused(await login(sip, tenant.appid, tenant.accesskey))
    request["token"] = await sip.login(tenant.appid, rotated.accesskey)
    assert (await sip.call(request))["ret"] == 200


async def test_tokens_do_not_outlive_a_lapsed_authorization(
    container: Container, tenant: Tenant, sip: SipClient, clock: ManualClock
) -> None:
    request = {"service": INFO, "token": tenant.token, "status": 3, "extnumber": ""}
    await container.companies.set_expiry(tenant.code, clock.now() + timedelta(hours=1))
    assert (await sip.call(request))["ret"] == 200
    clock.advance(3600)
    assert (await sip.call(request))["ret"] == 602
    await container.companies.set_expiry(tenant.code, None)  # renewed
    assert (await sip.call(request))["ret"] == 600
    request["token"] = await sip.login(tenant.appid, tenant.accesskey)
    assert (await sip.call(request))["ret"] == 200


async def test_a_login_racing_a_key_rotation_gets_no_token(
    container: Container, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    original = security.verify_secret

    def rotated_meanwhile(secret: str, stored: str) -> bool:
        rotate = container.companies.rotate_accesskey(tenant.code)
        asyncio.run_coroutine_threadsafe(rotate, loop).result(timeout=30)
        return original(secret, stored)

    monkeypatch.setattr(auth, "verify_secret", rotated_meanwhile)
    monkeypatch.setattr(container.auth, "_verified", security.VerifiedSecrets())
    sip = client(container, "192.0.2.62")
    async with container.db.transaction() as session:
        before = await session.scalar(select(func.count()).select_from(ApiToken))
    assert refused(await login(sip, tenant.appid, tenant.accesskey), "wrong accesskey")
    async with container.db.transaction() as session:
        after = await session.scalar(select(func.count()).select_from(ApiToken))
    assert before == 1  # the tenant's own login
    assert after == 0  # revoked by the rotation, and none issued for the old key
