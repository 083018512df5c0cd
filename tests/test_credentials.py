"""API credentials per dialect: issued once, kept hashed or sealed, checked, revoked."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from callyard.container import Container
from callyard.errors import InvalidInput, NotFound
from callyard.sealing import SecretBox, Unsealable
from callyard.services.credentials import CredentialKind, CredentialService
from callyard.store.models import ApiCredential
from tests.conftest import ADMIN_KEY, Tenant

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def test_a_sealed_secret_opens_only_with_its_key_and_for_its_row() -> None:
    box = SecretBox("server key one")
    sealed = box.seal("s3cret", "credential:robot:abc")
    assert "s3cret" not in sealed
    assert box.open(sealed, "credential:robot:abc") == "s3cret"
    assert box.seal("s3cret", "credential:robot:abc") != sealed  # a new nonce each time
    with pytest.raises(Unsealable):
        SecretBox("server key two").open(sealed, "credential:robot:abc")
    with pytest.raises(Unsealable):  # moved to another row
        box.open(sealed, "credential:robot:xyz")
    with pytest.raises(Unsealable):
        box.open(sealed[:-2] + "AA", "credential:robot:abc")


async def test_secrets_are_shown_once_and_stored_hashed_or_sealed(
    container: Container, tenant: Tenant, other: Tenant
) -> None:
    credentials = container.credentials
    vcall = await credentials.issue(tenant.code, CredentialKind.VCALL)
    robot = await credentials.issue(tenant.code, CredentialKind.ROBOT)
    async with container.db.transaction() as session:
        rows = {r.key_id: r for r in await session.scalars(select(ApiCredential))}
    stored = " ".join(f"{r.secret_hash} {r.secret_sealed}" for r in rows.values())
    assert vcall.secret not in stored
    assert robot.secret not in stored
    assert rows[vcall.key_id].secret_sealed is None  # only checked: a hash
    assert rows[robot.key_id].secret_hash is None  # signatures need it: sealed

    held = await credentials.holder(CredentialKind.VCALL, vcall.key_id, vcall.secret)
    assert held is not None
    assert held.secret is None
    assert await credentials.holder(CredentialKind.VCALL, vcall.key_id, "wrong") is None
    assert await credentials.holder(CredentialKind.ROBOT, vcall.key_id, vcall.secret) is None
    signer = await credentials.holder(CredentialKind.ROBOT, robot.key_id)
    assert signer is not None
    assert signer.secret == robot.secret
    assert [(c.kind, c.key_id) for c in await credentials.list(tenant.code)] == [
        (CredentialKind.VCALL, vcall.key_id),
        (CredentialKind.ROBOT, robot.key_id),
    ]
    assert await credentials.list(other.code) == []

    with pytest.raises(NotFound):  # another company's
        await credentials.revoke(other.code, vcall.key_id)
    await credentials.revoke(tenant.code, vcall.key_id)
    assert await credentials.holder(CredentialKind.VCALL, vcall.key_id, vcall.secret) is None

    # Another server key cannot open what this one sealed: nothing is returned.
    foreign = CredentialService(container.db, container.clock, lambda: SecretBox("another"))
    assert await foreign.holder(CredentialKind.ROBOT, robot.key_id) is None


async def test_a_company_holds_a_bounded_number_of_credentials(
    container: Container, tenant: Tenant
) -> None:
    for _ in range(20):
        await container.credentials.issue(tenant.code, CredentialKind.VCALL)
    with pytest.raises(InvalidInput):
        await container.credentials.issue(tenant.code, CredentialKind.VCALL)


async def test_admin_api(http: httpx.AsyncClient, tenant: Tenant) -> None:
    base = f"/admin/companies/{tenant.code}/credentials"
    made = await http.post(base, json={"kind": "robot"}, headers=AUTH)
    assert made.status_code == 201
    issued = made.json()
    assert set(issued) == {"kind", "key_id", "created_at", "secret"}
    listed = (await http.get(base, headers=AUTH)).json()
    assert [set(c) for c in listed] == [{"kind", "key_id", "created_at"}]
    bad = await http.post(base, json={"kind": "pigeon"}, headers=AUTH)
    assert bad.status_code == 422
    gone = await http.delete(f"{base}/{issued['key_id']}", headers=AUTH)
    assert gone.status_code == 204
    assert (await http.delete(f"{base}/{issued['key_id']}", headers=AUTH)).status_code == 404
