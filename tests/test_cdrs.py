"""Call records: storing (idempotent on uuid), listing, and the seed's callback payload."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.api.dialects.sip_api.callbacks import record_body
from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party
from callyard.errors import InvalidInput, NotFound
from callyard.services.auth import Caller
from callyard.services.cdrs import CdrService, StoredCallRecord
from callyard.store.models import CallRecordRow
from callyard.timefmt import TimeFormat
from tests.conftest import ADMIN_KEY, Tenant
from tests.factories import call_record, caller_of

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
SEED_KEYS = [
    "callmethod",
    "starttime",
    "answertime",
    "endtime",
    "duration",
    "billsec",
    "crmid",
    "hangupdirection",
    "chengshudu",
    "hangupcause",
    "memberid",
    "disnumber",
    "destnumber",
    "downloadip",
    "recordfilename",
    "companycode",
    "type",
    "id",
    "extnumber",
    "uuid",
    "userkey",
    "customuuid",
]
INT_KEYS = {
    "callmethod",
    "duration",
    "billsec",
    "hangupdirection",
    "hangupcause",
    "companycode",
    "id",
}
START = datetime(2018, 3, 14, 4, 18, 21, tzinfo=UTC)


async def test_record_and_list(container: Container, tenant: Tenant, other: Tenant) -> None:
    caller = await caller_of(container, tenant.code)
    first = call_record(caller, START)
    second = call_record(caller, START + timedelta(minutes=1), recordfilename="x/y.wav")
    first_id = await container.cdrs.record(first)
    second_id = await container.cdrs.record(second)
    theirs = await caller_of(container, other.code)
    await container.cdrs.record(call_record(theirs, START))
    assert second_id > first_id

    listed = await container.cdrs.list_for_company(tenant.code)
    assert listed == [
        StoredCallRecord(second_id, second, None),
        StoredCallRecord(first_id, first, None),
    ]
    assert [r.id for r in await container.cdrs.list_for_company(tenant.code, limit=1)] == [
        second_id
    ]
    assert [r.id for r in await container.cdrs.list_for_company(tenant.code, 1, 1)] == [first_id]
    assert await container.cdrs.list_for_company(tenant.code, 10, 2) == []
    assert len(await container.cdrs.list_for_company(other.code)) == 1


async def test_recording_a_uuid_twice_keeps_the_first(container: Container, tenant: Tenant) -> None:
    caller = await caller_of(container, tenant.code)
    original = call_record(caller, START)
    first_id = await container.cdrs.record(original)
    changed = call_record(caller, START, uuid=original.uuid, billsec=5, userkey="3")
    assert await container.cdrs.record(changed) == first_id
    assert await container.cdrs.record(original) == first_id
    listed = await container.cdrs.list_for_company(tenant.code)
    assert [r.record for r in listed] == [original]


async def test_records_stored_together_share_a_transaction_and_keep_their_own_fate(
    container: Container, tenant: Tenant, other: Tenant
) -> None:
    caller = await caller_of(container, tenant.code)
    records = [call_record(caller, START + timedelta(seconds=i)) for i in range(30)]
    repeated = records[3]
    wrong_code = call_record(Caller(caller.company_id, other.code, "x"), START)
    outcomes = await asyncio.gather(
        *(container.cdrs.record(r) for r in [*records, repeated, wrong_code]),
        return_exceptions=True,
    )
    ids, again, refused = outcomes[:30], outcomes[30], outcomes[31]
    assert all(isinstance(i, int) for i in ids)
    assert len(set(ids)) == 30
    assert again == ids[3]
    assert isinstance(refused, InvalidInput)
    listed = await container.cdrs.list_for_company(tenant.code, limit=100)
    assert sorted(r.record.uuid for r in listed) == sorted(r.uuid for r in records)


async def test_each_record_of_a_batch_gets_its_own_row_and_id(
    container: Container, tenant: Tenant
) -> None:
    caller = await caller_of(container, tenant.code)
    records = [
        call_record(caller, START + timedelta(seconds=i), billsec=i, userkey=str(i % 10))
        for i in range(20)
    ]
    ids = await asyncio.gather(*(container.cdrs.record(r) for r in records))
    assert ids == sorted(ids)  # stored in the order they came
    listed = await container.cdrs.list_for_company(tenant.code, limit=100)
    assert {row.id: row for row in listed} == {
        i: StoredCallRecord(i, r, None) for i, r in zip(ids, records, strict=True)
    }


async def test_a_batch_with_a_uuid_stored_elsewhere_stores_the_others(
    container: Container, tenant: Tenant
) -> None:
    caller = await caller_of(container, tenant.code)
    records = [call_record(caller, START + timedelta(seconds=i)) for i in range(5)]
    # Another process (its own service) stored one of them first.
    elsewhere = CdrService(container.db)
    first_id = await elsewhere.record(records[2])
    ids = await asyncio.gather(*(container.cdrs.record(r) for r in records))
    assert ids[2] == first_id
    assert len(set(ids)) == 5
    listed = await container.cdrs.list_for_company(tenant.code, limit=100)
    assert {row.id: row.record for row in listed} == dict(zip(ids, records, strict=True))


async def test_the_hook_sees_each_new_record_in_its_transaction(
    container: Container, tenant: Tenant
) -> None:
    seen: list[tuple[StoredCallRecord, int]] = []

    async def hook(session: AsyncSession, stored: StoredCallRecord) -> None:
        count = await session.scalar(select(func.count()).where(CallRecordRow.id == stored.id))
        seen.append((stored, count or 0))
        if stored.record.userkey == "9":
            raise RuntimeError("hook failed")

    cdrs = CdrService(container.db, hook)
    caller = await caller_of(container, tenant.code)
    records = [call_record(caller, START + timedelta(seconds=i)) for i in range(3)]
    ids = await asyncio.gather(*(cdrs.record(r) for r in [*records, records[0]]))
    assert ids[3] == ids[0]
    assert seen == [(StoredCallRecord(i, r, None), 1) for i, r in zip(ids, records, strict=False)]

    seen.clear()
    failing = call_record(caller, START, userkey="9")
    with pytest.raises(RuntimeError, match="hook failed"):
        await cdrs.record(failing)
    assert [stored.record for stored, _ in seen] == [failing]
    listed = await container.cdrs.list_for_company(tenant.code, limit=100)
    assert failing.uuid not in {row.record.uuid for row in listed}  # rolled back with it


async def test_seed_payload_has_the_seeds_fields_and_types(
    container: Container, tenant: Tenant
) -> None:
    caller = await caller_of(container, tenant.code)
    rec = call_record(
        caller,
        START,
        uuid="cda5c6c4-0a17-11e8-b177-e7cbf2bd1f36",
        userkey="1",
        recordfilename="20180314/cda5c6c4-0a17-11e8-b177-e7cbf2bd1f36.wav",
        downloadip="120.76.152.137",
    )
    cdr_id = await container.cdrs.record(rec)
    [row] = await container.cdrs.list_for_company(tenant.code)
    payload = record_body(row, TimeFormat("Asia/Shanghai"))
    assert list(payload) == SEED_KEYS
    assert payload == {
        "callmethod": 3,
        "starttime": "2018-03-14 12:18:21",
        "answertime": "2018-03-14 12:18:31",
        "endtime": "2018-03-14 12:18:51",
        "duration": 30,
        "billsec": 20,
        "crmid": "2001",
        "hangupdirection": 10040,
        "chengshudu": "0",
        "hangupcause": 10001,
        "memberid": "18533700187590656",
        "disnumber": "02566823420",
        "destnumber": "015029913692",
        "downloadip": "120.76.152.137",
        "recordfilename": "20180314/cda5c6c4-0a17-11e8-b177-e7cbf2bd1f36.wav",
        "companycode": tenant.code,
        "type": "callout",
        "id": cdr_id,
        "extnumber": "8001",
        "uuid": "cda5c6c4-0a17-11e8-b177-e7cbf2bd1f36",
        "userkey": "1",
        "customuuid": "cust-1",
    }
    for key, value in payload.items():
        assert type(value) is (int if key in INT_KEYS else str), key


async def test_unanswered_call(container: Container, tenant: Tenant) -> None:
    caller = await caller_of(container, tenant.code)
    rec = call_record(
        caller,
        START,
        answertime=None,
        endtime=START + timedelta(seconds=14),
        duration=14,
        billsec=0,
        end_reason=EndReason.REQUEST_TIMEOUT,
        ended_by=Party.CALLEE,
        kind=CallKind.TWO_WAY,
        crmid="",
    )
    await container.cdrs.record(rec)
    [row] = await container.cdrs.list_for_company(tenant.code)
    payload = record_body(row, TimeFormat("UTC"))
    assert payload["answertime"] == ""
    assert payload["starttime"] == "2018-03-14 04:18:21"
    assert payload["endtime"] == "2018-03-14 04:18:35"
    assert (payload["duration"], payload["billsec"]) == (14, 0)
    assert (payload["hangupcause"], payload["hangupdirection"]) == (10015, 10041)
    assert (payload["callmethod"], payload["type"], payload["crmid"]) == (4, "callout", "")
    assert row.record.end_reason is EndReason.REQUEST_TIMEOUT
    assert row.record.kind is CallKind.TWO_WAY


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"uuid": ""}, "uuid"),
        ({"uuid": "../x"}, "uuid"),
        ({"q850_cause": 0}, "q850_cause"),
        ({"q850_cause": 128}, "q850_cause"),
        ({"starttime": datetime(2018, 3, 14)}, "starttime"),
        ({"endtime": START - timedelta(seconds=1)}, "endtime"),
        ({"answertime": START + timedelta(hours=1)}, "answertime"),
        ({"duration": -1}, "duration"),
        ({"crmid": "x" * 256}, "crmid"),
        ({"userkey": "1" * 33}, "userkey"),
    ],
)
async def test_invalid_records_are_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        call_record(Caller(1, 1001, "acme"), START, **changes)
    assert raised.value.field == field


async def test_record_checks_the_company(container: Container, tenant: Tenant) -> None:
    caller = await caller_of(container, tenant.code)
    with pytest.raises(InvalidInput, match="companycode"):
        await container.cdrs.record(call_record(caller, START, companycode=tenant.code + 1))
    with pytest.raises(NotFound):
        await container.cdrs.record(call_record(caller, START, company_id=caller.company_id + 99))
    assert await container.cdrs.list_for_company(tenant.code) == []


async def test_record_checks_the_company_of_a_company_seen_before(
    container: Container, tenant: Tenant, other: Tenant
) -> None:
    caller = await caller_of(container, tenant.code)
    theirs = await caller_of(container, other.code)
    await container.cdrs.record(call_record(caller, START))
    await container.cdrs.record(call_record(theirs, START))
    outcomes = await asyncio.gather(
        container.cdrs.record(call_record(caller, START, companycode=other.code)),
        container.cdrs.record(call_record(theirs, START, companycode=tenant.code)),
        container.cdrs.record(call_record(caller, START, company_id=theirs.company_id + 99)),
        container.cdrs.record(call_record(caller, START)),
        return_exceptions=True,
    )
    assert [type(o) for o in outcomes] == [InvalidInput, InvalidInput, NotFound, int]
    assert len(await container.cdrs.list_for_company(tenant.code)) == 2
    assert len(await container.cdrs.list_for_company(other.code)) == 1


async def test_list_arguments(container: Container, tenant: Tenant) -> None:
    for limit, offset in ((0, 0), (1001, 0), (10, -1)):
        with pytest.raises(InvalidInput):
            await container.cdrs.list_for_company(tenant.code, limit, offset)
    with pytest.raises(NotFound):
        await container.cdrs.list_for_company(4242)


async def test_admin_api(http: httpx.AsyncClient, container: Container, tenant: Tenant) -> None:
    caller = await caller_of(container, tenant.code)
    ids = [
        await container.cdrs.record(call_record(caller, START + timedelta(minutes=i)))
        for i in range(3)
    ]
    base = f"/admin/companies/{tenant.code}/cdrs"
    listed = (await http.get(base, headers=AUTH)).json()
    assert [c["id"] for c in listed] == ids[::-1]
    assert list(listed[0]) == SEED_KEYS
    assert listed[-1]["starttime"] == "2018-03-14 04:18:21"  # the server's zone: UTC here
    [row] = await container.cdrs.list_for_company(tenant.code, 1, 1)
    page = (await http.get(base, params={"limit": 1, "offset": 1}, headers=AUTH)).json()
    assert page == [record_body(row, TimeFormat("UTC"))]
    assert (await http.get(base, params={"limit": 0}, headers=AUTH)).status_code == 422
    assert (await http.get(base, params={"offset": -1}, headers=AUTH)).status_code == 422
    assert (await http.get("/admin/companies/4242/cdrs", headers=AUTH)).status_code == 404
    assert (await http.get(base)).status_code == 401
