"""A company's time zone: its API answers, call records and task dates use it; another
company keeps the server's (UTC here)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from callyard.container import Container
from callyard.errors import InvalidInput
from callyard.testing.clock import ManualClock
from tests.conftest import ADMIN_KEY, SipClient, Tenant
from tests.factories import call_record, caller_of

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
JAKARTA = "Asia/Jakarta"  # UTC+7, no summer time


async def test_a_companys_answers_and_records_are_in_its_time_zone(
    container: Container,
    http: httpx.AsyncClient,
    sip: SipClient,
    tenant: Tenant,
    other: Tenant,
    clock: ManualClock,
) -> None:
    now = clock.now()
    assert now == datetime(2026, 1, 1, tzinfo=UTC)
    shown = await http.put(
        f"/admin/companies/{tenant.code}/timezone", json={"timezone": JAKARTA}, headers=AUTH
    )
    assert shown.json()["timezone"] == JAKARTA
    await container.groups.add(await caller_of(container, tenant.code), "sales", True)
    await container.groups.add(await caller_of(container, other.code), "sales", True)

    async def created(who: Tenant) -> dict[str, str]:
        reply = await sip.call(
            {
                "service": "App.Sip_Yccall.TaskCreate",
                "token": who.token,
                "name": "renewals",
                "groupname": "sales",
                "startdate": "2026-01-01",
                "enddate": "2026-01-01",
                "numbers": json.dumps(["6281111"]),
            }
        )
        listed = await sip.call({"service": "App.Sip_Yccall.TaskList", "token": who.token})
        return {
            "taskid": reply["data"]["result"]["taskid"],
            "createtime": listed["data"]["result"]["result"][0]["createtime"],
        }

    mine, theirs = await created(tenant), await created(other)
    assert mine["taskid"].startswith("20260101070000")
    assert mine["createtime"] == "2026-01-01 07:00:00"
    assert theirs["taskid"].startswith("20260101000000")
    assert theirs["createtime"] == "2026-01-01 00:00:00"

    record = call_record(await caller_of(container, tenant.code), now)
    await container.cdrs.record(record)
    listed = (await http.get(f"/admin/companies/{tenant.code}/cdrs", headers=AUTH)).json()
    assert (listed[0]["starttime"], listed[0]["endtime"]) == (
        "2026-01-01 07:00:00",
        "2026-01-01 07:00:30",
    )

    await container.companies.set_timezone(tenant.code, None)  # the server's again
    again = await sip.call({"service": "App.Sip_Yccall.TaskList", "token": tenant.token})
    assert again["data"]["result"]["result"][0]["createtime"] == "2026-01-01 00:00:00"
    await container.companies.set_timezone(tenant.code, JAKARTA)

    # 20:00 UTC is already the next day in Jakarta: its one-day task is over, the other
    # company's (UTC) is not yet.
    clock.advance(20 * 3600)
    ended = await container.tasks.expire(clock.now())
    assert ended == [mine["taskid"]]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "UTC+7"])
async def test_unknown_zones_are_refused(container: Container, tenant: Tenant, zone: str) -> None:
    with pytest.raises(InvalidInput):
        await container.companies.set_timezone(tenant.code, zone)
