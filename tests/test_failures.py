"""Unexpected failures answer with the documented `ret` 500 envelope, never a trace."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.exc import OperationalError

from callyard.container import Container
from callyard.services.extensions import ExtensionService
from tests.conftest import SipClient, Tenant


async def test_a_failing_service_answers_ret_500(
    container: Container,
    sip: SipClient,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ExtensionService, "info", broken)
    with caplog.at_level(logging.ERROR):
        reply = await sip.call(
            {"service": "App.Sip_Sipnum.GetSipnumberInfo", "token": tenant.token, "status": 1}
        )
    assert reply == {"ret": 500, "data": [], "msg": "Server Error"}
    assert "disk on fire" in caplog.text  # logged for the operator, not sent to the client


async def test_database_down_answers_ret_500_and_health_503(
    container: Container, sip: SipClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    @asynccontextmanager
    async def unreachable() -> AsyncIterator[None]:
        raise OperationalError("connect", {}, ConnectionRefusedError("database is down"))
        yield  # pragma: no cover

    monkeypatch.setattr(container.db, "transaction", unreachable)
    monkeypatch.setattr(container.db, "writing", unreachable)
    container.directory.invalidate()
    reply = await sip.call(
        {"service": "App.Sip_Sipnum.GetSipnumberInfo", "token": tenant.token, "status": 1}
    )
    assert reply == {"ret": 500, "data": [], "msg": "Server Error"}
    health = await sip.http.get("/healthz")
    assert health.status_code == 503
    assert health.json() == {"status": "unavailable"}
