"""predictive tasks, their numbers and dial attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callyard.store.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dial_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taskid", sa.String(length=20), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("disnumber", sa.String(length=21), nullable=False),
        sa.Column("startdate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=False),
        sa.Column("windows", sa.String(length=255), nullable=False),
        sa.Column("ring_timeout", sa.Integer(), nullable=False),
        sa.Column("retry_busy", sa.String(length=64), nullable=False),
        sa.Column("retry_noanswer", sa.String(length=64), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("abandon_target", sa.Float(), nullable=False),
        sa.Column("wrapup", sa.Integer(), nullable=False),
        sa.Column("created_at", callyard.store.models.UTCDateTime(), nullable=False),
        sa.Column("started_at", callyard.store.models.UTCDateTime(), nullable=True),
        sa.Column("finished_at", callyard.store.models.UTCDateTime(), nullable=True),
        sa.Column("dialed", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("connected", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.Column("talk_seconds", sa.Integer(), nullable=False),
        sa.Column("staffed_seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_dial_tasks_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["extension_groups.id"],
            name=op.f("fk_dial_tasks_group_id_extension_groups"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dial_tasks")),
        sa.UniqueConstraint("taskid", name=op.f("uq_dial_tasks_taskid")),
    )
    with op.batch_alter_table("dial_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_dial_tasks_company_id_id", ["company_id", "id"], unique=False)
        batch_op.create_index("ix_dial_tasks_status", ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_dial_tasks_group_id"), ["group_id"], unique=False)

    op.create_table(
        "task_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("telphone", sa.String(length=33), nullable=False),
        sa.Column("userid", sa.String(length=128), nullable=False),
        sa.Column("memberid", sa.String(length=128), nullable=False),
        sa.Column("chengshudu", sa.String(length=128), nullable=False),
        sa.Column("customuuid", sa.String(length=128), nullable=False),
        sa.Column("mark", sa.String(length=255), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", callyard.store.models.UTCDateTime(), nullable=True),
        sa.Column("in_flight_call_id", sa.String(length=36), nullable=True),
        sa.Column("extnumber", sa.String(length=64), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=True),
        sa.Column("answertype", sa.String(length=16), nullable=True),
        sa.Column("calltime", callyard.store.models.UTCDateTime(), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=False),
        sa.Column("billsec", sa.Integer(), nullable=False),
        sa.Column("created_at", callyard.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["dial_tasks.id"],
            name=op.f("fk_task_numbers_task_id_dial_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_numbers")),
        sa.UniqueConstraint("task_id", "telphone", name=op.f("uq_task_numbers_task_id_telphone")),
    )
    with op.batch_alter_table("task_numbers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_task_numbers_task_id_status_position",
            ["task_id", "status", "position"],
            unique=False,
        )
        batch_op.create_index(
            "ix_task_numbers_task_id_position", ["task_id", "position"], unique=False
        )

    op.create_table(
        "task_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", callyard.store.models.UTCDateTime(), nullable=False),
        sa.Column("ended_at", callyard.store.models.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("answered_at", callyard.store.models.UTCDateTime(), nullable=True),
        sa.Column("ring_seconds", sa.Float(), nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["task_numbers.id"],
            name=op.f("fk_task_attempts_number_id_task_numbers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["dial_tasks.id"],
            name=op.f("fk_task_attempts_task_id_dial_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_attempts")),
        sa.UniqueConstraint("call_id", name=op.f("uq_task_attempts_call_id")),
    )
    with op.batch_alter_table("task_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_task_attempts_task_id_ended_at", ["task_id", "ended_at"], unique=False
        )
        batch_op.create_index("ix_task_attempts_ended_at", ["ended_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_attempts_number_id"), ["number_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_attempts_number_id"))
        batch_op.drop_index("ix_task_attempts_ended_at")
        batch_op.drop_index("ix_task_attempts_task_id_ended_at")

    op.drop_table("task_attempts")
    with op.batch_alter_table("task_numbers", schema=None) as batch_op:
        batch_op.drop_index("ix_task_numbers_task_id_position")
        batch_op.drop_index("ix_task_numbers_task_id_status_position")

    op.drop_table("task_numbers")
    with op.batch_alter_table("dial_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dial_tasks_group_id"))
        batch_op.drop_index("ix_dial_tasks_status")
        batch_op.drop_index("ix_dial_tasks_company_id_id")

    op.drop_table("dial_tasks")
