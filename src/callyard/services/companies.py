"""Companies (tenants): credentials, IP allow-lists, licence expiry and capabilities."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.errors import Conflict, InvalidInput
from callyard.security import hash_secret, new_accesskey, new_appid
from callyard.services.directory import Directory
from callyard.store.database import Database, IntegrityError
from callyard.store.lookups import company_by_code
from callyard.store.models import ApiToken, Company

FIRST_COMPANY_CODE = 1001
_APPID = re.compile(r"^[A-Za-z0-9_.-]{4,64}$")


class Capability(StrEnum):
    """What a company may be licensed for, in callyard's words; each dialect says which
    capability each of its services needs (App.Sip_* answers `ret` 603 without it)."""

    SESSIONS = "sessions"  # logging in and out
    GROUPS = "groups"
    EXTENSIONS = "extensions"
    PRESENCE = "presence"
    CALLS = "calls"
    RECORDINGS = "recordings"
    CAMPAIGNS = "campaigns"
    VOICE_CODES = "voice_codes"


ALWAYS_LICENSED = frozenset({Capability.SESSIONS})


def check_timezone(name: str) -> str:
    """An IANA time zone name the system knows."""
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput("timezone", f"{name!r} is not a known IANA time zone") from exc
    return name.strip()


@dataclass(frozen=True)
class CompanyView:
    code: int
    name: str
    appid: str
    authorized_at: datetime
    expires_at: datetime | None
    allowed_cidrs: list[str]
    disabled_capabilities: list[str]
    timezone: str | None = None

    @classmethod
    def of(cls, row: Company) -> CompanyView:
        return cls(
            code=row.code,
            name=row.name,
            appid=row.appid,
            authorized_at=row.authorized_at,
            expires_at=row.expires_at,
            allowed_cidrs=list(row.allowed_cidrs),
            disabled_capabilities=list(row.disabled_modules),
            timezone=row.timezone,
        )


@dataclass(frozen=True)
class CompanyCredentials:
    """The only moment an access key is seen in clear: at creation or rotation."""

    companycode: int
    companyname: str
    appid: str
    accesskey: str


def parse_cidrs(cidrs: list[str]) -> list[str]:
    """Normalise CIDRs (a bare address is a /32 or /128); reject malformed ones."""
    normalised = []
    for cidr in cidrs:
        try:
            normalised.append(str(ipaddress.ip_network(cidr.strip(), strict=False)))
        except ValueError as exc:
            raise InvalidInput("cidr", f"{cidr!r} is not an IP network") from exc
    return normalised


def parse_capabilities(names: list[str]) -> list[Capability]:
    capabilities = []
    for name in names:
        try:
            capabilities.append(Capability(name.strip().lower()))
        except ValueError as exc:
            known = ", ".join(c.value for c in Capability)
            raise InvalidInput(
                "capability", f"unknown capability {name!r} (known: {known})"
            ) from exc
    return capabilities


class TokenAudience(StrEnum):
    """The API a token is good for: the one whose credentials it was issued for."""

    SIP_API = "sip_api"  # App.Sip_* Login: the company's appid and access key
    VCALL = "vcall"  # a token request with one of the company's vcall credentials


async def revoke_tokens(
    session: AsyncSession, company_id: int, audience: TokenAudience | None = None
) -> None:
    """Delete the company's API tokens, of every API or of the `audience` one (inside the
    transaction that changes the company or its credentials)."""
    query = delete(ApiToken).where(ApiToken.company_id == company_id)
    if audience is not None:
        query = query.where(ApiToken.audience == audience)
    await session.execute(query)


class CompanyService:
    """Administrative operations on companies."""

    def __init__(self, db: Database, clock: Clock, directory: Directory) -> None:
        self._db = db
        self._clock = clock
        self._directory = directory

    async def create(
        self, name: str, appid: str | None = None, accesskey: str | None = None
    ) -> CompanyCredentials:
        name = name.strip()
        if not name or len(name) > 128:
            raise InvalidInput("name", "must be 1 to 128 characters")
        appid = appid or new_appid()
        if not _APPID.match(appid):
            raise InvalidInput("appid", "must be 4 to 64 letters, digits, '_', '.' or '-'")
        accesskey = accesskey or new_accesskey()
        if len(accesskey) < 8 or len(accesskey) > 128:
            raise InvalidInput("accesskey", "must be 8 to 128 characters")
        accesskey_hash = hash_secret(accesskey)
        for _attempt in range(5):
            try:
                async with self._directory.changing() as session:
                    if await session.scalar(select(Company.id).where(Company.appid == appid)):
                        raise Conflict(f"appid {appid!r} is already in use")
                    highest = await session.scalar(select(func.max(Company.code)))
                    code = max(FIRST_COMPANY_CODE, (highest or 0) + 1)
                    session.add(
                        Company(
                            code=code,
                            name=name,
                            appid=appid,
                            accesskey_hash=accesskey_hash,
                            authorized_at=self._clock.now(),
                            expires_at=None,
                            allowed_cidrs=[],
                            disabled_modules=[],
                        )
                    )
                return CompanyCredentials(code, name, appid, accesskey)
            except IntegrityError:
                continue  # another process took the same code: pick the next one
        raise Conflict("could not allocate a company code")

    async def rotate_accesskey(self, code: int) -> CompanyCredentials:
        accesskey = new_accesskey()
        accesskey_hash = hash_secret(accesskey)
        async with self._directory.changing() as session:
            company = await company_by_code(session, code, for_update=True)
            company.accesskey_hash = accesskey_hash
            # The tokens of its Login; those other credentials were exchanged for stay.
            await revoke_tokens(session, company.id, TokenAudience.SIP_API)
            return CompanyCredentials(company.code, company.name, company.appid, accesskey)

    async def allow_ips(self, code: int, cidrs: list[str], *, replace: bool) -> CompanyView:
        networks = parse_cidrs(cidrs)
        async with self._directory.changing() as session:
            company = await company_by_code(session, code)
            current = [] if replace else list(company.allowed_cidrs)
            company.allowed_cidrs = current + [n for n in networks if n not in current]
            return CompanyView.of(company)

    async def set_expiry(self, code: int, expires_at: datetime | None) -> CompanyView:
        if expires_at is not None and expires_at.tzinfo is None:
            raise InvalidInput("at", "needs a timezone")
        now = self._clock.now()
        async with self._directory.changing() as session:
            company = await company_by_code(session, code, for_update=True)
            was_expired = company.expires_at is not None and company.expires_at <= now
            company.expires_at = expires_at.astimezone(UTC) if expires_at else None
            if was_expired:
                # Tokens are refused (602) while the authorization has lapsed, and
                # never come back to life when it is renewed.
                await revoke_tokens(session, company.id)
            return CompanyView.of(company)

    async def set_capabilities(
        self, code: int, *, enable: list[str], disable: list[str]
    ) -> CompanyView:
        """License (`enable`) or unlicense (`disable`) capabilities of the company."""
        to_enable, to_disable = parse_capabilities(enable), parse_capabilities(disable)
        if set(to_enable) & set(to_disable):
            raise InvalidInput("capability", "cannot enable and disable the same capability")
        if ALWAYS_LICENSED & set(to_disable):
            raise InvalidInput("capability", "sessions (login, logout) cannot be disabled")
        async with self._directory.changing() as session:
            company = await company_by_code(session, code)
            disabled = [m for m in company.disabled_modules if m not in to_enable]
            disabled += [m.value for m in to_disable if m.value not in disabled]
            company.disabled_modules = sorted(disabled)
            return CompanyView.of(company)

    async def set_timezone(self, code: int, timezone: str | None) -> CompanyView:
        """The IANA zone (`Asia/Jakarta`) of the company's wall-clock times: API answers,
        callbacks, task windows and dates. None: the server's."""
        if timezone is not None:
            timezone = check_timezone(timezone)
        async with self._directory.changing() as session:
            company = await company_by_code(session, code)
            company.timezone = timezone
            return CompanyView.of(company)

    async def get(self, code: int) -> CompanyView:
        async with self._db.transaction() as session:
            return CompanyView.of(await company_by_code(session, code))

    async def find_by_name(self, name: str) -> CompanyView | None:
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(Company).where(Company.name == name).order_by(Company.code)
            )
            return CompanyView.of(row) if row else None

    async def list_all(self) -> list[CompanyView]:
        async with self._db.transaction() as session:
            rows = await session.scalars(select(Company).order_by(Company.code))
            return [CompanyView.of(row) for row in rows]
