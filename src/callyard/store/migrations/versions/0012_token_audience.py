"""tokens know the API they were issued for: App.Sip_* Login, or an API credential's
token request

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place: every token stored so far came from App.Sip_* Login.
    op.add_column(
        "api_tokens",
        sa.Column("audience", sa.String(length=16), nullable=False, server_default="sip_api"),
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM api_tokens WHERE audience <> 'sip_api'"))
    op.drop_column("api_tokens", "audience")
