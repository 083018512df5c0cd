"""Caller-ID numbers: administration, and the choice of caller ID for each call."""

from __future__ import annotations

import httpx
import pytest

from callyard.api.dialects.sip_api.code_tables import Code
from callyard.api.dialects.sip_api.codes import REFUSALS
from callyard.container import Container
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, Conflict, InvalidInput, NotFound
from callyard.services.numbers import NumberView
from tests.conftest import ADMIN_KEY, Tenant
from tests.factories import caller_of

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
UNROUTED = {"route_extension": None, "route_group": None}


async def test_add_list_enable_disable(container: Container, tenant: Tenant) -> None:
    numbers = container.numbers
    assert await numbers.add(tenant.code, " 02566823420 ") == NumberView("02566823420", True)
    assert await numbers.add(tenant.code, "+8613800138000", enabled=False) == NumberView(
        "+8613800138000", False
    )
    assert await numbers.add(tenant.code, "110") == NumberView("110", True)
    assert await numbers.list_all(tenant.code) == [
        NumberView("+8613800138000", False),
        NumberView("02566823420", True),
        NumberView("110", True),
    ]
    changed = await numbers.set_enabled(tenant.code, ["110", "+8613800138000"], True)
    assert changed == [NumberView("+8613800138000", True), NumberView("110", True)]
    changed = await numbers.set_enabled(tenant.code, ["02566823420"], False)
    assert changed == [NumberView("02566823420", False)]


@pytest.mark.parametrize(
    "number", ["12", "1" * 21, "+", "++123", "12a45", "123-456", "", "+ 123", "１２３"]
)
async def test_malformed_numbers_are_refused(
    container: Container, tenant: Tenant, number: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await container.numbers.add(tenant.code, number)
    assert raised.value.field == "number"


async def test_numbers_are_unique_across_companies(
    container: Container, tenant: Tenant, other: Tenant
) -> None:
    await container.numbers.add(tenant.code, "02566823420")
    with pytest.raises(Conflict, match="02566823420"):
        await container.numbers.add(other.code, "02566823420")
    with pytest.raises(Conflict):
        await container.numbers.add(tenant.code, "02566823420")
    assert await container.numbers.list_all(other.code) == []


async def test_set_enabled_is_all_or_none_and_scoped_to_the_company(
    container: Container, tenant: Tenant, other: Tenant
) -> None:
    await container.numbers.add(tenant.code, "5550001")
    await container.numbers.add(other.code, "5550002")
    with pytest.raises(NotFound, match="5550002"):
        await container.numbers.set_enabled(tenant.code, ["5550001", "5550002"], False)
    assert await container.numbers.list_all(tenant.code) == [NumberView("5550001", True)]
    assert await container.numbers.list_all(other.code) == [NumberView("5550002", True)]
    with pytest.raises(NotFound):
        await container.numbers.add(4242, "5550003")
    with pytest.raises(InvalidInput):
        await container.numbers.set_enabled(tenant.code, [], False)


async def test_pick_a_given_number(container: Container, tenant: Tenant, other: Tenant) -> None:
    caller = await caller_of(container, tenant.code)
    await container.numbers.add(tenant.code, "5550001")
    await container.numbers.add(tenant.code, "5550002", enabled=False)
    await container.numbers.add(other.code, "5550009")

    assert await container.numbers.pick(caller, "5550001") == "5550001"
    assert await container.numbers.pick(caller, " 5550001 ") == "5550001"

    async def refusal_of(disnumber: str) -> Refusal:
        with pytest.raises(BusinessError) as raised:
            await container.numbers.pick(caller, disnumber)
        assert disnumber.strip() in raised.value.desc
        return raised.value.refusal

    assert await refusal_of("5550002") is Refusal.NUMBER_DISABLED  # 1019
    assert await refusal_of("5559999") is Refusal.NUMBER_NOT_FOUND  # 1020
    assert await refusal_of("5550009") is Refusal.NUMBER_FOREIGN  # 1021
    assert [
        REFUSALS[r].value
        for r in (Refusal.NUMBER_DISABLED, Refusal.NUMBER_NOT_FOUND, Refusal.NUMBER_FOREIGN)
    ] == [
        1019,
        1020,
        1021,
    ]


async def test_blank_picks_an_enabled_number_at_random(
    container: Container, tenant: Tenant, other: Tenant
) -> None:
    caller = await caller_of(container, tenant.code)
    for number, enabled in (("5550001", True), ("5550002", True), ("5550003", False)):
        await container.numbers.add(tenant.code, number, enabled=enabled)
    await container.numbers.add(other.code, "5550009")

    picked = [await container.numbers.pick(caller, blank) for blank in [None, "", " "] * 40]
    # 120 fair draws between two numbers: missing one has a chance of 2**-119.
    assert set(picked) == {"5550001", "5550002"}


async def test_no_enabled_number_is_1020(container: Container, tenant: Tenant) -> None:
    caller = await caller_of(container, tenant.code)
    for disnumber in (None, ""):
        with pytest.raises(BusinessError) as raised:
            await container.numbers.pick(caller, disnumber)
        assert raised.value.refusal is Refusal.NO_NUMBER
        assert REFUSALS[raised.value.refusal] is Code.NUMBER_NOT_FOUND
        assert raised.value.desc == "The company has no enabled caller ID number"
    await container.numbers.add(tenant.code, "5550001", enabled=False)
    with pytest.raises(BusinessError, match="no enabled caller ID"):
        await container.numbers.pick(caller, None)
    await container.numbers.set_enabled(tenant.code, ["5550001"], True)
    assert await container.numbers.pick(caller, None) == "5550001"


async def test_admin_api(http: httpx.AsyncClient, tenant: Tenant, other: Tenant) -> None:
    base = f"/admin/companies/{tenant.code}/numbers"
    made = await http.post(base, json={"number": "+8613800138000"}, headers=AUTH)
    assert made.status_code == 201
    assert made.json() == {"number": "+8613800138000", "enabled": True, **UNROUTED}
    made = await http.post(
        base, json={"number": "02566823420", "enabled": False, **UNROUTED}, headers=AUTH
    )
    assert made.json() == {"number": "02566823420", "enabled": False, **UNROUTED}
    enabled = await http.post(f"{base}/enable", json={"numbers": ["02566823420"]}, headers=AUTH)
    assert enabled.json() == [{"number": "02566823420", "enabled": True, **UNROUTED}]
    disabled = await http.post(
        f"{base}/disable", json={"numbers": ["+8613800138000"]}, headers=AUTH
    )
    assert disabled.json() == [{"number": "+8613800138000", "enabled": False, **UNROUTED}]
    assert (await http.get(base, headers=AUTH)).json() == [
        {"number": "+8613800138000", "enabled": False, **UNROUTED},
        {"number": "02566823420", "enabled": True, **UNROUTED},
    ]

    other_base = f"/admin/companies/{other.code}/numbers"
    assert (
        await http.post(other_base, json={"number": "02566823420"}, headers=AUTH)
    ).status_code == 409
    assert (await http.post(base, json={"number": "12ab"}, headers=AUTH)).status_code == 422
    assert (
        await http.post(f"{other_base}/disable", json={"numbers": ["02566823420"]}, headers=AUTH)
    ).status_code == 404
    assert (
        await http.post(f"{base}/enable", json={"numbers": []}, headers=AUTH)
    ).status_code == 422
    assert (await http.get("/admin/companies/4242/numbers", headers=AUTH)).status_code == 404
    routed = await http.put(
        f"{base}/02566823420/route", json={"extension": tenant.extensions[0]}, headers=AUTH
    )
    assert routed.json() == {
        "number": "02566823420",
        "enabled": True,
        "route_extension": tenant.extensions[0],
        "route_group": None,
    }
    foreign = await http.put(
        f"{base}/02566823420/route", json={"extension": other.extensions[0]}, headers=AUTH
    )
    assert foreign.status_code == 404


async def test_a_numbers_route_names_one_of_the_companys_extensions_or_groups(
    container: Container, tenant: Tenant, other: Tenant
) -> None:
    numbers = container.numbers
    await numbers.add(tenant.code, "622150001")
    await container.groups.add(await caller_of(container, tenant.code), "support", True)
    first = tenant.extensions[0]
    routed = await numbers.set_route(tenant.code, "622150001", extension=first)
    assert routed == NumberView("622150001", True, route_extension=first)
    routed = await numbers.set_route(tenant.code, "622150001", group="support")
    assert routed == NumberView("622150001", True, route_group="support")
    assert await numbers.list_all(tenant.code) == [routed]
    with pytest.raises(InvalidInput):
        await numbers.set_route(tenant.code, "622150001", extension=first, group="support")
    with pytest.raises(NotFound):  # another company's extension
        await numbers.set_route(tenant.code, "622150001", extension=other.extensions[0])
    with pytest.raises(NotFound):
        await numbers.set_route(tenant.code, "622150001", group="nope")
    with pytest.raises(NotFound):  # not the company's number
        await numbers.set_route(other.code, "622150001", extension=other.extensions[0])
    assert (await numbers.list_all(tenant.code))[0].route_group == "support"  # unchanged
    cleared = await numbers.set_route(tenant.code, "622150001")
    assert cleared == NumberView("622150001", True)
