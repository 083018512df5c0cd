"""Each company's webhook settings: URLs, signing secret, on/off; cached for the hot path.

Besides the call-state and call-record URLs, a company may set a URL per kind of push of
an API dialect (`push_urls`); the dialect names its kinds, the composition root passes
them here.

Every call event asks whether its company wants it, so the answer is kept in memory.
Changes made here are seen at once; changes made by another process (the CLI, another
server) bump the webhook row of `store_revision` and are seen within `poll_interval`,
as the directory does for companies and extensions.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.errors import InvalidInput
from callyard.store.database import Database
from callyard.store.lookups import company_by_code
from callyard.store.models import PushUrl, WebhookSettingsRow
from callyard.store.revision import RevisionWatch, bump

WEBHOOK_REVISION_ROW = 2
MAX_URL = 2048


class EventKind(StrEnum):
    """What a webhook event carries; also the `X-Callyard-Event` header."""

    CALL_STATE = "call_state"
    CALL_RECORD = "call_record"


def check_url(value: str, field: str) -> str:
    """An absolute http(s) URL with a host, at most 2048 characters."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(field, f"expected http(s)://HOST[:PORT]/PATH, got {value!r}")
    if len(value) > MAX_URL or any(c.isspace() or not c.isprintable() for c in value):
        raise InvalidInput(field, "must be at most 2048 printable characters without spaces")
    return value


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(32)


@dataclass(frozen=True)
class WebhookTargets:
    """What delivery needs of a company's settings (the cached read model)."""

    company_id: int
    call_state_url: str | None
    cdr_url: str | None
    enabled: bool
    secret: str
    # Push kind -> URL; a read-only copy, left out of the hash (a mapping has none).
    pushes: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pushes", MappingProxyType(dict(self.pushes)))

    def url_for(self, kind: EventKind) -> str | None:
        """Where events of this kind go now; None when they are not wanted."""
        if not self.enabled:
            return None
        return self.call_state_url if kind is EventKind.CALL_STATE else self.cdr_url

    def push_url(self, kind: str) -> str | None:
        """Where pushes of this kind go now; None when they are not wanted."""
        if not self.enabled:
            return None
        return self.pushes.get(kind)


@dataclass(frozen=True)
class WebhookView:
    """A company's settings as the admin sees them; `secret` only when just made."""

    company_code: int
    call_state_url: str | None
    cdr_url: str | None
    enabled: bool
    secret_created_at: datetime | None
    updated_at: datetime | None
    secret: str | None = None
    pushes: dict[str, str] = field(default_factory=dict, hash=False)  # by kind


def _view(
    code: int,
    row: WebhookSettingsRow | None,
    pushes: Mapping[str, str],
    secret: str | None = None,
) -> WebhookView:
    ordered = dict(sorted(pushes.items()))
    if row is None:
        return WebhookView(code, None, None, False, None, None, pushes=ordered)
    return WebhookView(
        code,
        row.call_state_url,
        row.cdr_url,
        row.enabled,
        row.secret_created_at,
        row.updated_at,
        secret,
        ordered,
    )


async def _push_urls(session: AsyncSession, company_id: int) -> dict[str, str]:
    rows = await session.execute(
        select(PushUrl.kind, PushUrl.url).where(PushUrl.company_id == company_id)
    )
    return {kind: url for kind, url in rows}


class WebhookSettingsService:
    """Reads and changes webhook settings; `targets` answers from memory."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        poll_interval: float = 0.5,
        push_kinds: Iterable[str] = (),
    ) -> None:
        self._db = db
        self._clock = clock
        self._push_kinds = frozenset(push_kinds)
        self._watch = RevisionWatch(WEBHOOK_REVISION_ROW, clock, self.invalidate, poll_interval)
        self._generation = 0
        self._cache: dict[int, WebhookTargets | None] = {}

    async def get(self, company_code: int) -> WebhookView:
        """The settings of a company (never its secret)."""
        async with self._db.transaction() as session:
            company = await company_by_code(session, company_code)
            row = await session.get(WebhookSettingsRow, company.id)
            return _view(company.code, row, await _push_urls(session, company.id))

    async def update(
        self,
        company_code: int,
        *,
        call_state_url: str | None = None,
        cdr_url: str | None = None,
        enabled: bool | None = None,
        rotate_secret: bool = False,
        pushes: Mapping[str, str] | None = None,
    ) -> WebhookView:
        """Change what is given: a URL (`""` removes it), on/off, a new secret, a URL per
        push kind (`""` removes that kind's). The first change creates the settings,
        enabled unless told otherwise, with a secret; the secret is in the answer only
        when it was created or rotated."""
        state = None if call_state_url is None else self._url(call_state_url, "call_state_url")
        cdr = None if cdr_url is None else self._url(cdr_url, "cdr_url")
        push_changes = self._push_changes(pushes or {})
        now = self._clock.now()
        async with self._changing() as session:
            company = await company_by_code(session, company_code)
            row = await session.get(WebhookSettingsRow, company.id)
            secret = None
            if row is None:
                secret = new_secret()
                row = WebhookSettingsRow(
                    company_id=company.id,
                    call_state_url=None,
                    cdr_url=None,
                    secret=secret,
                    enabled=True,
                    secret_created_at=now,
                    updated_at=now,
                )
                session.add(row)
            elif rotate_secret:
                secret = row.secret = new_secret()
                row.secret_created_at = now
            if call_state_url is not None:
                row.call_state_url = state
            if cdr_url is not None:
                row.cdr_url = cdr
            if enabled is not None:
                row.enabled = enabled
            row.updated_at = now
            for kind, url in push_changes.items():
                await self._set_push(session, company.id, kind, url, now)
            await session.flush()
            return _view(company.code, row, await _push_urls(session, company.id), secret)

    async def rotate_secret(self, company_code: int) -> WebhookView:
        """A new signing secret, shown this once; the old one stops at once."""
        return await self.update(company_code, rotate_secret=True)

    @staticmethod
    def _url(value: str, field: str) -> str | None:
        return check_url(value, field) if value.strip() else None

    def _push_changes(self, pushes: Mapping[str, str]) -> dict[str, str | None]:
        """Each push kind's new URL (None removes it), every kind known and URL valid."""
        changes: dict[str, str | None] = {}
        for kind, url in pushes.items():
            if kind not in self._push_kinds:
                offered = ", ".join(sorted(self._push_kinds))
                known = f"one of {offered}" if offered else "none are offered"
                raise InvalidInput("push", f"unknown push kind {kind!r}; {known}")
            changes[kind] = self._url(url, kind)
        return changes

    @staticmethod
    async def _set_push(
        session: AsyncSession, company_id: int, kind: str, url: str | None, now: datetime
    ) -> None:
        if url is None:
            await session.execute(
                delete(PushUrl).where(PushUrl.company_id == company_id, PushUrl.kind == kind)
            )
            return
        row = await session.get(PushUrl, (company_id, kind))
        if row is None:
            session.add(PushUrl(company_id=company_id, kind=kind, url=url, updated_at=now))
        else:
            row.url = url
            row.updated_at = now

    @asynccontextmanager
    async def _changing(self) -> AsyncIterator[AsyncSession]:
        """A write transaction that marks cached settings stale, in the store and here."""
        async with self._db.writing() as session:
            await bump(session, WEBHOOK_REVISION_ROW)
            yield session
        self.invalidate()

    def invalidate(self) -> None:
        """Forget cached settings; call after this process committed a change."""
        self._generation += 1
        self._cache.clear()
        self._watch.expire()

    async def targets(
        self, company_id: int, session: AsyncSession | None = None
    ) -> WebhookTargets | None:
        """The company's current settings, from memory when fresh; None if it has none.
        Pass the open session when inside a transaction."""
        if (self._watch.fresh() or self._watch.checking()) and company_id in self._cache:
            return self._cache[company_id]
        if session is not None:
            return await self._load(session, company_id)
        async with self._db.transaction() as own:
            return await self._load(own, company_id)

    async def _load(self, session: AsyncSession, company_id: int) -> WebhookTargets | None:
        await self._watch.check(session)
        if company_id in self._cache:
            return self._cache[company_id]
        generation = self._generation
        row = (
            await session.execute(
                select(
                    WebhookSettingsRow.call_state_url,
                    WebhookSettingsRow.cdr_url,
                    WebhookSettingsRow.enabled,
                    WebhookSettingsRow.secret,
                ).where(WebhookSettingsRow.company_id == company_id)
            )
        ).first()
        value = None
        if row is not None:
            pushes = await _push_urls(session, company_id)
            value = WebhookTargets(company_id, row[0], row[1], row[2], row[3], pushes)
        if generation == self._generation:
            self._cache[company_id] = value
        return value
