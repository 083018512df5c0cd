"""API authentication: login, logout, and the check every request passes."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.codes import Code, Ret
from callyard.errors import AccessDenied, BusinessError
from callyard.security import VerifiedSecrets, new_token, token_digest
from callyard.services.companies import ALWAYS_LICENSED, Module
from callyard.services.directory import CompanyEntry, Directory
from callyard.store.database import Database
from callyard.store.models import ApiToken, Company


@dataclass(frozen=True)
class Caller:
    """The company on whose behalf a request runs."""

    company_id: int
    company_code: int
    company_name: str


@dataclass(frozen=True)
class LoginSession:
    token: str
    caller: Caller
    authorized_at: datetime
    expires_at: datetime


@lru_cache(maxsize=1024)
def _networks(
    cidrs: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def ip_allowed(allowed_cidrs: Sequence[str], client_ip: str) -> bool:
    """An empty allow-list admits every address."""
    if not allowed_cidrs:
        return True
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(tuple(allowed_cidrs)))


class AuthService:
    """Tokens for the App.Sip_* style APIs."""

    def __init__(
        self, db: Database, clock: Clock, directory: Directory, token_ttl: timedelta
    ) -> None:
        self._db = db
        self._directory = directory
        self._clock = clock
        self._token_ttl = token_ttl
        self._verified = VerifiedSecrets()

    async def login(self, appid: str, accesskey: str, client_ip: str) -> LoginSession:
        """Exchange credentials for a token valid for the configured time (12 h)."""
        now = self._clock.now()
        async with self._db.writing() as session:
            company = await self._credentials(
                session, appid, accesskey, client_ip, Module.AUTH, now
            )
            token = new_token()
            expires_at = now + self._token_ttl
            await session.execute(delete(ApiToken).where(ApiToken.expires_at <= now))
            session.add(
                ApiToken(
                    token_hash=token_digest(token),
                    company_id=company.id,
                    issued_at=now,
                    expires_at=expires_at,
                )
            )
            return LoginSession(
                token=token,
                caller=Caller(company.id, company.code, company.name),
                authorized_at=company.authorized_at,
                expires_at=expires_at,
            )

    async def authenticate(
        self, appid: str, accesskey: str, client_ip: str, module: Module
    ) -> Caller:
        """The caller of appid + accesskey after Login's checks and the module's licence,
        without a token: for APIs that send the credentials with every request."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            company = await self._credentials(session, appid, accesskey, client_ip, module, now)
            return Caller(company.id, company.code, company.name)

    async def _credentials(
        self,
        session: AsyncSession,
        appid: str,
        accesskey: str,
        client_ip: str,
        module: Module,
        now: datetime,
    ) -> Company:
        company = await session.scalar(select(Company).where(Company.appid == appid))
        if company is None:
            raise AccessDenied(Ret.APPID_NOT_AUTHORIZED, f"appid {appid} is not authorized")
        self._check_company(CompanyEntry.of(company), client_ip, module, now)
        if not self._verified.verify(accesskey, company.accesskey_hash):
            raise BusinessError(Code.OPERATION_FAILED, "Authorization failed: wrong accesskey")
        return company

    async def logout(self, token: str, client_ip: str) -> None:
        """Invalidate a token at once."""
        await self.authorize(token, client_ip, Module.AUTH)
        digest = token_digest(token)
        async with self._directory.changing() as session:
            await session.execute(delete(ApiToken).where(ApiToken.token_hash == digest))

    async def authorize(self, token: str, client_ip: str, module: Module) -> Caller:
        """The caller a token stands for, after token, licence, IP and module checks."""
        now = self._clock.now()
        entry = await self._directory.token(token_digest(token))
        company = await self._directory.company(entry.company_id) if entry else None
        if entry is None or company is None or entry.expires_at <= now:
            raise AccessDenied(Ret.TOKEN_INVALID)
        self._check_company(company, client_ip, module, now)
        return Caller(company.id, company.code, company.name)

    @staticmethod
    def _check_company(
        company: CompanyEntry, client_ip: str, module: Module, now: datetime
    ) -> None:
        if company.expires_at is not None and company.expires_at <= now:
            raise AccessDenied(
                Ret.APPID_EXPIRED,
                f"appid authorization expired at {company.expires_at:%Y-%m-%d %H:%M:%S} UTC",
            )
        if not ip_allowed(company.allowed_cidrs, client_ip):
            raise AccessDenied(Ret.IP_NOT_AUTHORIZED, f"IP {client_ip} is not authorized")
        if module not in ALWAYS_LICENSED and module.value in company.disabled_modules:
            raise AccessDenied(Ret.MODULE_NOT_LICENSED, f"module {module.value} is not licensed")
