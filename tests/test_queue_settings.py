"""A group's queue through the admin API: made, read, changed, refused when invalid or
another company's, removed; the routing table queues the group's numbers meanwhile."""

from __future__ import annotations

import httpx

from callyard.container import Container
from callyard.services.routing_book import RoutingBook
from tests.conftest import ADMIN_KEY, SipClient, Tenant

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def test_a_groups_queue_through_the_admin_api(
    http: httpx.AsyncClient, sip: SipClient, tenant: Tenant, other: Tenant, container: Container
) -> None:
    for name in ("sales", "backup"):
        created = await sip.call(
            {"service": "App.Sip_Extgroup.AddExtgroup", "token": tenant.token, "name": name}
        )
        assert created["data"]["status"] == 0, created
    await container.numbers.add(tenant.code, "622150001", True)
    await container.numbers.set_route(tenant.code, "622150001", group="sales")
    path = f"/admin/companies/{tenant.code}/groups/sales/queue"
    assert (await http.get(path, headers=AUTH)).status_code == 404

    body = {"max_wait_seconds": 60, "overflow": "group", "overflow_group": "backup",
            "greeting": "Thank you for calling."}  # fmt: skip
    stored = await http.put(path, json=body, headers=AUTH)
    assert stored.status_code == 200, stored.text
    assert stored.json()["overflow_group"] == "backup"
    assert (await http.get(path, headers=AUTH)).json() == stored.json()
    book = RoutingBook(container.db, container.directory)
    await book.reload()
    assert book.table.numbers["622150001"].queued

    refused = [
        ({"max_wait_seconds": 0}, 422),
        ({"overflow": "group"}, 422),  # to which group?
        ({"overflow": "group", "overflow_group": "sales"}, 422),  # itself
        ({"overflow": "number", "overflow_number": "abc"}, 422),
        ({"ring_seconds": 2}, 422),
        ({"surprise": 1}, 422),
    ]
    for wrong, status in refused:
        answer = await http.put(path, json=wrong, headers=AUTH)
        assert answer.status_code == status, (wrong, answer.text)
    assert (await http.get(path, headers=AUTH)).json() == stored.json()  # unchanged
    theirs = f"/admin/companies/{other.code}/groups/sales/queue"
    assert (await http.put(theirs, json={}, headers=AUTH)).status_code == 404

    assert (await http.delete(path, headers=AUTH)).status_code == 204
    assert (await http.get(path, headers=AUTH)).status_code == 404
    await book.reload()
    assert not book.table.numbers["622150001"].queued


async def test_a_supervisors_monitoring_through_the_admin_api_is_checked(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    path = f"/admin/companies/{tenant.code}/agents/0001/monitor"
    for wrong in ({"supervisor": "0002", "mode": "spy"}, {"mode": "listen"}, {}):
        answer = await http.post(path, json=wrong, headers=AUTH)
        assert answer.status_code == 422, (wrong, answer.text)
    # Without the SIP switch there are no calls to monitor.
    answer = await http.post(path, json={"supervisor": "0002", "mode": "listen"}, headers=AUTH)
    assert answer.status_code == 409
    assert "switch" in answer.json()["error"]
    gone = await http.post(
        "/admin/companies/999999/agents/0001/monitor",
        json={"supervisor": "0002", "mode": "listen"},
        headers=AUTH,
    )
    assert gone.status_code == 404
