"""Fixtures: a real database per test (SQLite file, and PostgreSQL when configured),
the HTTP app in-process, and a client that posts forms as the seeds' PHP does."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from callyard.api.app import create_app
from callyard.config import Settings
from callyard.container import Container
from callyard.store import migrate
from callyard.store.database import Database
from callyard.store.models import Base
from callyard.testing.clock import ManualClock
from callyard.testing.forms import FormValue, php_multipart

PG_URL_ENV = "CALLYARD_TEST_PG_URL"
ADMIN_KEY = "test-admin-key"
TENANT_PASSWORD = "lime-7-falcon"  # the SIP password of the tenants' extensions


def _backends() -> list[Any]:
    marks = []
    if not os.environ.get(PG_URL_ENV):
        if os.environ.get("CI"):
            raise RuntimeError(f"{PG_URL_ENV} must be set in CI: scripts/test starts PostgreSQL")
        marks = [pytest.mark.skip(reason=f"{PG_URL_ENV} not set (scripts/test sets it)")]
    return ["sqlite", pytest.param("postgresql", marks=marks)]


async def _migrated(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "callyard.db"
    asyncio.run(_migrated(f"sqlite+aiosqlite:///{path}"))
    return path


async def pg_admin(server: str, statement: str) -> None:
    """Run a statement outside any transaction on the PostgreSQL server (CREATE DATABASE)."""
    db = Database(server)
    try:
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await db.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database for this test run, migrated once."""
    server = os.environ[PG_URL_ENV]
    name = f"callyard_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_admin(server, f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_migrated(url))
    yield url
    asyncio.run(pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    db = Database(url)
    try:
        async with db.transaction() as session:
            tables = ", ".join(
                t.name for t in Base.metadata.sorted_tables if t.name != "store_revision"
            )
            await session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await db.close()


@pytest.fixture(params=_backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "callyard.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        db_url=db_url,
        admin_key=ADMIN_KEY,
        login_failure_delay_seconds=0.0,  # the delay itself is tested on its own
    )


@pytest.fixture
async def container(settings: Settings, clock: ManualClock) -> AsyncIterator[Container]:
    opened = await Container.open(settings, clock=clock, upgrade_schema=False)
    yield opened
    await opened.close()


class SipClient:
    """Posts App.Sip_* requests the way the seeds' PHP examples do."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(self, fields: Mapping[str, FormValue]) -> dict[str, Any]:
        body, content_type = php_multipart(fields)
        response = await self.http.post("/", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    async def urlencoded(self, fields: Mapping[str, FormValue]) -> dict[str, Any]:
        response = await self.http.post("/", data={k: str(v) for k, v in fields.items()})
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    async def login(self, appid: str, accesskey: str) -> str:
        reply = await self.call(
            {"service": "App.Sip_Auth.Login", "appid": appid, "accesskey": accesskey}
        )
        assert reply["ret"] == 200, reply
        token: str = reply["data"]["result"]["token"]
        return token


@pytest.fixture
async def http(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(container, ADMIN_KEY)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
        yield client


@pytest.fixture
def sip(http: httpx.AsyncClient) -> SipClient:
    return SipClient(http)


@dataclass(frozen=True)
class Tenant:
    """A company with extensions and a logged-in token."""

    code: int
    appid: str
    accesskey: str
    token: str
    extensions: list[str]


async def make_tenant(container: Container, sip: SipClient, name: str, first: int) -> Tenant:
    created = await container.companies.create(name)
    numbers = [str(n) for n in range(first, first + 3)]
    await container.extensions.create(created.companycode, numbers, TENANT_PASSWORD)
    token = await sip.login(created.appid, created.accesskey)
    return Tenant(created.companycode, created.appid, created.accesskey, token, numbers)


@pytest.fixture
async def tenant(container: Container, sip: SipClient) -> Tenant:
    return await make_tenant(container, sip, "acme", 8001)


@pytest.fixture
async def other(container: Container, sip: SipClient) -> Tenant:
    return await make_tenant(container, sip, "globex", 9001)
