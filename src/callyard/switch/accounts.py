"""Every extension's SIP credentials in memory, handed to the SIP process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import select

from callyard.services.directory import Directory
from callyard.store.database import Database
from callyard.store.models import Extension
from callyard.switch.registrar import Account

log = logging.getLogger("callyard.switch.accounts")


class AccountBook:
    """A snapshot of all extensions, replaced whole when they change (looked at when the
    store's revision moves); `on_change` gets every new snapshot (never changed
    afterwards)."""

    def __init__(
        self,
        db: Database,
        directory: Directory,
        on_change: Callable[[dict[str, Account]], None] | None = None,
    ) -> None:
        self._db = db
        self._directory = directory
        self._on_change = on_change
        self._accounts: dict[str, Account] = {}
        self._revision: int | None = None

    def lookup(self, number: str) -> Account | None:
        return self._accounts.get(number)

    def snapshot(self) -> dict[str, Account]:
        return self._accounts

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
        accounts = {
            number: Account(number, company_id, password, enabled)
            for number, company_id, password, enabled in rows
        }
        self._revision = revision
        # The revision also moves for tokens, trunks and numbers: only a change of the
        # extensions goes to the SIP process.
        if accounts != self._accounts:
            self._accounts = accounts
            if self._on_change is not None:
                self._on_change(accounts)

    async def watch(self, interval: float = 0.5) -> None:
        """Reload whenever the store changes; runs until cancelled."""
        while True:
            try:
                if await self._directory.revision() != self._revision:
                    await self.reload()
            except Exception:
                log.exception("reloading SIP accounts failed")
            await asyncio.sleep(interval)
