"""voice verification-code requests and per-company templates

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-15 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callyard.store.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_code_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customuuid", sa.String(length=36), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("created_at", callyard.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_voice_code_requests_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_code_requests")),
        sa.UniqueConstraint("customuuid", name=op.f("uq_voice_code_requests_customuuid")),
    )
    with op.batch_alter_table("voice_code_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_voice_code_requests_company_id_phone_created_at",
            ["company_id", "phone", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_voice_code_requests_company_id_created_at",
            ["company_id", "created_at"],
            unique=False,
        )
        batch_op.create_index("ix_voice_code_requests_created_at", ["created_at"], unique=False)

    op.create_table(
        "voice_code_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("updated_at", callyard.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_voice_code_templates_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_code_templates")),
        sa.UniqueConstraint(
            "company_id", "language", name=op.f("uq_voice_code_templates_company_id_language")
        ),
    )


def downgrade() -> None:
    op.drop_table("voice_code_templates")
    with op.batch_alter_table("voice_code_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_voice_code_requests_created_at")
        batch_op.drop_index("ix_voice_code_requests_company_id_created_at")
        batch_op.drop_index("ix_voice_code_requests_company_id_phone_created_at")

    op.drop_table("voice_code_requests")
