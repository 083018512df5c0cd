"""Schema migrations, applied on server start and by `callyard db upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from callyard.store.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(database: Database, revision: str = "head") -> str | None:
    """Bring the schema up to `revision`; returns the revision now applied."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)
    async with database.engine.connect() as connection:
        return await connection.run_sync(_current)


async def downgrade(database: Database, revision: str) -> str | None:
    """Take the schema back to `revision` (rows converted back where they can be)."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_downgrade, revision)
    async with database.engine.connect() as connection:
        return await connection.run_sync(_current)
