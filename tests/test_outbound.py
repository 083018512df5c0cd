"""Every outbound leg takes the company's trunk and shows a caller ID it may show."""

from __future__ import annotations

import pytest

from callyard.container import Container
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError
from callyard.services.outbound import OutboundLines
from tests.conftest import Tenant
from tests.factories import caller_of


async def test_a_line_is_the_trunk_showing_the_number_asked_for_or_one_of_the_pool(
    container: Container, tenant: Tenant
) -> None:
    caller = await caller_of(container, tenant.code)
    lines = OutboundLines(container.trunks, container.numbers)
    with pytest.raises(BusinessError) as no_trunk:
        await lines.line(caller)
    assert no_trunk.value.refusal is Refusal.NO_TRUNK

    await container.trunks.add(tenant.code, "carrier", "192.0.2.10")
    with pytest.raises(BusinessError) as no_number:
        await lines.line(caller)
    assert no_number.value.refusal is Refusal.NO_NUMBER

    await container.numbers.add(tenant.code, "5550001")
    await container.numbers.add(tenant.code, "5550002")
    asked = await lines.line(caller, "5550002")
    target = asked.to("628123", 30.0)
    assert (target.address, target.user, target.caller_id) == (
        ("192.0.2.10", 5060),
        "628123",
        "5550002",
    )
    assert (await lines.line(caller)).caller_id in {"5550001", "5550002"}
