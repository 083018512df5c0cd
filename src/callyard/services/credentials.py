"""API credentials per dialect, besides App.Sip_*'s appid/accesskey: the vendor REST API's
accessKeyId/accessKeySecret (kind `vcall`, exchanged for tokens) and the robot-call API's
Api-Key and secret (kind `robot`, whose requests are signed with the secret, so it is
kept sealed with the server key rather than hashed). A company may hold several of each;
a secret is shown once, when issued, and never logged."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select

from callyard.clock import Clock
from callyard.errors import InvalidInput, NotFound
from callyard.sealing import SecretBox, Unsealable
from callyard.security import VerifiedSecrets, hash_secret, verify_secret
from callyard.services.companies import TokenAudience, revoke_tokens
from callyard.services.directory import bump_revision
from callyard.store.database import Database
from callyard.store.lookups import company_by_code
from callyard.store.models import ApiCredential

log = logging.getLogger("callyard.credentials")

MAX_PER_COMPANY = 20


class CredentialKind(StrEnum):
    VCALL = "vcall"  # accessKeyId / accessKeySecret: checked at token requests
    ROBOT = "robot"  # Api-Key / secret: requests signed md5(key + secret + timestamp)

    @property
    def audience(self) -> TokenAudience | None:
        """The API whose tokens this kind is exchanged for; None: it signs every request."""
        return TokenAudience.VCALL if self is CredentialKind.VCALL else None

    @property
    def readable(self) -> bool:
        """Whether callyard needs the secret back (to check signatures)."""
        return self is CredentialKind.ROBOT


def parse_kind(value: str) -> CredentialKind:
    try:
        return CredentialKind(value)
    except ValueError as exc:
        kinds = ", ".join(k.value for k in CredentialKind)
        raise InvalidInput("kind", f"{value!r} is not a credential kind ({kinds})") from exc


@dataclass(frozen=True)
class CredentialView:
    kind: CredentialKind
    key_id: str
    created_at: datetime


@dataclass(frozen=True)
class IssuedCredential(CredentialView):
    secret: str  # shown once


@dataclass(frozen=True)
class Holder:
    """Whose credential a key id is, and (for a readable kind) its secret."""

    company_id: int
    secret: str | None = None


def _new_key(kind: CredentialKind) -> tuple[str, str]:
    if kind is CredentialKind.ROBOT:  # the vendor's are short: `bD8JFiq9`
        return secrets.token_urlsafe(9), secrets.token_urlsafe(24)
    return str(uuid.uuid4()), str(uuid.uuid4())  # as the vendor's examples


def _context(kind: CredentialKind, key_id: str) -> str:
    return f"credential:{kind.value}:{key_id}"


class CredentialService:
    """Issue, list and revoke a company's API credentials; check them for the dialects."""

    def __init__(self, db: Database, clock: Clock, box: Callable[[], SecretBox]) -> None:
        self._db = db
        self._clock = clock
        self._make_box = box  # read (or created) on first use: most commands need none
        self._opened: SecretBox | None = None
        self._verified = VerifiedSecrets()

    @property
    def _box(self) -> SecretBox:
        if self._opened is None:
            self._opened = self._make_box()
        return self._opened

    async def issue(self, company_code: int, kind: CredentialKind) -> IssuedCredential:
        key_id, secret = _new_key(kind)
        now = self._clock.now()
        async with self._db.writing() as session:
            company = await company_by_code(session, company_code)
            held = await session.scalar(
                select(ApiCredential.id)
                .where(ApiCredential.company_id == company.id)
                .offset(MAX_PER_COMPANY - 1)
                .limit(1)
            )
            if held is not None:
                raise InvalidInput("kind", f"a company holds at most {MAX_PER_COMPANY} credentials")
            session.add(
                ApiCredential(
                    company_id=company.id,
                    kind=kind.value,
                    key_id=key_id,
                    secret_hash=None if kind.readable else hash_secret(secret),
                    secret_sealed=(
                        self._box.seal(secret, _context(kind, key_id)) if kind.readable else None
                    ),
                    created_at=now,
                )
            )
        log.info("credential issued", extra={"company": company_code, "kind": kind.value})
        return IssuedCredential(kind, key_id, now, secret)

    async def list(self, company_code: int) -> list[CredentialView]:
        async with self._db.transaction() as session:
            company = await company_by_code(session, company_code)
            rows = await session.scalars(
                select(ApiCredential)
                .where(ApiCredential.company_id == company.id)
                .order_by(ApiCredential.id)
            )
            return [CredentialView(CredentialKind(r.kind), r.key_id, r.created_at) for r in rows]

    async def revoke(self, company_code: int, key_id: str) -> None:
        async with self._db.writing() as session:
            company = await company_by_code(session, company_code)
            kind = await session.scalar(
                delete(ApiCredential)
                .where(ApiCredential.company_id == company.id, ApiCredential.key_id == key_id)
                .returning(ApiCredential.kind)
            )
            if kind is None:
                raise NotFound(f"company {company_code} has no credential {key_id}")
            audience = CredentialKind(kind).audience
            if audience is not None:
                # Its API's tokens go with it (clients fetch new ones with their other
                # keys); servers drop them from memory when they see the revision move.
                await revoke_tokens(session, company.id, audience)
                await bump_revision(session)

    async def holder(
        self, kind: CredentialKind, key_id: str, secret: str | None = None
    ) -> Holder | None:
        """The company a key id belongs to: checked against `secret` when given (None if
        it does not match); for a readable kind, with the secret to check signatures."""
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(ApiCredential).where(
                    ApiCredential.kind == kind.value, ApiCredential.key_id == key_id
                )
            )
        if row is None:
            return None
        known: str | None = None
        if row.secret_sealed is not None:
            try:
                known = self._box.open(row.secret_sealed, _context(kind, key_id))
            except Unsealable:
                log.error("credential cannot be opened: another server key?", extra={"kind": kind})
                return None
        if secret is not None:
            if known is not None:
                matches = secrets.compare_digest(secret.encode(), known.encode())
            else:
                matches = await self._verify(secret, row.secret_hash or "")
            if not matches:
                return None
        return Holder(row.company_id, known)

    async def _verify(self, secret: str, stored: str) -> bool:
        """A hashed secret checked: the KDF in a thread (it would stall the loop), once;
        the same right secret again is recognised without it (a client fetching tokens
        is not slowed to the KDF's pace)."""
        if self._verified.known(secret, stored):
            return True
        if not await asyncio.to_thread(verify_secret, secret, stored):
            return False
        self._verified.remember(secret, stored)
        return True
