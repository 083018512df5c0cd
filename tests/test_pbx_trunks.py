"""PBX trunks: a company's own PBX, administered through the service and the admin API,
and read into the switch's routing table."""

from __future__ import annotations

import httpx
import pytest

from callyard.container import Container
from callyard.errors import Conflict, InvalidInput, NotFound
from callyard.services.pbx_trunks import PbxTrunkView
from callyard.services.routing_book import RoutingBook
from tests.conftest import ADMIN_KEY, Tenant

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def test_add_list_remove_and_the_routing_table(
    container: Container, tenant: Tenant, other: Tenant
) -> None:
    pbxes = container.pbx_trunks
    office = await pbxes.add(tenant.code, "office", host="[2001:db8::10]")
    assert office == PbxTrunkView(tenant.code, "office", "2001:db8::10", None, None)
    dialer = await pbxes.add(
        tenant.code, "dialer", username="acme-dialer", password="dialer-secret"
    )
    both = await pbxes.add(
        other.code, "hq", host="192.0.2.7", username="globex-pbx", password="globex-secret"
    )
    assert [p.name for p in await pbxes.list_all(tenant.code)] == ["office", "dialer"]

    book = RoutingBook(container.db, container.directory)
    await book.reload()
    table = book.table
    assert table.pbx_at("2001:db8::10") is not None
    assert table.pbx_at("192.0.2.7") is None  # with credentials, the address alone is not it
    hq = table.pbx_of("globex-pbx")
    assert hq is not None
    assert (hq.host, hq.account and hq.account.password) == ("192.0.2.7", "globex-secret")
    acme = table.pbx_of("acme-dialer")
    assert acme is not None
    assert acme.company_id != hq.company_id

    assert await pbxes.remove(tenant.code, "dialer") == dialer
    await book.reload()
    assert book.table.pbx_of("acme-dialer") is None
    assert await pbxes.list_all(other.code) == [both]


async def test_invalid_input_and_clashes(
    container: Container, tenant: Tenant, other: Tenant
) -> None:
    pbxes = container.pbx_trunks
    for kwargs, field in [
        ({}, "host"),  # neither an address nor credentials
        ({"host": "pbx.example.com"}, "host"),  # an address, not a name
        ({"username": "acme"}, "username"),  # no password
        ({"username": "1001", "password": "long-enough"}, "username"),  # could be an extension
        ({"username": "acme", "password": "short"}, "password"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            await pbxes.add(tenant.code, "p", **kwargs)
        assert refused.value.field == field, kwargs
    await pbxes.add(tenant.code, "office", host="192.0.2.10")
    await pbxes.add(tenant.code, "dialer", username="acme-dialer", password="dialer-secret")
    for code, kwargs in [
        (tenant.code, {"name": "office", "host": "192.0.2.11"}),  # the name
        (other.code, {"name": "x", "host": "192.0.2.10"}),  # the address, in any company
        (other.code, {"name": "y", "username": "acme-dialer", "password": "x-secret-9"}),
    ]:
        with pytest.raises(Conflict):
            await pbxes.add(code, **kwargs)
    with pytest.raises(NotFound):
        await pbxes.remove(other.code, "office")  # another company's


async def test_admin_api(http: httpx.AsyncClient, tenant: Tenant) -> None:
    path = f"/admin/companies/{tenant.code}/pbx-trunks"
    created = await http.post(path, json={"name": "office", "host": "192.0.2.10"}, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json() == {
        "company_code": tenant.code,
        "name": "office",
        "host": "192.0.2.10",
        "username": None,
        "password": None,
    }
    bad = await http.post(path, json={"name": "x", "host": "nowhere"}, headers=AUTH)
    assert bad.status_code == 422
    listed = await http.get(path, headers=AUTH)
    assert [p["name"] for p in listed.json()] == ["office"]
    assert (await http.delete(f"{path}/office", headers=AUTH)).status_code == 204
    assert (await http.get(path, headers=AUTH)).json() == []
    assert (await http.get(path)).status_code == 401
