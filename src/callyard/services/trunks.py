"""SIP trunks: each company's connections to its carriers."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.errors import Conflict, InvalidInput
from callyard.services.directory import Directory
from callyard.store.database import Database, IntegrityError
from callyard.store.lookups import all_of, company_by_code, named_of
from callyard.store.models import Company, Trunk
from callyard.switch.routing import outbound_trunk

DEFAULT_SIP_PORT = 5060
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_USERNAME = re.compile(r"^[\x21-\x7e]{1,64}$")
_PASSWORD = re.compile(r"^[\x21-\x7e]{1,128}$")


@dataclass(frozen=True)
class TrunkView:
    id: int
    company_code: int
    name: str
    host: str
    port: int
    username: str | None
    password: str | None


def check_trunk_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise InvalidInput("name", "must be 1 to 64 letters, digits, '_', '.' or '-'")
    return name


def check_host(host: str) -> str:
    """A hostname (lower-cased) or an IP address (IPv6 with or without brackets)."""
    host = host.strip()
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    labels = host.split(".")
    if (
        not host
        or len(host) > 253
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()  # 300.1.1.1 is a malformed address, not a name
    ):
        raise InvalidInput("host", f"{host!r} is not a hostname or an IP address")
    return host.lower()


def check_port(port: int) -> int:
    if isinstance(port, bool) or not 1 <= port <= 65535:
        raise InvalidInput("port", f"{port} is not a port (1-65535)")
    return port


def _check_credentials(username: str | None, password: str | None) -> None:
    if (username is None) != (password is None):
        raise InvalidInput("username", "give both a username and a password, or neither")
    if username is not None and not _USERNAME.match(username):
        raise InvalidInput("username", "must be 1 to 64 printable characters without spaces")
    if password is not None and not _PASSWORD.match(password):
        raise InvalidInput("password", "must be 1 to 128 printable characters without spaces")


def _view(row: Trunk, company_code: int) -> TrunkView:
    return TrunkView(row.id, company_code, row.name, row.host, row.port, row.username, row.password)


class TrunkService:
    """Trunks of a company: administration, and the switch's choice of trunk."""

    def __init__(self, db: Database, clock: Clock, directory: Directory) -> None:
        self._db = db
        self._clock = clock
        self._directory = directory

    async def add(
        self,
        company_code: int,
        name: str,
        host: str,
        port: int = DEFAULT_SIP_PORT,
        username: str | None = None,
        password: str | None = None,
    ) -> TrunkView:
        """Add a trunk; its name is unique within the company."""
        name = check_trunk_name(name)
        host = check_host(host)
        port = check_port(port)
        _check_credentials(username, password)
        duplicate = Conflict(f"company {company_code} already has a trunk named {name!r}")
        try:
            async with self._directory.changing() as session:
                company = await company_by_code(session, company_code)
                if await session.scalar(
                    select(Trunk.id).where(Trunk.company_id == company.id, Trunk.name == name)
                ):
                    raise duplicate
                row = Trunk(
                    company_id=company.id,
                    name=name,
                    host=host,
                    port=port,
                    username=username,
                    password=password,
                    created_at=self._clock.now(),
                )
                session.add(row)
                await session.flush()
                return _view(row, company.code)
        except IntegrityError as exc:  # a concurrent add won the race
            raise duplicate from exc

    async def remove(self, company_code: int, name: str) -> TrunkView:
        """Remove a trunk; returns what it was."""
        async with self._directory.changing() as session:
            company = await company_by_code(session, company_code)
            row = await named_of(session, Trunk, company, name, "trunk")
            await session.delete(row)
            return _view(row, company.code)

    async def list_all(self, company_code: int) -> list[TrunkView]:
        """The company's trunks, in the order the switch prefers them."""
        async with self._db.transaction() as session:
            company = await company_by_code(session, company_code)
            return [_view(row, company.code) for row in await all_of(session, Trunk, company)]

    async def for_company(self, company_id: int) -> TrunkView | None:
        """The trunk that carries the company's outbound calls: its first, by id. From
        memory once read: every call placed needs it."""

        async def load(session: AsyncSession) -> TrunkView | None:
            rows = (
                await session.execute(
                    select(Trunk, Company.code)
                    .join(Company, Company.id == Trunk.company_id)
                    .where(Trunk.company_id == company_id)
                )
            ).all()
            found = outbound_trunk(rows, lambda row: row[0].id)
            return _view(*found) if found is not None else None

        return await self._directory.cached("trunk", company_id, load)
