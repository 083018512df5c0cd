"""Look-ups shared by several services."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.errors import NotFound
from callyard.store.models import Company


async def company_by_code(session: AsyncSession, code: int, *, for_update: bool = False) -> Company:
    """The company with this code, or NotFound; `for_update` locks its row (PostgreSQL)
    until the transaction ends."""
    query = select(Company).where(Company.code == code)
    company = await session.scalar(query.with_for_update() if for_update else query)
    if company is None:
        raise NotFound(f"no company with code {code}")
    return company
