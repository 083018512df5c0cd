"""PBX trunks: a company's own PBX or dialer that sends calls out through callyard, known
by the address it sends from and/or by digest credentials."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from sqlalchemy import select

from callyard.clock import Clock
from callyard.errors import Conflict, InvalidInput
from callyard.services.directory import Directory
from callyard.services.trunks import check_trunk_name
from callyard.store.database import Database, IntegrityError
from callyard.store.lookups import all_of, company_by_code, named_of
from callyard.store.models import PbxTrunk

# A letter first: extension numbers are digits, so a PBX's username is never one.
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_PASSWORD = re.compile(r"^[\x21-\x7e]{8,128}$")


@dataclass(frozen=True)
class PbxTrunkView:
    company_code: int
    name: str
    host: str | None
    username: str | None
    password: str | None


def check_address(host: str) -> str:
    """An IP address, as the packets of the PBX come from it."""
    bare = host.strip().removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        raise InvalidInput("host", f"{host!r} is not an IP address") from None


def _check(host: str | None, username: str | None, password: str | None) -> str | None:
    if host is None and username is None:
        raise InvalidInput("host", "give the address the PBX sends from, credentials, or both")
    if (username is None) != (password is None):
        raise InvalidInput("username", "give both a username and a password, or neither")
    if username is not None and not _USERNAME.match(username):
        raise InvalidInput(
            "username", "must start with a letter: 1 to 64 letters, digits, '_', '.' or '-'"
        )
    if password is not None and not _PASSWORD.match(password):
        raise InvalidInput("password", "must be 8 to 128 printable characters without spaces")
    return check_address(host) if host is not None else None


class PbxTrunkService:
    """The PBX trunks of each company; the switch reads them through the routing book."""

    def __init__(self, db: Database, clock: Clock, directory: Directory) -> None:
        self._db = db
        self._clock = clock
        self._directory = directory

    async def add(
        self,
        company_code: int,
        name: str,
        host: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> PbxTrunkView:
        """Add a PBX trunk; its name is unique in the company, its address and username
        across all companies (they say which company a call is from)."""
        name = check_trunk_name(name)
        host = _check(host, username, password)
        taken = Conflict(
            f"a PBX trunk named {name!r}, at {host} or with username {username} exists"
        )
        try:
            async with self._directory.changing() as session:
                company = await company_by_code(session, company_code)
                clash = select(PbxTrunk.id).where(
                    ((PbxTrunk.company_id == company.id) & (PbxTrunk.name == name))
                    | ((PbxTrunk.host == host) & PbxTrunk.host.is_not(None))
                    | ((PbxTrunk.username == username) & PbxTrunk.username.is_not(None))
                )
                if await session.scalar(clash):
                    raise taken
                row = PbxTrunk(
                    company_id=company.id,
                    name=name,
                    host=host,
                    username=username,
                    password=password,
                    created_at=self._clock.now(),
                )
                session.add(row)
                await session.flush()
                return _view(row, company.code)
        except IntegrityError as exc:  # a concurrent add won the race
            raise taken from exc

    async def remove(self, company_code: int, name: str) -> PbxTrunkView:
        """Remove a PBX trunk; returns what it was."""
        async with self._directory.changing() as session:
            company = await company_by_code(session, company_code)
            row = await named_of(session, PbxTrunk, company, name, "PBX trunk")
            await session.delete(row)
            return _view(row, company.code)

    async def list_all(self, company_code: int) -> list[PbxTrunkView]:
        async with self._db.transaction() as session:
            company = await company_by_code(session, company_code)
            return [_view(row, company.code) for row in await all_of(session, PbxTrunk, company)]


def _view(row: PbxTrunk, company_code: int) -> PbxTrunkView:
    return PbxTrunkView(company_code, row.name, row.host, row.username, row.password)
