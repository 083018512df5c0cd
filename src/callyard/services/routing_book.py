"""The switch's routing table, read from the store on the server's side and handed to
the switch (which sends it to the SIP process) whenever it changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import select

from callyard.domain.agents import AgentState
from callyard.services.directory import Directory
from callyard.store.database import Database
from callyard.store.models import (
    CallerNumber,
    Company,
    Extension,
    ExtensionGroup,
    GroupMember,
    GroupQueue,
    PbxTrunk,
    Trunk,
)
from callyard.switch.registrar import Account
from callyard.switch.routing import (
    CompanyRoutes,
    NumberRoute,
    PbxRoute,
    RoutingTable,
    TrunkRoute,
    outbound_trunk,
)

log = logging.getLogger("callyard.switch.routing")


class RoutingBook:
    """The latest routing table, replaced whole when the store changes (looked at when
    its revision moves); `on_change` gets every new table (never changed afterwards),
    `on_revision` the store revision of every reload (the table follows the store up to
    there)."""

    def __init__(
        self,
        db: Database,
        directory: Directory,
        on_change: Callable[[RoutingTable], None] | None = None,
        on_revision: Callable[[int], None] | None = None,
    ) -> None:
        self._db = db
        self._directory = directory
        self._on_revision = on_revision
        self._listeners: list[Callable[[RoutingTable], None]] = []
        if on_change is not None:
            self._listeners.append(on_change)
        self.table = RoutingTable()
        self._revision: int | None = None

    def subscribe(self, listener: Callable[[RoutingTable], None]) -> None:
        """Call `listener` with every new table."""
        self._listeners.append(listener)

    def account(self, number: str) -> Account | None:
        return self.table.accounts.get(number)

    def company(self, company_id: int) -> CompanyRoutes | None:
        return self.table.companies.get(company_id)

    async def reload(self) -> None:
        revision = await self._directory.revision()
        async with self._db.transaction() as session:
            extensions = (
                await session.execute(
                    select(
                        Extension.number,
                        Extension.company_id,
                        Extension.password,
                        Extension.enabled,
                    )
                )
            ).all()
            companies = (
                await session.execute(select(Company.id, Company.code, Company.name))
            ).all()
            trunks = (await session.scalars(select(Trunk).order_by(Trunk.id))).all()
            pbx_trunks = (await session.scalars(select(PbxTrunk).order_by(PbxTrunk.id))).all()
            numbers = (
                await session.execute(
                    select(CallerNumber.company_id, CallerNumber.number)
                    .where(CallerNumber.enabled.is_(True))
                    .order_by(CallerNumber.id)
                )
            ).all()
            routed = (
                await session.execute(
                    select(
                        CallerNumber.company_id,
                        CallerNumber.number,
                        Extension.number,
                        CallerNumber.route_group_id,
                    )
                    .outerjoin(Extension, Extension.id == CallerNumber.route_extension_id)
                    .where(
                        (CallerNumber.route_extension_id.is_not(None))
                        | (CallerNumber.route_group_id.is_not(None))
                    )
                )
            ).all()
            # A group's members in the order they checked in: idle there, enabled.
            members = (
                await session.execute(
                    select(GroupMember.group_id, Extension.number)
                    .join(Extension, Extension.id == GroupMember.extension_id)
                    .join(ExtensionGroup, ExtensionGroup.id == GroupMember.group_id)
                    .where(
                        GroupMember.state == AgentState.IDLE.value,
                        Extension.enabled.is_(True),
                        ExtensionGroup.enabled.is_(True),
                    )
                    .order_by(GroupMember.checked_in_at, Extension.number)
                )
            ).all()
            queued = set(await session.scalars(select(GroupQueue.group_id)))
        of_company: dict[int, list[Trunk]] = {}
        for trunk in trunks:
            of_company.setdefault(trunk.company_id, []).append(trunk)
        first_trunk: dict[int, TrunkRoute] = {}
        carriers: dict[int, set[tuple[str, int]]] = {}
        for company_id, owned in of_company.items():
            first = outbound_trunk(owned, lambda trunk: trunk.id)
            if first is not None:
                first_trunk[company_id] = TrunkRoute(
                    first.host, first.port, first.username, first.password
                )
            carriers[company_id] = {(trunk.host, trunk.port) for trunk in owned}
        pools: dict[int, list[str]] = {}
        for company_id, number in numbers:
            pools.setdefault(company_id, []).append(number)
        in_group: dict[int, list[str]] = {}
        for group_id, extension in members:
            in_group.setdefault(group_id, []).append(extension)
        routes = {
            number: NumberRoute(
                company_id,
                number,
                (extension,) if extension else tuple(in_group.get(group_id or 0, ())),
                group=not extension,
                queued=not extension and group_id in queued,
            )
            for company_id, number, extension, group_id in routed
        }
        table = RoutingTable(
            accounts={
                number: Account(number, company_id, password, enabled)
                for number, company_id, password, enabled in extensions
            },
            companies={
                company_id: CompanyRoutes(
                    code,
                    name,
                    first_trunk.get(company_id),
                    tuple(pools.get(company_id, ())),
                    frozenset(carriers.get(company_id, ())),
                )
                for company_id, code, name in companies
            },
            numbers=routes,
            pbxes=tuple(
                PbxRoute(
                    pbx.company_id,
                    pbx.name,
                    pbx.host,
                    Account(pbx.username, pbx.company_id, pbx.password, True)
                    if pbx.username is not None and pbx.password is not None
                    else None,
                )
                for pbx in pbx_trunks
            ),
        )
        self._revision = revision
        # The revision also moves for logins and logouts: only a change of the table
        # goes to the SIP process.
        if table != self.table:
            self.table = table
            for listener in self._listeners:
                listener(table)
        if self._on_revision is not None:
            self._on_revision(revision)

    async def watch(self, interval: float = 0.5) -> None:
        """Reload whenever the store changes; runs until cancelled."""
        while True:
            try:
                if await self._directory.revision() != self._revision:
                    await self.reload()
            except Exception:
                log.exception("reloading the routing table failed")
            await asyncio.sleep(interval)
