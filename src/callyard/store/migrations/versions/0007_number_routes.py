"""routes of a company's numbers: where carriers' calls to them go

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("caller_numbers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("route_extension_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("route_group_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_caller_numbers_route_extension_id_extensions"),
            "extensions",
            ["route_extension_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_caller_numbers_route_group_id_extension_groups"),
            "extension_groups",
            ["route_group_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("caller_numbers", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_caller_numbers_route_group_id_extension_groups"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_caller_numbers_route_extension_id_extensions"), type_="foreignkey"
        )
        batch_op.drop_column("route_group_id")
        batch_op.drop_column("route_extension_id")
