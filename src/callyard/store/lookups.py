"""Look-ups shared by several services."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.errors import NotFound
from callyard.store.models import Company, PbxTrunk, Trunk

Named = TypeVar("Named", Trunk, PbxTrunk)


async def company_by_code(session: AsyncSession, code: int, *, for_update: bool = False) -> Company:
    """The company with this code, or NotFound; `for_update` locks its row (PostgreSQL)
    until the transaction ends."""
    query = select(Company).where(Company.code == code)
    company = await session.scalar(query.with_for_update() if for_update else query)
    if company is None:
        raise NotFound(f"no company with code {code}")
    return company


async def named_of(
    session: AsyncSession, model: type[Named], company: Company, name: str, what: str
) -> Named:
    """The company's `what` (a trunk, a PBX trunk) named `name`, or NotFound."""
    row = await session.scalar(
        select(model).where(model.company_id == company.id, model.name == name.strip())
    )
    if row is None:
        raise NotFound(f"company {company.code} has no {what} named {name!r}")
    return row


async def all_of(session: AsyncSession, model: type[Named], company: Company) -> list[Named]:
    """The company's trunks or PBX trunks, oldest first."""
    rows = await session.scalars(
        select(model).where(model.company_id == company.id).order_by(model.id)
    )
    return list(rows)
