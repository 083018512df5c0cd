"""a company's own PBX may send calls out through callyard

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callyard.store.models import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pbx_trunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=45), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("password", sa.String(length=128), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_pbx_trunks_company_id_companies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pbx_trunks"),
        sa.UniqueConstraint("company_id", "name", name="uq_pbx_trunks_company_id_name"),
        sa.UniqueConstraint("host", name="uq_pbx_trunks_host"),
        sa.UniqueConstraint("username", name="uq_pbx_trunks_username"),
    )
    op.create_index("ix_pbx_trunks_company_id", "pbx_trunks", ["company_id"])


def downgrade() -> None:
    # Without PBX trunks, their calls read as calls a phone dialed out.
    op.execute(
        sa.text("UPDATE call_records SET kind = 'phone_outbound' WHERE kind = 'pbx_outbound'")
    )
    op.drop_index("ix_pbx_trunks_company_id", table_name="pbx_trunks")
    op.drop_table("pbx_trunks")
