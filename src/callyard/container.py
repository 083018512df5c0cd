"""The composition root: builds every service once and passes dependencies in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from callyard.clock import Clock, SystemClock
from callyard.config import Settings
from callyard.metrics import Metrics
from callyard.services.auth import AuthService
from callyard.services.companies import CompanyService
from callyard.services.directory import Directory
from callyard.services.extensions import ExtensionService
from callyard.services.groups import GroupService
from callyard.services.presence import NoSwitch, Presence
from callyard.store import migrate
from callyard.store.database import Database


@dataclass
class Container:
    """Everything a running callyard holds."""

    settings: Settings
    clock: Clock
    db: Database
    metrics: Metrics
    presence: Presence
    directory: Directory
    companies: CompanyService
    auth: AuthService
    extensions: ExtensionService
    groups: GroupService

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        presence: Presence | None = None,
        upgrade_schema: bool = True,
    ) -> Container:
        """Connect to the store (migrating it to the current schema) and build the services."""
        clock = clock or SystemClock()
        presence = presence or NoSwitch()
        if settings.db_url is None:
            settings.ensure_data_dir()
        db = Database(settings.database_url)
        try:
            if upgrade_schema:
                await migrate.upgrade(db)
        except BaseException:
            await db.close()
            raise
        directory = Directory(db, clock)
        return cls(
            settings=settings,
            clock=clock,
            db=db,
            metrics=Metrics(),
            presence=presence,
            directory=directory,
            companies=CompanyService(db, clock, directory),
            auth=AuthService(db, clock, directory, timedelta(seconds=settings.token_ttl_seconds)),
            extensions=ExtensionService(db, clock, presence, directory),
            groups=GroupService(db, clock, presence),
        )

    async def close(self) -> None:
        await self.db.close()
