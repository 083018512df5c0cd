"""trunks, caller-ID numbers and call records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callyard.store.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("password", sa.String(length=128), nullable=True),
        sa.Column("created_at", callyard.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_trunks_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trunks")),
        sa.UniqueConstraint("company_id", "name", name=op.f("uq_trunks_company_id_name")),
    )
    with op.batch_alter_table("trunks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trunks_company_id"), ["company_id"], unique=False)

    op.create_table(
        "caller_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=21), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", callyard.store.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", callyard.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_caller_numbers_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caller_numbers")),
        sa.UniqueConstraint("number", name=op.f("uq_caller_numbers_number")),
    )
    with op.batch_alter_table("caller_numbers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_caller_numbers_company_id"), ["company_id"], unique=False
        )

    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("companycode", sa.Integer(), nullable=False),
        sa.Column("callmethod", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("extnumber", sa.String(length=64), nullable=False),
        sa.Column("destnumber", sa.String(length=64), nullable=False),
        sa.Column("disnumber", sa.String(length=64), nullable=False),
        sa.Column("crmid", sa.String(length=255), nullable=False),
        sa.Column("chengshudu", sa.String(length=255), nullable=False),
        sa.Column("memberid", sa.String(length=255), nullable=False),
        sa.Column("customuuid", sa.String(length=255), nullable=False),
        sa.Column("userkey", sa.String(length=32), nullable=False),
        sa.Column("starttime", callyard.store.models.UTCDateTime(), nullable=False),
        sa.Column("answertime", callyard.store.models.UTCDateTime(), nullable=True),
        sa.Column("endtime", callyard.store.models.UTCDateTime(), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=False),
        sa.Column("billsec", sa.Integer(), nullable=False),
        sa.Column("hangupcause", sa.Integer(), nullable=False),
        sa.Column("hangupdirection", sa.Integer(), nullable=False),
        sa.Column("recordfilename", sa.String(length=255), nullable=False),
        sa.Column("downloadip", sa.String(length=255), nullable=False),
        sa.Column("recording_purged_at", callyard.store.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_call_records_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_records")),
        sa.UniqueConstraint("uuid", name=op.f("uq_call_records_uuid")),
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.create_index("ix_call_records_company_id_id", ["company_id", "id"], unique=False)
        batch_op.create_index(
            "ix_call_records_company_id_recordfilename",
            ["company_id", "recordfilename"],
            unique=False,
        )
        batch_op.create_index("ix_call_records_starttime", ["starttime"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_index("ix_call_records_starttime")
        batch_op.drop_index("ix_call_records_company_id_recordfilename")
        batch_op.drop_index("ix_call_records_company_id_id")

    op.drop_table("call_records")
    with op.batch_alter_table("caller_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_caller_numbers_company_id"))

    op.drop_table("caller_numbers")
    with op.batch_alter_table("trunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trunks_company_id"))

    op.drop_table("trunks")
