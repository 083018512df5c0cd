"""groups may queue their callers; call records say when a caller was queued

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callyard.store.models import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_queues",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("max_wait_seconds", sa.Integer(), nullable=False),
        sa.Column("max_size", sa.Integer(), nullable=False),
        sa.Column("ring_seconds", sa.Integer(), nullable=False),
        sa.Column("greeting", sa.String(length=1024), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("music_file", sa.String(length=1024), nullable=False),
        sa.Column("overflow", sa.String(length=16), nullable=False),
        sa.Column("overflow_group_id", sa.Integer(), nullable=True),
        sa.Column("overflow_number", sa.String(length=32), nullable=False),
        sa.Column("overflow_message", sa.String(length=1024), nullable=False),
        sa.Column("service_level_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["extension_groups.id"],
            name="fk_group_queues_group_id_extension_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["overflow_group_id"],
            ["extension_groups.id"],
            name="fk_group_queues_overflow_group_id_extension_groups",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("group_id", name="pk_group_queues"),
    )
    # Added in place (no table copy), as in 0011.
    op.add_column("call_records", sa.Column("queued_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records", recreate="never") as batch:
        batch.drop_column("queued_at")
    op.drop_table("group_queues")
