"""Migrations match the models; the directory sees changes made by another process."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection

from callyard.clock import SystemClock
from callyard.config import Settings
from callyard.container import Container
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError
from callyard.services.auth import Caller
from callyard.services.extensions import StatusFilter
from callyard.store import migrate
from callyard.store.models import Base, Company


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(container: Container) -> None:
    async with container.db.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


async def test_upgrade_is_idempotent(container: Container) -> None:
    assert await migrate.upgrade(container.db) == migrate.head_revision()
    assert await migrate.upgrade(container.db) == migrate.head_revision()


async def test_changes_from_another_process_are_seen_after_the_poll_interval(
    settings: Settings,
) -> None:
    """Two containers on one database stand for the server and the CLI."""
    server = await Container.open(settings, clock=SystemClock(), upgrade_schema=False)
    cli = await Container.open(settings, clock=SystemClock(), upgrade_schema=False)
    try:
        created = await cli.companies.create("acme")
        await cli.extensions.create(created.companycode, ["7001"], "purple-hat-9")
        company = await server.companies.get(created.companycode)
        caller = Caller(await _company_id(server, company.code), company.code, company.name)
        before = await server.extensions.info(caller, StatusFilter.ALL, None)
        assert [(e.number, e.enabled) for e in before] == [("7001", True)]

        await cli.extensions.set_enabled(created.companycode, ["7001"], False)
        # Within the poll interval the server may still answer from memory...
        server.directory._watch.expire()  # ...so let the interval pass.
        after = await server.extensions.info(caller, StatusFilter.ALL, None)
        assert [(e.number, e.enabled) for e in after] == [("7001", False)]
    finally:
        await server.close()
        await cli.close()


async def test_trunks_caller_ids_and_misses_cached_by_the_server_follow_the_cli(
    settings: Settings,
) -> None:
    """What the server remembers for calls (a company's trunk, its caller IDs, that a
    dialed number is no extension) is read again once the CLI changed any of it."""
    server = await Container.open(settings, clock=SystemClock(), upgrade_schema=False)
    cli = await Container.open(settings, clock=SystemClock(), upgrade_schema=False)
    try:
        created = await cli.companies.create("acme")
        company_id = await _company_id(server, created.companycode)
        caller = Caller(company_id, created.companycode, "acme")
        assert await server.trunks.for_company(company_id) is None
        assert await server.directory.extension("7001") is None
        with pytest.raises(BusinessError) as no_number:
            await server.numbers.pick(caller, None)
        assert no_number.value.refusal is Refusal.NO_NUMBER

        await cli.trunks.add(created.companycode, "carrier", "192.0.2.10")
        await cli.numbers.add(created.companycode, "5550001")
        await cli.extensions.create(created.companycode, ["7001"], "purple-hat-9")
        server.directory._watch.expire()  # the poll interval has passed
        trunk = await server.trunks.for_company(company_id)
        assert trunk is not None
        assert trunk.host == "192.0.2.10"
        assert await server.numbers.pick(caller, None) == "5550001"
        assert await server.directory.extension("7001") is not None

        await cli.numbers.set_enabled(created.companycode, ["5550001"], False)
        server.directory._watch.expire()
        with pytest.raises(BusinessError) as disabled:
            await server.numbers.pick(caller, "5550001")
        assert disabled.value.refusal is Refusal.NUMBER_DISABLED
    finally:
        await server.close()
        await cli.close()


async def _company_id(container: Container, code: int) -> int:
    async with container.db.transaction() as session:
        found = await session.scalar(select(Company.id).where(Company.code == code))
    assert found is not None
    return found
