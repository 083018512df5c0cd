"""Every extension's SIP credentials in memory, for the SIP thread."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from callyard.services.directory import Directory
from callyard.store.database import Database
from callyard.store.models import Extension
from callyard.switch.registrar import Account

log = logging.getLogger("callyard.switch.accounts")


class AccountBook:
    """A snapshot of all extensions, replaced whole when the store's revision moves.

    The SIP thread only reads `lookup`, which sees either the old or the new snapshot.
    """

    def __init__(self, db: Database, directory: Directory) -> None:
        self._db = db
        self._directory = directory
        self._accounts: dict[str, Account] = {}
        self._revision: int | None = None

    def lookup(self, number: str) -> Account | None:
        return self._accounts.get(number)

    async def reload(self) -> None:
        revision = await self._directory.revision()
        async with self._db.transaction() as session:
            rows = (
                await session.execute(
                    select(
                        Extension.number,
                        Extension.company_id,
                        Extension.password,
                        Extension.enabled,
                    )
                )
            ).all()
        self._accounts = {
            number: Account(number, company_id, password, enabled)
            for number, company_id, password, enabled in rows
        }
        self._revision = revision

    async def watch(self, interval: float = 0.5) -> None:
        """Reload whenever the store changes; runs until cancelled."""
        while True:
            try:
                if await self._directory.revision() != self._revision:
                    await self.reload()
            except Exception:
                log.exception("reloading SIP accounts failed")
            await asyncio.sleep(interval)
