"""predictive tasks: why a task holds its numbers, agents' talking time on the dialer's clock

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dial_tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("held_reason", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("talking_seconds", sa.Float(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("dial_tasks", schema=None) as batch_op:
        batch_op.drop_column("talking_seconds")
        batch_op.drop_column("held_reason")
