"""Noticing changes made by other processes through a `store_revision` counter row."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.store.models import StoreRevision


async def bump(session: AsyncSession, row_id: int) -> None:
    """Move a counter, inside the write transaction whose change it announces."""
    await session.execute(
        update(StoreRevision)
        .where(StoreRevision.id == row_id)
        .values(value=StoreRevision.value + 1)
    )


class RevisionWatch:
    """Reads one counter row at most every `poll_interval` seconds and calls `on_change`
    when it moved. Caches built on it are fresh while :meth:`fresh` holds."""

    def __init__(
        self,
        row_id: int,
        clock: Clock,
        on_change: Callable[[], None],
        poll_interval: float = 0.5,
    ) -> None:
        self._row_id = row_id
        self._clock = clock
        self._on_change = on_change
        self._poll_interval = poll_interval
        self._revision: int | None = None
        self._checked_at = float("-inf")
        self._checking = asyncio.Lock()

    def fresh(self) -> bool:
        """Whether the counter was read within the poll interval."""
        return self._clock.monotonic() - self._checked_at < self._poll_interval

    def checking(self) -> bool:
        """Whether a read of the counter is under way (meanwhile caches may be used)."""
        return self._checking.locked()

    def expire(self) -> None:
        """Read the counter again on the next check."""
        self._checked_at = float("-inf")

    async def check(self, session: AsyncSession) -> None:
        """Read the counter unless fresh; `on_change` runs when it moved."""
        if self.fresh():
            return
        async with self._checking:
            if self.fresh():
                return
            revision = await session.scalar(
                select(StoreRevision.value).where(StoreRevision.id == self._row_id)
            )
            if revision != self._revision:
                self._on_change()
                self._revision = revision
            self._checked_at = self._clock.monotonic()
