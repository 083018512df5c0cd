"""Request bodies over the size limit or too slow to arrive, through the HTTP app: each API
answers in its own envelope, and a declared body over the limit is never read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from callyard.api.app import create_app
from callyard.config import Settings
from callyard.container import Container
from callyard.testing.clock import ManualClock
from callyard.testing.forms import php_multipart
from tests.conftest import ADMIN_KEY

MAX_BYTES = 1000
SLOW_SECONDS = 0.2
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}
OVER_LIMIT = f"request body over {MAX_BYTES} bytes"
TOO_SLOW = f"request body not received within {SLOW_SECONDS:g} seconds"


@pytest.fixture
async def http(settings: Settings, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    limited = Settings.from_env(
        {},
        data_dir=settings.data_dir,
        db_url=settings.db_url,
        admin_key=ADMIN_KEY,
        http_max_body_bytes=MAX_BYTES,
        http_body_timeout_seconds=SLOW_SECONDS,
    )
    container = await Container.open(limited, clock=clock, upgrade_schema=False)
    transport = httpx.ASGITransport(app=create_app(container, ADMIN_KEY))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client
    finally:
        await container.close()


class Unread:
    """A request body that records whether anyone asked for a byte of it."""

    def __init__(self) -> None:
        self.read = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.read = True
        yield b"x" * 10


async def slow_body() -> AsyncIterator[bytes]:
    yield b"service=App.Sip_Auth.Login&appid="
    await asyncio.sleep(SLOW_SECONDS * 5)
    yield b"late"


def over_limit_form() -> bytes:
    return b"service=App.Sip_Auth.Login&appid=" + b"a" * MAX_BYTES


async def post(http: httpx.AsyncClient, path: str, **request: Any) -> httpx.Response:
    response = await http.post(path, **request)
    return response


async def test_app_sip_answers_a_body_over_the_limit_in_its_envelope(
    http: httpx.AsyncClient,
) -> None:
    multipart, content_type = php_multipart({"service": "App.Sip_Auth.Login", "x": "a" * 2000})
    for content, headers in (
        (over_limit_form(), URLENCODED),
        (multipart, {"Content-Type": content_type}),
    ):
        response = await post(http, "/", content=content, headers=headers)
        assert response.status_code == 200
        assert response.json() == {"ret": 400, "data": [], "msg": f"Illegal request: {OVER_LIMIT}"}
        assert response.headers["connection"] == "close"


async def test_app_sip_refuses_a_declared_length_over_the_limit_unread(
    http: httpx.AsyncClient,
) -> None:
    body = Unread()
    headers = {**URLENCODED, "Content-Length": str(MAX_BYTES + 1)}
    response = await post(http, "/", content=body, headers=headers)
    assert response.json() == {"ret": 400, "data": [], "msg": f"Illegal request: {OVER_LIMIT}"}
    assert not body.read


async def test_app_sip_answers_a_body_too_slow_in_its_envelope(http: httpx.AsyncClient) -> None:
    response = await post(http, "/", content=slow_body(), headers=URLENCODED)
    assert response.status_code == 200
    assert response.json() == {"ret": 400, "data": [], "msg": f"Illegal request: {TOO_SLOW}"}
    assert response.headers["connection"] == "close"


async def test_voice_code_answers_limits_with_its_parameter_error(
    http: httpx.AsyncClient,
) -> None:
    json_body = b'{"appid": "' + b"a" * MAX_BYTES + b'"}'
    json_type = {"Content-Type": "application/json"}
    for request in (
        {"content": json_body, "headers": json_type},
        {"content": over_limit_form(), "headers": URLENCODED},
        {"content": Unread(), "headers": {**json_type, "Content-Length": str(10**9)}},
    ):
        response = await post(http, "/api/voiceCode", **request)
        assert response.status_code == 200
        assert response.json() == {
            "code": 1001,
            "msg": f"Parameter error: {OVER_LIMIT}",
            "data": {},
        }
    slow = await post(http, "/api/voiceCode", content=slow_body(), headers=URLENCODED)
    assert slow.json() == {"code": 1001, "msg": f"Parameter error: {TOO_SLOW}", "data": {}}


async def test_admin_api_checks_the_key_before_reading_a_body(http: httpx.AsyncClient) -> None:
    body = Unread()
    headers = {"Content-Type": "application/json", "Content-Length": str(10**9)}
    for key in ({}, {"X-Admin-Key": "wrong"}):
        response = await post(http, "/admin/companies", content=body, headers={**headers, **key})
        assert response.status_code == 401
        assert response.json() == {"error": "missing or wrong admin key"}
        assert response.headers["connection"] == "close"
    refused = await post(http, "/admin/companies", content=body, headers={**headers, **AUTH})
    assert refused.status_code == 413
    assert refused.json() == {"error": OVER_LIMIT}
    assert not body.read


async def test_admin_api_answers_limits_with_its_error_body(http: httpx.AsyncClient) -> None:
    large = await post(http, "/admin/companies", json={"name": "a" * MAX_BYTES}, headers=AUTH)
    assert large.status_code == 413
    assert large.json() == {"error": OVER_LIMIT}
    slow = await post(http, "/admin/companies", content=slow_body(), headers=AUTH)
    assert slow.status_code == 408
    assert slow.json() == {"error": TOO_SLOW}
    within = await post(http, "/admin/companies", json={"name": "a" * 100}, headers=AUTH)
    assert within.status_code == 201
    assert "connection" not in within.headers
