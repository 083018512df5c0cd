"""companies set a URL per kind of push of an API dialect; webhook events carry those
kinds

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callyard.store.models import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_urls",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_push_urls_company_id_companies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "kind", name="pk_push_urls"),
    )
    _resize_kind(16, 32)


def _resize_kind(old: int, new: int) -> None:
    """Change webhook_events.kind's length. On SQLite that copies the table, and dropping
    the old copy cascade-deletes webhook_attempts: they are kept aside and put back."""
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "webhook_events",
            "kind",
            existing_type=sa.String(length=old),
            type_=sa.String(length=new),
            existing_nullable=False,
        )
        return
    op.execute(sa.text("CREATE TEMPORARY TABLE kept_attempts AS SELECT * FROM webhook_attempts"))
    with op.batch_alter_table("webhook_events") as batch:
        batch.alter_column(
            "kind",
            existing_type=sa.String(length=old),
            type_=sa.String(length=new),
            existing_nullable=False,
        )
    op.execute(sa.text("DELETE FROM webhook_attempts"))
    op.execute(sa.text("INSERT INTO webhook_attempts SELECT * FROM kept_attempts"))
    op.execute(sa.text("DROP TABLE kept_attempts"))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM webhook_events WHERE length(kind) > 16"))
    _resize_kind(32, 16)
    op.drop_table("push_urls")
