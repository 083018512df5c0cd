"""Trunks: administration through the service and the admin API, and the switch's pick."""

from __future__ import annotations

import httpx
import pytest

from callyard.container import Container
from callyard.errors import Conflict, InvalidInput, NotFound
from callyard.services.trunks import TrunkView
from tests.conftest import ADMIN_KEY, Tenant
from tests.factories import caller_of

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def test_add_list_remove(container: Container, tenant: Tenant) -> None:
    trunks = container.trunks
    first = await trunks.add(tenant.code, "carrier-a", "sip.Carrier.example")
    assert first == TrunkView(
        first.id, tenant.code, "carrier-a", "sip.carrier.example", 5060, None, None
    )
    second = await trunks.add(
        tenant.code, "carrier-b", "[2001:db8::1]", 5080, username="acme", password="s3cret!"
    )
    assert (second.host, second.port, second.username, second.password) == (
        "2001:db8::1",
        5080,
        "acme",
        "s3cret!",
    )
    assert [t.name for t in await trunks.list_all(tenant.code)] == ["carrier-a", "carrier-b"]

    removed = await trunks.remove(tenant.code, "carrier-a")
    assert removed == first
    assert await trunks.list_all(tenant.code) == [second]


async def test_for_company_is_the_first_trunk_by_id(
    container: Container, tenant: Tenant, other: Tenant
) -> None:
    caller = await caller_of(container, tenant.code)
    assert await container.trunks.for_company(caller.company_id) is None
    first = await container.trunks.add(tenant.code, "z-first", "192.0.2.10")
    await container.trunks.add(tenant.code, "a-second", "192.0.2.11")
    await container.trunks.add(other.code, "theirs", "192.0.2.99")
    assert await container.trunks.for_company(caller.company_id) == first
    await container.trunks.remove(tenant.code, "z-first")
    chosen = await container.trunks.for_company(caller.company_id)
    assert chosen is not None
    assert chosen.name == "a-second"
    assert chosen.company_code == tenant.code


async def test_names_are_unique_per_company(
    container: Container, tenant: Tenant, other: Tenant
) -> None:
    await container.trunks.add(tenant.code, "main", "192.0.2.1")
    with pytest.raises(Conflict, match="main"):
        await container.trunks.add(tenant.code, "main", "192.0.2.2")
    await container.trunks.add(other.code, "main", "192.0.2.3")  # another company may
    assert [t.host for t in await container.trunks.list_all(tenant.code)] == ["192.0.2.1"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"host": "bad host"}, "host"),
        ({"host": "300.1.1.1"}, "host"),
        ({"host": "-carrier.example"}, "host"),
        ({"host": ""}, "host"),
        ({"host": "a" * 64 + ".example"}, "host"),
        ({"port": 0}, "port"),
        ({"port": 65536}, "port"),
        ({"name": ""}, "name"),
        ({"name": "has space"}, "name"),
        ({"username": "only-user"}, "username"),
        ({"password": "only-password"}, "username"),
        ({"username": "a b", "password": "pw"}, "username"),
    ],
)
async def test_invalid_input(
    container: Container, tenant: Tenant, changes: dict[str, object], field: str
) -> None:
    args: dict[str, object] = {"name": "t", "host": "sip.example.com"} | changes
    with pytest.raises(InvalidInput) as raised:
        await container.trunks.add(tenant.code, **args)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert await container.trunks.list_all(tenant.code) == []


async def test_unknown_company_or_trunk(container: Container, tenant: Tenant) -> None:
    with pytest.raises(NotFound):
        await container.trunks.add(4242, "t", "sip.example.com")
    with pytest.raises(NotFound):
        await container.trunks.list_all(4242)
    with pytest.raises(NotFound, match="no trunk named 'nope'"):
        await container.trunks.remove(tenant.code, "nope")


async def test_admin_api(http: httpx.AsyncClient, tenant: Tenant) -> None:
    base = f"/admin/companies/{tenant.code}/trunks"
    made = await http.post(
        base,
        json={"name": "carrier", "host": "10.0.0.5", "username": "u1", "password": "p1"},
        headers=AUTH,
    )
    assert made.status_code == 201, made.text
    assert made.json() == {
        "id": made.json()["id"],
        "company_code": tenant.code,
        "name": "carrier",
        "host": "10.0.0.5",
        "port": 5060,
        "username": "u1",
        "password": "p1",
    }
    assert [t["name"] for t in (await http.get(base, headers=AUTH)).json()] == ["carrier"]

    again = await http.post(base, json={"name": "carrier", "host": "10.0.0.6"}, headers=AUTH)
    assert again.status_code == 409
    bad_port = await http.post(
        base, json={"name": "x", "host": "h.example", "port": 0}, headers=AUTH
    )
    assert bad_port.status_code == 422
    assert "port" in bad_port.json()["error"]
    assert (await http.post(base, json={"name": "x"}, headers=AUTH)).status_code == 422
    assert (
        await http.post(
            "/admin/companies/4242/trunks", json={"name": "x", "host": "h"}, headers=AUTH
        )
    ).status_code == 404

    assert (await http.delete(f"{base}/carrier", headers=AUTH)).status_code == 204
    assert (await http.delete(f"{base}/carrier", headers=AUTH)).status_code == 404
    assert (await http.get(base, headers=AUTH)).json() == []
    assert (await http.get(base)).status_code == 401
