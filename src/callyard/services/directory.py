"""An in-memory read model of companies, extensions and tokens for the hot path.

Every request needs its token's company, and most need the company's extensions;
reading those from the database each time would cost more than the rest of the
request. The directory keeps them in memory and drops everything when the store's
revision counter moves: at once for changes made in this process, within
`poll_interval` for changes made by the CLI or another process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.store.database import Database
from callyard.store.models import ApiToken, Company, Extension, StoreRevision
from callyard.store.revision import RevisionWatch, bump

REVISION_ROW = 1
# Look-ups that may miss (a dialed number that is no extension) are remembered as
# misses too; past this many entries a cache starts over, so no caller can grow it
# without bound.
MAX_ENTRIES = 50_000


class _Missing:
    """A remembered miss."""


_MISSING = _Missing()


@dataclass(frozen=True)
class CompanyEntry:
    id: int
    code: int
    name: str
    authorized_at: datetime
    expires_at: datetime | None
    allowed_cidrs: tuple[str, ...]
    disabled_capabilities: frozenset[str]
    timezone: str | None = None  # None: the server's

    @classmethod
    def of(cls, row: Company) -> CompanyEntry:
        return cls(
            row.id,
            row.code,
            row.name,
            row.authorized_at,
            row.expires_at,
            tuple(row.allowed_cidrs),
            frozenset(row.disabled_modules),
            row.timezone,
        )


@dataclass(frozen=True)
class ExtensionEntry:
    company_id: int
    number: str
    password: str
    enabled: bool


@dataclass(frozen=True)
class TokenEntry:
    company_id: int
    expires_at: datetime
    audience: str  # a TokenAudience


async def bump_revision(session: AsyncSession) -> None:
    """Mark, inside a write transaction, that cached directory data is stale."""
    await bump(session, REVISION_ROW)


K = TypeVar("K")
V = TypeVar("V")


class Directory:
    """Cached look-ups, each falling back to the database on a miss."""

    def __init__(self, db: Database, clock: Clock, poll_interval: float = 0.5) -> None:
        self._db = db
        self._clock = clock
        self._watch = RevisionWatch(REVISION_ROW, clock, self.invalidate, poll_interval)
        self._generation = 0
        self._companies: dict[int, CompanyEntry] = {}
        self._company_extensions: dict[int, tuple[ExtensionEntry, ...]] = {}
        self._extensions: dict[str, ExtensionEntry] = {}
        self._tokens: dict[str, TokenEntry] = {}
        self._shared: dict[str, dict[Any, Any]] = {}

    @asynccontextmanager
    async def changing(self) -> AsyncIterator[AsyncSession]:
        """A write transaction that marks cached data stale, in the store and here."""
        async with self._db.writing() as session:
            await bump_revision(session)
            yield session
        self.invalidate()

    async def revision(self) -> int:
        """The store's change counter."""
        async with self._db.transaction() as session:
            value = await session.scalar(
                select(StoreRevision.value).where(StoreRevision.id == REVISION_ROW)
            )
        return int(value or 0)

    def invalidate(self) -> None:
        """Forget everything; call after this process committed a change."""
        self._generation += 1
        for cache in (self._companies, self._company_extensions, self._extensions, self._tokens):
            cache.clear()
        self._shared.clear()
        self._watch.expire()

    def _recent(self) -> bool:
        return self._watch.fresh()

    async def _get(
        self,
        cache: dict[K, V],
        key: K,
        load: Callable[[AsyncSession], Awaitable[V | None]],
        *,
        keep_misses: bool = False,
    ) -> V | None:
        """The cached value of `key`, loaded on a miss. With `keep_misses`, a load that
        finds nothing is remembered too (only for data whose every change goes
        through :meth:`changing`)."""
        if self._recent() or self._watch.checking():
            # While one request re-reads the revision, the others keep using the cache.
            hit = cache.get(key)
            if hit is not None:
                return None if hit is _MISSING else hit
        async with self._db.transaction() as session:
            await self._watch.check(session)
            hit = cache.get(key)
            if hit is not None:
                return None if hit is _MISSING else hit
            generation = self._generation
            value = await load(session)
        if generation == self._generation and (value is not None or keep_misses):
            if len(cache) >= MAX_ENTRIES:
                cache.clear()
            cache[key] = cast(V, _MISSING) if value is None else value
        return value

    async def cached(
        self, namespace: str, key: Hashable, load: Callable[[AsyncSession], Awaitable[V | None]]
    ) -> V | None:
        """A read-through cache for other services' data (trunks, caller IDs): `load`
        runs on a miss and its result, None included, is kept until the store's
        revision moves. Only for data whose every change goes through
        :meth:`changing`."""
        cache = cast(dict[Hashable, V], self._shared.setdefault(namespace, {}))
        return await self._get(cache, key, load, keep_misses=True)

    async def token(self, token_hash: str) -> TokenEntry | None:
        """The company and expiry of a token, by its digest."""

        async def load(session: AsyncSession) -> TokenEntry | None:
            row = (
                await session.execute(
                    select(ApiToken.company_id, ApiToken.expires_at, ApiToken.audience).where(
                        ApiToken.token_hash == token_hash
                    )
                )
            ).first()
            return TokenEntry(row[0], row[1], row[2]) if row else None

        return await self._get(self._tokens, token_hash, load)

    def forget_token(self, token_hash: str) -> None:
        self._tokens.pop(token_hash, None)

    async def company(self, company_id: int) -> CompanyEntry | None:
        async def load(session: AsyncSession) -> CompanyEntry | None:
            row = await session.get(Company, company_id)
            return CompanyEntry.of(row) if row else None

        return await self._get(self._companies, company_id, load)

    async def extensions_of(self, company_id: int) -> tuple[ExtensionEntry, ...]:
        """A company's extensions, ordered by number."""

        async def load(session: AsyncSession) -> tuple[ExtensionEntry, ...]:
            rows = await session.scalars(
                select(Extension)
                .where(Extension.company_id == company_id)
                .order_by(Extension.number)
            )
            return tuple(entry_of(row) for row in rows)

        return await self._get(self._company_extensions, company_id, load) or ()

    async def extension(self, number: str) -> ExtensionEntry | None:
        """Any company's extension by number (numbers are unique platform-wide)."""

        async def load(session: AsyncSession) -> ExtensionEntry | None:
            row = await session.scalar(select(Extension).where(Extension.number == number))
            return entry_of(row) if row else None

        return await self._get(self._extensions, number, load, keep_misses=True)


def entry_of(row: Extension) -> ExtensionEntry:
    return ExtensionEntry(row.company_id, row.number, row.password, row.enabled)
