"""Look-ups shared by several services."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.errors import NotFound
from callyard.store.models import Company


async def company_by_code(session: AsyncSession, code: int) -> Company:
    """The company with this code, or NotFound."""
    company = await session.scalar(select(Company).where(Company.code == code))
    if company is None:
        raise NotFound(f"no company with code {code}")
    return company
