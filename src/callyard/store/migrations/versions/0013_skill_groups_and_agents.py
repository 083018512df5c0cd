"""groups carry their routing and wrap-up settings and a public sn; agents are people on
extensions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 06:00:00.000000
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from callyard.store.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _group_columns() -> list[sa.Column[object]]:
    """A group's settings, added to extension_groups."""
    return [
        sa.Column("policy", sa.String(length=16), nullable=False, server_default="round_robin"),
        sa.Column("popup_url", sa.String(length=2048), nullable=False, server_default=""),
        sa.Column("caller_number", sa.String(length=21), nullable=False, server_default=""),
        sa.Column("auto_idle", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("auto_idle_seconds", sa.Integer(), nullable=True),
        sa.Column("transfer_within", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("agents_dial", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("remark", sa.String(length=255), nullable=False, server_default=""),
        sa.Column("department", sa.String(length=64), nullable=False, server_default=""),
    ]


def upgrade() -> None:
    # Added in place, as 0011 does: copying extension_groups would cascade to its rows.
    op.add_column("extension_groups", sa.Column("sn", sa.String(length=32), nullable=True))
    groups = sa.table("extension_groups", sa.column("id", sa.Integer), sa.column("sn"))
    connection = op.get_bind()
    for (group_id,) in connection.execute(sa.select(groups.c.id)).all():
        connection.execute(
            groups.update().where(groups.c.id == group_id).values(sn=uuid.uuid4().hex)
        )
    op.create_index("ix_extension_groups_sn", "extension_groups", ["sn"], unique=True)
    for column in _group_columns():
        op.add_column("extension_groups", column)
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sn", sa.String(length=32), nullable=False),
        sa.Column(
            "company_id",
            sa.Integer(),
            sa.ForeignKey(
                "companies.id", ondelete="CASCADE", name="fk_agents_company_id_companies"
            ),
            nullable=False,
        ),
        sa.Column(
            "extension_id",
            sa.Integer(),
            sa.ForeignKey(
                "extensions.id", ondelete="CASCADE", name="fk_agents_extension_id_extensions"
            ),
            nullable=False,
        ),
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey(
                "extension_groups.id",
                ondelete="SET NULL",
                name="fk_agents_group_id_extension_groups",
            ),
            nullable=True,
        ),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("mobile", sa.String(length=32), nullable=False),
        sa.Column("display_number", sa.String(length=21), nullable=False),
        sa.Column("uses_sip", sa.Boolean(), nullable=False),
        sa.Column("working_offline", sa.Boolean(), nullable=False),
        sa.Column("offline_call_type", sa.Integer(), nullable=False),
        sa.Column("call_mode", sa.Integer(), nullable=False),
        sa.Column("auto_idle_seconds", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
        sa.UniqueConstraint("sn", name="uq_agents_sn"),
        sa.UniqueConstraint("extension_id", name="uq_agents_extension_id"),
        sa.UniqueConstraint("company_id", "number", name="uq_agents_company_id_number"),
    )
    op.create_index("ix_agents_group_id", "agents", ["group_id"])


def downgrade() -> None:
    op.drop_index("ix_agents_group_id", table_name="agents")
    op.drop_table("agents")
    op.drop_index("ix_extension_groups_sn", table_name="extension_groups")
    with op.batch_alter_table("extension_groups", recreate="never") as batch:
        for column in reversed(_group_columns()):
            batch.drop_column(column.name)
        batch.drop_column("sn")
