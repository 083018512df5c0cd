"""API authentication: login, logout, and the check every request passes."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from math import ceil

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.config import Settings
from callyard.domain.refusals import Denial, Refusal
from callyard.errors import AccessDenied, BusinessError
from callyard.limits import AuthenticationLimits, address_key
from callyard.security import VerifiedSecrets, new_token, token_digest, verify_secret
from callyard.services.companies import ALWAYS_LICENSED, Capability, TokenAudience
from callyard.services.credentials import CredentialKind, CredentialService
from callyard.services.directory import CompanyEntry, Directory
from callyard.store.database import Database
from callyard.store.models import ApiCredential, ApiToken, Company

log = logging.getLogger("callyard.auth")

WRONG_ACCESSKEY = "Authorization failed: wrong accesskey"
WRONG_CREDENTIAL = "Authorization failed: wrong key id or secret"


@dataclass(frozen=True)
class Caller:
    """The company on whose behalf a request runs."""

    company_id: int
    company_code: int
    company_name: str
    timezone: str | None = None  # of its wall-clock times; None: the server's


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


@dataclass(frozen=True)
class LoginLimits:
    """Limits on failed logins (wrong access keys, unknown appids), per address and per
    appid (the latter counted only from addresses the appid has not logged in from
    lately, so that an attacker elsewhere does not lock the company's servers out)."""

    failures_per_address: int
    block_seconds: float  # an address's first block; it doubles, up to an hour
    failures_per_appid: int
    failure_delay: float  # a failed attempt is answered this late

    @classmethod
    def of(cls, settings: Settings) -> LoginLimits:
        """The limits the server is configured with."""
        return cls(
            settings.login_failures_per_address,
            settings.login_block_seconds,
            settings.login_failures_per_appid,
            settings.login_failure_delay_seconds,
        )


@dataclass(frozen=True)
class _Account:
    """A company as login checks it."""

    entry: CompanyEntry
    accesskey_hash: str


class AuthService:
    """Who a request is from: App.Sip_* Login and its tokens, credentials sent with every
    request, and the tokens other APIs' credentials are exchanged for."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        directory: Directory,
        token_ttl: timedelta,
        limits: LoginLimits | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        credentials: CredentialService | None = None,
        credential_token_ttl: timedelta = timedelta(hours=2),
    ) -> None:
        self._db = db
        self._credential_store = credentials
        self._credential_token_ttl = credential_token_ttl
        self._directory = directory
        self._clock = clock
        self._token_ttl = token_ttl
        self._limits = limits or LoginLimits.of(Settings())
        self._sleep = sleep
        self._verified = VerifiedSecrets()
        self._failures = AuthenticationLimits(
            clock.monotonic,
            address_failures=self._limits.failures_per_address,
            address_block=self._limits.block_seconds,
            key_failures=self._limits.failures_per_appid,
        )
        # Key derivation runs in a worker thread, one at a time: a flood of wrong keys
        # costs at most one core's worth of hashing and never stalls the event loop.
        self._hashing = asyncio.Lock()

    async def login(self, appid: str, accesskey: str, client_ip: str) -> LoginSession:
        """Exchange credentials for a token valid for the configured time (12 h)."""
        account = await self._credentials(appid, accesskey, client_ip, Capability.SESSIONS)
        async with self._db.writing() as session:
            # The key may have been rotated (and the company's tokens revoked) since it
            # was read: the row lock orders this login after such a change.
            current = await session.scalar(
                select(Company.accesskey_hash)
                .where(Company.id == account.entry.id)
                .with_for_update()
            )
            if current != account.accesskey_hash:
                raise BusinessError(Refusal.WRONG_CREDENTIALS, WRONG_ACCESSKEY)
            return await self._issue(session, account.entry)

    async def credential_token(
        self, kind: CredentialKind, key_id: str, secret: str, client_ip: str
    ) -> LoginSession:
        """Exchange one of a company's API credentials (key id and secret) for a token of
        that credential's API, valid for the configured time (2 h), under the same
        limits on failed attempts and company checks as Login."""
        audience = kind.audience
        if audience is None or self._credential_store is None:
            raise RuntimeError(f"no tokens for {kind.value} credentials here")
        await self._refuse_if_blocked(self._failures.blocked(key_id, client_ip))
        holder = None
        async with self._hashing:
            blocked = self._failures.blocked(key_id, client_ip)
            if not blocked:
                holder = await self._credential_store.holder(kind, key_id, secret)
        await self._refuse_if_blocked(blocked)
        company = await self._directory.company(holder.company_id) if holder else None
        if company is None:
            await self._failed(key_id, client_ip)
            raise BusinessError(Refusal.WRONG_CREDENTIALS, WRONG_CREDENTIAL)
        self._check_company(company, client_ip, Capability.SESSIONS, self._clock.now())
        self._failures.succeeded(key_id, client_ip)
        async with self._db.writing() as session:
            # Revoked meanwhile? The row lock orders this after the revocation.
            still = await session.scalar(
                select(ApiCredential.id)
                .where(ApiCredential.kind == kind.value, ApiCredential.key_id == key_id)
                .with_for_update()
            )
            if still is None:
                raise BusinessError(Refusal.WRONG_CREDENTIALS, WRONG_CREDENTIAL)
            return await self._issue(session, company, audience, self._credential_token_ttl)

    async def _issue(
        self,
        session: AsyncSession,
        company: CompanyEntry,
        audience: TokenAudience = TokenAudience.SIP_API,
        ttl: timedelta | None = None,
    ) -> LoginSession:
        """A new token of `company` for `audience`, stored in `session` (expired tokens
        are dropped)."""
        now = self._clock.now()
        token = new_token()
        expires_at = now + (ttl or self._token_ttl)
        await session.execute(delete(ApiToken).where(ApiToken.expires_at <= now))
        session.add(
            ApiToken(
                token_hash=token_digest(token),
                company_id=company.id,
                issued_at=now,
                expires_at=expires_at,
                audience=audience.value,
            )
        )
        return LoginSession(
            token=token,
            caller=Caller(company.id, company.code, company.name, company.timezone),
            authorized_at=company.authorized_at,
            expires_at=expires_at,
        )

    async def authenticate(
        self, appid: str, accesskey: str, client_ip: str, capability: Capability
    ) -> Caller:
        """The caller of appid + accesskey after Login's checks and the capability's licence,
        without a token: for APIs that send the credentials with every request."""
        company = (await self._credentials(appid, accesskey, client_ip, capability)).entry
        return Caller(company.id, company.code, company.name, company.timezone)

    async def _credentials(
        self, appid: str, accesskey: str, client_ip: str, capability: Capability
    ) -> _Account:
        """The company whose appid and access key these are, after the limits on failed
        attempts and the company's own checks (expiry, addresses, licence)."""
        await self._refuse_if_blocked(self._failures.blocked(appid, client_ip))
        account = await self._account(appid)
        if account is None:
            await self._failed(None, client_ip)
            raise AccessDenied(Denial.CREDENTIAL_UNKNOWN, f"appid {appid} is not authorized")
        self._check_company(account.entry, client_ip, capability, self._clock.now())
        await self.verify(appid, accesskey, account.accesskey_hash, client_ip, WRONG_ACCESSKEY)
        return account

    async def verify(self, key: str, secret: str, stored: str, client_ip: str, wrong: str) -> None:
        """Check `secret` against its PBKDF2 hash `stored`, `key` naming whose it is (an
        appid, an agent), under the limits on failed attempts: BusinessError with
        `wrong` for a wrong secret, or too many failures."""
        await self._refuse_if_blocked(self._failures.blocked(key, client_ip))
        if not self._verified.known(secret, stored):
            right = False
            async with self._hashing:
                # Attempts that queued here while others failed are refused unhashed.
                blocked = self._failures.blocked(key, client_ip)
                if not blocked:
                    right = await asyncio.to_thread(verify_secret, secret, stored)
            await self._refuse_if_blocked(blocked)
            if not right:
                await self._failed(key, client_ip)
                raise BusinessError(Refusal.WRONG_CREDENTIALS, wrong)
            self._verified.remember(secret, stored)
        self._failures.succeeded(key, client_ip)

    async def failed_unknown(self, client_ip: str) -> None:
        """An attempt naming nobody: counted against its address and answered late, as
        a wrong secret is (so that names cannot be told apart by the answer)."""
        await self._refuse_if_blocked(self._failures.by_address.blocked(address_key(client_ip)))
        await self._failed(None, client_ip)

    async def _account(self, appid: str) -> _Account | None:
        """The company of `appid`, from the directory's cache: the hot path of a login
        (and of a flood of them) reads nothing from the database."""

        async def load(session: AsyncSession) -> _Account | None:
            company = await session.scalar(select(Company).where(Company.appid == appid))
            return _Account(CompanyEntry.of(company), company.accesskey_hash) if company else None

        return await self._directory.cached("company-by-appid", appid, load)

    async def _refuse_if_blocked(self, seconds: float) -> None:
        if seconds:
            await self._sleep(self._limits.failure_delay)
            raise BusinessError(
                Refusal.TOO_MANY_FAILURES,
                f"Authorization failed: too many failed attempts, try again in {ceil(seconds)} s",
            )

    async def _failed(self, appid: str | None, client_ip: str) -> None:
        """Count a failed attempt, and answer it late (a guesser's connections then
        wait instead of trying again at once)."""
        blocks = self._failures.failed(appid, client_ip)
        if blocks.address or blocks.key:
            log.warning(
                "logins throttled",
                extra={
                    "appid": appid,
                    "address": client_ip,
                    "seconds": max(blocks.address, blocks.key),
                },
            )
        await self._sleep(self._limits.failure_delay)

    async def logout(self, token: str, client_ip: str) -> None:
        """Invalidate a token at once."""
        await self.authorize(token, client_ip, Capability.SESSIONS)
        digest = token_digest(token)
        async with self._directory.changing() as session:
            await session.execute(delete(ApiToken).where(ApiToken.token_hash == digest))

    async def authorize(
        self,
        token: str,
        client_ip: str,
        capability: Capability,
        audience: TokenAudience = TokenAudience.SIP_API,
    ) -> Caller:
        """The caller a token stands for, after token, licence, IP and capability checks;
        a token issued for another API is no token here."""
        now = self._clock.now()
        entry = await self._directory.token(token_digest(token))
        company = await self._directory.company(entry.company_id) if entry else None
        if (
            entry is None
            or company is None
            or entry.expires_at <= now
            or entry.audience != audience.value
        ):
            raise AccessDenied(Denial.TOKEN_INVALID)
        self._check_company(company, client_ip, capability, now)
        return Caller(company.id, company.code, company.name, company.timezone)

    async def company_for(self, code: str, client_ip: str, capability: Capability) -> Caller:
        """The company with code `code` (the CTI's `companyId`), after licence, IP and
        capability checks; an unknown one is denied as an unknown credential."""

        async def load(session: AsyncSession) -> CompanyEntry | None:
            row = await session.scalar(select(Company).where(Company.code == int(code)))
            return CompanyEntry.of(row) if row else None

        company = None
        if code.isdigit() and len(code) <= 18:
            company = await self._directory.cached("company-by-code", code, load)
        if company is None:
            raise AccessDenied(Denial.CREDENTIAL_UNKNOWN, f"no company {code}")
        self._check_company(company, client_ip, capability, self._clock.now())
        return Caller(company.id, company.code, company.name, company.timezone)

    @staticmethod
    def _check_company(
        company: CompanyEntry, client_ip: str, capability: Capability, now: datetime
    ) -> None:
        if company.expires_at is not None and company.expires_at <= now:
            raise AccessDenied(
                Denial.EXPIRED,
                f"appid authorization expired at {company.expires_at:%Y-%m-%d %H:%M:%S} UTC",
            )
        if not ip_allowed(company.allowed_cidrs, client_ip):
            raise AccessDenied(Denial.ADDRESS_NOT_ALLOWED, f"IP {client_ip} is not authorized")
        if capability not in ALWAYS_LICENSED and capability in company.disabled_capabilities:
            raise AccessDenied(
                Denial.NOT_LICENSED, f"{capability.value} is not licensed for the company"
            )
