"""callyard's own words in the store: call records keep their kind, end reason, the side
that ended them, the SIP status and the Q.850 cause; tasks and their numbers their
states and last outcomes; both the lead's maturity (instead of the first API's codes)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The stored values of revision 0010 and what they become. Frozen here: the code's
# tables may change, what was stored does not.
_KIND = {  # (callmethod, type) -> kind
    (0, "callin"): "inbound_extension",
    (1, "local"): "internal",
    (2, "callout"): "phone_outbound",
    (3, "callout"): "click_to_call",
    (4, "callout"): "two_way",
    (5, "callout"): "predictive",
    (6, "callout"): "voice_message",
    (6, "callin"): "inbound_group",
}
_REASON = {  # hangupcause -> (end_reason, q850_cause)
    10001: ("normal", 16),
    10002: ("cancelled", 16),
    10003: ("declined", 21),
    10004: ("line_failure", 38),
    10005: ("timed_out", 19),
    10006: ("busy", 17),
    10007: ("server_hangup", 16),
    10008: ("not_registered", 20),
    10009: ("unreachable", 27),
    10011: ("timer_expired", 102),
    10012: ("callback_failed", 41),
    10013: ("no_such_extension", 1),
    10014: ("not_found", 1),
    10015: ("request_timeout", 102),
    10016: ("no_answer", 19),
    10017: ("invalid", 28),
    10019: ("origin_unknown", 31),
    10020: ("other", 31),
    10024: ("bad_request", 41),
    10025: ("forbidden", 21),
    10027: ("number_changed", 22),
    10028: ("intercepted", 21),
    10031: ("unknown", 127),
}
_BY = {10040: "caller", 10041: "callee"}
_TASK_STATE = {1025: "not_started", 1026: "running", 1027: "paused", 1028: "over"}
_NUMBER_STATE = {1035: "pending", 1036: "called"}
_ANSWERTYPE = {"connected": "connected", "caller": "abandoned", "callee": "no_answer"}

# The columns the conversions read and write, old and new.
_RECORDS = sa.table(
    "call_records",
    sa.column("callmethod", sa.Integer),
    sa.column("type", sa.String),
    sa.column("hangupcause", sa.Integer),
    sa.column("hangupdirection", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("end_reason", sa.String),
    sa.column("ended_by", sa.String),
    sa.column("q850_cause", sa.Integer),
)
_TASKS = sa.table("dial_tasks", sa.column("status", sa.Integer), sa.column("state", sa.String))
_NUMBERS = sa.table(
    "task_numbers",
    sa.column("id", sa.Integer),
    sa.column("status", sa.Integer),
    sa.column("state", sa.String),
    sa.column("answertype", sa.String),
    sa.column("last_outcome", sa.String),
)


def _case(
    column: sa.ColumnElement[object], mapping: Mapping[Any, object], default: object
) -> sa.Case[object]:
    return sa.case(*((column == old, new) for old, new in mapping.items()), else_=default)


def upgrade() -> None:
    records = _RECORDS
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("ended_by", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("sip_status", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("q850_cause", sa.Integer(), nullable=True))
        batch_op.alter_column("chengshudu", new_column_name="maturity")
    kinds = sa.case(
        *(
            (sa.and_(records.c.callmethod == method, records.c.type == kind), new)
            for (method, kind), new in _KIND.items()
        ),
        else_="click_to_call",
    )
    op.execute(
        records.update().values(
            kind=kinds,
            end_reason=_case(
                records.c.hangupcause, {c: r for c, (r, _) in _REASON.items()}, "unknown"
            ),
            q850_cause=_case(records.c.hangupcause, {c: q for c, (_, q) in _REASON.items()}, 127),
            ended_by=_case(records.c.hangupdirection, _BY, "caller"),
        )
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        for name in ("kind", "end_reason", "ended_by", "q850_cause"):
            batch_op.alter_column(name, nullable=False)
        for name in ("callmethod", "type", "hangupcause", "hangupdirection"):
            batch_op.drop_column(name)

    # Tasks and their numbers have rows that refer to them (numbers, attempts): altered
    # in place, never copied to a new table (on SQLite a copy would cascade deletes).
    tasks = _TASKS
    op.add_column(
        "dial_tasks",
        sa.Column("state", sa.String(length=16), nullable=False, server_default="not_started"),
    )
    op.execute(tasks.update().values(state=_case(tasks.c.status, _TASK_STATE, "over")))
    op.drop_index("ix_dial_tasks_status", table_name="dial_tasks")
    op.drop_column("dial_tasks", "status")
    op.create_index("ix_dial_tasks_state", "dial_tasks", ["state"], unique=False)

    numbers = _NUMBERS
    attempts = sa.table(
        "task_attempts",
        sa.column("number_id", sa.Integer),
        sa.column("outcome", sa.String),
        sa.column("ended_at", sa.DateTime),
        sa.column("id", sa.Integer),
    )
    op.add_column(
        "task_numbers",
        sa.Column("state", sa.String(length=8), nullable=False, server_default="pending"),
    )
    op.add_column("task_numbers", sa.Column("last_outcome", sa.String(length=16), nullable=True))
    op.alter_column("task_numbers", "chengshudu", new_column_name="maturity")
    # A number's last outcome is its last ended attempt's; where attempts were pruned,
    # the nearest the old answer type says.
    last_attempt = (
        sa.select(attempts.c.outcome)
        .where(attempts.c.number_id == numbers.c.id, attempts.c.outcome.is_not(None))
        .order_by(attempts.c.ended_at.desc(), attempts.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    op.execute(
        numbers.update().values(
            state=_case(numbers.c.status, _NUMBER_STATE, "called"),
            last_outcome=sa.case(
                (numbers.c.answertype.is_(None), None),
                else_=sa.func.coalesce(
                    last_attempt, _case(numbers.c.answertype, _ANSWERTYPE, "no_answer")
                ),
            ),
        )
    )
    op.drop_index("ix_task_numbers_task_id_status_position", table_name="task_numbers")
    op.drop_column("task_numbers", "status")
    op.drop_column("task_numbers", "answertype")
    op.create_index(
        "ix_task_numbers_task_id_state_position", "task_numbers", ["task_id", "state", "position"]
    )


def downgrade() -> None:
    records = _RECORDS
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callmethod", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("type", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("hangupcause", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("hangupdirection", sa.Integer(), nullable=True))
        batch_op.alter_column("maturity", new_column_name="chengshudu")
    op.execute(
        records.update().values(
            callmethod=_case(records.c.kind, {k: m for (m, _), k in _KIND.items()}, 3),
            type=_case(records.c.kind, {k: t for (_, t), k in _KIND.items()}, "callout"),
            hangupcause=_case(records.c.end_reason, {r: c for c, (r, _) in _REASON.items()}, 10031),
            hangupdirection=_case(records.c.ended_by, {b: c for c, b in _BY.items()}, 10040),
        )
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        for name in ("callmethod", "type", "hangupcause", "hangupdirection"):
            batch_op.alter_column(name, nullable=False)
        for name in ("kind", "end_reason", "ended_by", "sip_status", "q850_cause"):
            batch_op.drop_column(name)

    tasks = _TASKS
    op.add_column(
        "dial_tasks", sa.Column("status", sa.Integer(), nullable=False, server_default="1025")
    )
    op.execute(
        tasks.update().values(
            status=_case(tasks.c.state, {s: c for c, s in _TASK_STATE.items()}, 1028)
        )
    )
    op.drop_index("ix_dial_tasks_state", table_name="dial_tasks")
    op.drop_column("dial_tasks", "state")
    op.create_index("ix_dial_tasks_status", "dial_tasks", ["status"], unique=False)

    numbers = _NUMBERS
    op.add_column(
        "task_numbers", sa.Column("status", sa.Integer(), nullable=False, server_default="1035")
    )
    op.add_column("task_numbers", sa.Column("answertype", sa.String(length=16), nullable=True))
    op.alter_column("task_numbers", "maturity", new_column_name="chengshudu")
    op.execute(
        numbers.update().values(
            status=_case(numbers.c.state, {s: c for c, s in _NUMBER_STATE.items()}, 1036),
            answertype=sa.case(
                (numbers.c.last_outcome.is_(None), None),
                (numbers.c.last_outcome == "connected", "connected"),
                (numbers.c.last_outcome == "abandoned", "caller"),
                else_="callee",
            ),
        )
    )
    op.drop_index("ix_task_numbers_task_id_state_position", table_name="task_numbers")
    op.drop_column("task_numbers", "state")
    op.drop_column("task_numbers", "last_outcome")
    op.create_index(
        "ix_task_numbers_task_id_status_position",
        "task_numbers",
        ["task_id", "status", "position"],
    )
