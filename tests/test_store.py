"""Migrations match the models; the directory sees changes made by another process."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection

from callyard.clock import SystemClock
from callyard.config import Settings
from callyard.container import Container
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
        await cli.extensions.create(created.companycode, ["7001"], "password1")
        company = await server.companies.get(created.companycode)
        caller = Caller(await _company_id(server, company.code), company.code, company.name)
        before = await server.extensions.info(caller, StatusFilter.ALL, None)
        assert [(e.number, e.enabled) for e in before] == [("7001", True)]

        await cli.extensions.set_enabled(created.companycode, ["7001"], False)
        # Within the poll interval the server may still answer from memory...
        server.directory._checked_at = float("-inf")  # ...so let the interval pass.
        after = await server.extensions.info(caller, StatusFilter.ALL, None)
        assert [(e.number, e.enabled) for e in after] == [("7001", False)]
    finally:
        await server.close()
        await cli.close()


async def _company_id(container: Container, code: int) -> int:
    async with container.db.transaction() as session:
        found = await session.scalar(select(Company.id).where(Company.code == code))
    assert found is not None
    return found
