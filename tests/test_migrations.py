"""Revision 0011 turns the first API's codes stored so far into callyard's own words,
and back."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from callyard.store import migrate
from callyard.store.database import Database
from tests.conftest import PG_URL_ENV, _backends, pg_admin

AT = datetime(2026, 12, 1, 9, 0)  # naive UTC: raw inserts take the stored form


@pytest.fixture(params=_backends())
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database of each backend with no schema at all."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
        yield db
        await db.close()
        return
    server = os.environ[PG_URL_ENV]
    name = f"callyard_migration_{uuid.uuid4().hex[:10]}"
    await pg_admin(server, f'CREATE DATABASE "{name}"')
    db = Database(make_url(server).set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        await db.close()
        await pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


RECORD = (
    "INSERT INTO call_records (id, uuid, company_id, companycode, callmethod, type, extnumber,"
    " destnumber, disnumber, crmid, chengshudu, memberid, customuuid, userkey, starttime,"
    " endtime, duration, billsec, hangupcause, hangupdirection, recordfilename, downloadip)"
    " VALUES (:id, :uuid, 1, 1001, :method, :type, '', '628', '', '', :maturity, '', '', '',"
    " :at, :at, 0, 0, :cause, :direction, '', '')"
)


async def _old_rows(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO companies (id, code, name, appid, accesskey_hash, authorized_at,"
                " allowed_cidrs, disabled_modules) VALUES (1, 1001, 'acme', 'app', 'x', :at,"
                " '[]', '[]')"
            ),
            {"at": AT},
        )
        for row in (
            (1, 3, "callout", 10001, 10040, "90"),
            (2, 0, "callin", 10016, 10041, ""),
            (3, 6, "callin", 10006, 10040, ""),
            (4, 6, "callout", 10007, 10040, ""),
            (5, 1, "local", 10004, 10041, ""),
        ):
            number, method, kind, cause, direction, maturity = row
            await session.execute(
                text(RECORD),
                {
                    "id": number,
                    "uuid": f"u-{number}",
                    "method": method,
                    "type": kind,
                    "cause": cause,
                    "direction": direction,
                    "maturity": maturity,
                    "at": AT,
                },
            )
        await session.execute(
            text(
                "INSERT INTO dial_tasks (id, taskid, company_id, name, status, disnumber,"
                " startdate, enddate, windows, ring_timeout, retry_busy, retry_noanswer,"
                " max_attempts, abandon_target, wrapup, created_at, dialed, answered, connected,"
                " abandoned, talk_seconds, staffed_seconds, talking_seconds, held_reason)"
                " VALUES (1, 't1', 1, 'n', 1026, '', :day, :day, '09:00-18:00', 30, '', '', 1,"
                " 0.03, 10, :at, 0, 0, 0, 0, 0, 0, 0, ''),"
                " (2, 't2', 1, 'n', 1028, '', :day, :day, '09:00-18:00', 30, '', '', 1,"
                " 0.03, 10, :at, 0, 0, 0, 0, 0, 0, 0, '')"
            ),
            {"at": AT, "day": AT.date()},
        )
        for number, status, answertype in (
            (1, 1035, None),
            (2, 1036, "connected"),
            (3, 1036, "caller"),
            (4, 1036, "callee"),
            (5, 1036, "callee"),
        ):
            await session.execute(
                text(
                    "INSERT INTO task_numbers (id, task_id, position, telphone, userid, memberid,"
                    " chengshudu, customuuid, mark, status, attempts, answertype, duration,"
                    " billsec, created_at) VALUES (:id, 1, :id, :phone, '', '', 'hot', '', '',"
                    " :status, 1, :answertype, 0, 0, :at)"
                ),
                {
                    "id": number,
                    "phone": f"62800{number}",
                    "status": status,
                    "answertype": answertype,
                    "at": AT,
                },
            )
        # Number 4's last dial was busy; number 5's attempts were pruned.
        await session.execute(
            text(
                "INSERT INTO task_attempts (task_id, number_id, call_id, attempt, started_at,"
                " ended_at, outcome) VALUES (1, 4, 'a-4', 1, :at, :at, 'busy')"
            ),
            {"at": AT},
        )


async def _rows(db: Database, query: str) -> list[tuple[object, ...]]:
    async with db.transaction() as session:
        return [tuple(row) for row in await session.execute(text(query))]


async def test_stored_codes_become_callyards_words_and_back(empty_db: Database) -> None:
    db = empty_db
    assert await migrate.upgrade(db, "0010") == "0010"
    await _old_rows(db)

    assert await migrate.upgrade(db) == migrate.head_revision()
    assert await _rows(
        db,
        "SELECT kind, end_reason, ended_by, sip_status, q850_cause, maturity"
        " FROM call_records ORDER BY id",
    ) == [
        ("click_to_call", "normal", "caller", None, 16, "90"),
        ("inbound_extension", "no_answer", "callee", None, 19, ""),
        ("inbound_group", "busy", "caller", None, 17, ""),
        ("voice_message", "server_hangup", "caller", None, 16, ""),
        ("internal", "line_failure", "callee", None, 38, ""),
    ]
    assert await _rows(db, "SELECT state FROM dial_tasks ORDER BY id") == [("running",), ("over",)]
    assert await _rows(
        db, "SELECT state, last_outcome, maturity FROM task_numbers ORDER BY id"
    ) == [
        ("pending", None, "hot"),
        ("called", "connected", "hot"),
        ("called", "abandoned", "hot"),
        ("called", "busy", "hot"),
        ("called", "no_answer", "hot"),
    ]

    # Nothing that refers to a task or a number went with the change.
    assert await _rows(db, "SELECT call_id, outcome FROM task_attempts") == [("a-4", "busy")]

    assert await migrate.downgrade(db, "0010") == "0010"
    assert await _rows(
        db,
        "SELECT callmethod, type, hangupcause, hangupdirection, chengshudu"
        " FROM call_records ORDER BY id",
    ) == [
        (3, "callout", 10001, 10040, "90"),
        (0, "callin", 10016, 10041, ""),
        (6, "callin", 10006, 10040, ""),
        (6, "callout", 10007, 10040, ""),
        (1, "local", 10004, 10041, ""),
    ]
    assert await _rows(db, "SELECT status FROM dial_tasks ORDER BY id") == [(1026,), (1028,)]
    assert await _rows(db, "SELECT status, answertype FROM task_numbers ORDER BY id") == [
        (1035, None),
        (1036, "connected"),
        (1036, "caller"),
        (1036, "callee"),
        (1036, "callee"),
    ]


async def test_widening_push_kinds_keeps_every_delivery_attempt(empty_db: Database) -> None:
    """0014 copies webhook_events on SQLite; its attempts must survive the copy."""
    db = empty_db
    assert await migrate.upgrade(db, "0013") == "0013"
    async with db.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO companies (id, code, name, appid, accesskey_hash, authorized_at,"
                " allowed_cidrs, disabled_modules) VALUES (1, 1001, 'acme', 'app', 'x', :at,"
                " '[]', '[]')"
            ),
            {"at": AT},
        )
        await connection.execute(
            text(
                "INSERT INTO webhook_events (id, event_id, company_id, call_id, seq, kind, url,"
                " body, status, attempts, next_attempt_at, created_at) VALUES (1, 'e1', 1,"
                " 'c1', 1, 'call_record', 'http://x/', '{}', 'delivered', 1, :at, :at)"
            ),
            {"at": AT},
        )
        await connection.execute(
            text(
                "INSERT INTO webhook_attempts (id, event_id, attempted_at, status_code,"
                " elapsed_ms) VALUES (1, 1, :at, 200, 12)"
            ),
            {"at": AT},
        )
    assert await migrate.upgrade(db) == migrate.head_revision()
    async with db.engine.connect() as connection:
        attempts = (await connection.execute(text("SELECT event_id FROM webhook_attempts"))).all()
        kinds = (await connection.execute(text("SELECT kind FROM webhook_events"))).all()
    assert ([tuple(a) for a in attempts], [tuple(k) for k in kinds]) == ([(1,)], [("call_record",)])
    assert await migrate.downgrade(db, "0013") == "0013"
    async with db.engine.connect() as connection:
        count = await connection.scalar(text("SELECT count(*) FROM webhook_attempts"))
    assert count == 1
