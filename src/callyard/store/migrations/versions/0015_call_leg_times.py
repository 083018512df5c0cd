"""call records keep each leg's progress, what the API gave to be echoed back, and the
agent the call was for

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callyard.store.models import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_TIMES = ("first_ringing_at", "first_answered_at", "second_called_at", "second_ringing_at")
_TEXTS = (("first_number", 64), ("user_data", 1024), ("label", 16), ("agent_number", 32),
          ("agent_name", 64), ("group_name", 64))  # fmt: skip


def upgrade() -> None:
    # Added in place (no table copy), as in 0011.
    for name in _TIMES:
        op.add_column("call_records", sa.Column(name, UTCDateTime(), nullable=True))
    for name, length in _TEXTS:
        op.add_column(
            "call_records",
            sa.Column(name, sa.String(length=length), nullable=False, server_default=""),
        )


def downgrade() -> None:
    with op.batch_alter_table("call_records", recreate="never") as batch:
        for name in (*_TIMES, *(name for name, _ in _TEXTS)):
            batch.drop_column(name)
