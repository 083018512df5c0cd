"""licences by capability: the App.Sip_* module names stored so far become capabilities

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 04:00:00.000000
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_CAPABILITY_OF = {
    "extgroup": "groups",
    "sipnum": "extensions",
    "status": "presence",
    "call": "calls",
    "cdr": "recordings",
    "yccall": "campaigns",
    "voicecode": "voice_codes",
}
_MODULE_OF = {capability: module for module, capability in _CAPABILITY_OF.items()}


def _rename(names: dict[str, str]) -> None:
    companies = sa.table("companies", sa.column("id"), sa.column("disabled_modules", sa.JSON))
    connection = op.get_bind()
    for company_id, disabled in connection.execute(
        sa.select(companies.c.id, companies.c.disabled_modules)
    ).all():
        values = json.loads(disabled) if isinstance(disabled, str) else (disabled or [])
        renamed = sorted({names.get(value, value) for value in values})
        if renamed != values:
            connection.execute(
                companies.update()
                .where(companies.c.id == company_id)
                .values(disabled_modules=renamed)
            )


def upgrade() -> None:
    _rename(_CAPABILITY_OF)


def downgrade() -> None:
    _rename(_MODULE_OF)
