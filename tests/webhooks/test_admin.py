"""`callyard webhook ...` run as a user would, and the /admin webhook routes."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import httpx
from sqlalchemy import update

from callyard.config import Settings
from callyard.container import Container
from callyard.store.models import WebhookEventRow
from callyard.testing.server import callyard, free_port
from tests.conftest import ADMIN_KEY
from tests.factories import caller_of
from tests.webhooks.conftest import place_call

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
SETTINGS_KEYS = {
    "company_code",
    "call_state_url",
    "cdr_url",
    "enabled",
    "secret_created_at",
    "updated_at",
    "pushes",
}


def refused_url() -> str:
    """A URL nothing listens on: every attempt fails at once."""
    return f"http://127.0.0.1:{free_port()}/hooks"


async def _dead_call(settings: Settings, code: int) -> None:
    """A whole call whose seven events all die (one attempt each)."""
    container = await Container.open(replace(settings, webhook_max_attempts=1))
    try:
        container.delivery.start()
        await place_call(container, await caller_of(container, code), "call-1")
        await container.outbox.flush()
        await container.delivery.idle()
    finally:
        await container.close()


def test_webhook_commands(db_url: str, tmp_path: Path) -> None:
    db = ("--db-url", db_url, "--data-dir", str(tmp_path / "data"))
    code = str(callyard("company", "create", "--name", "Acme", *db)["companycode"])
    assert callyard("webhook", "show", "--company", code, *db) == {
        "company_code": int(code),
        "call_state_url": None,
        "cdr_url": None,
        "enabled": False,
        "secret_created_at": None,
        "updated_at": None,
        "pushes": {},
    }

    url = refused_url()
    created = callyard("webhook", "set", "--company", code, "--cdr-url", url, *db)
    assert created["secret"].startswith("whsec_")
    assert (created["cdr_url"], created["call_state_url"], created["enabled"]) == (url, None, True)
    changed = callyard(
        "webhook", "set", "--company", code, "--call-state-url", url, "--disable", *db
    )
    assert changed["secret"] is None
    assert (changed["cdr_url"], changed["call_state_url"], changed["enabled"]) == (url, url, False)
    shown = callyard("webhook", "show", "--company", code, *db)
    assert set(shown) == SETTINGS_KEYS
    assert shown["enabled"] is False
    rotated = callyard("webhook", "set", "--company", code, "--rotate-secret", "--enable", *db)
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    assert rotated["enabled"] is True

    settings = Settings.from_env({}, data_dir=tmp_path / "data", db_url=db_url)
    asyncio.run(_dead_call(settings, int(code)))
    logged = callyard("webhook", "log", "--company", code, *db)
    assert [d["seq"] for d in logged] == [7, 6, 5, 4, 3, 2, 1]
    assert [d["kind"] for d in logged] == ["call_record"] + ["call_state"] * 6
    for delivery in logged:
        assert (delivery["status"], delivery["attempts"], delivery["call_uuid"]) == (
            "dead",
            1,
            "call-1",
        )
        assert delivery["last_status_code"] is None
        assert "ConnectError" in delivery["last_error"]
        assert delivery["next_attempt_at"] is None
        assert delivery["delivered_at"] is None
        assert delivery["created_at"]
        [attempt] = delivery["history"]
        assert attempt["status_code"] is None
        assert attempt["error"] == delivery["last_error"]
    assert len(callyard("webhook", "log", "--company", code, "--limit", "2", *db)) == 2
    assert callyard("webhook", "log", "--company", code, "--status", "pending", *db) == []

    first = logged[-1]["event_id"]
    again = callyard("webhook", "redeliver", first, *db)
    assert (again["event_id"], again["status"], again["attempts"]) == (first, "pending", 0)
    assert again["next_attempt_at"]
    assert len(again["history"]) == 1
    pending = callyard("webhook", "log", "--company", code, "--status", "pending", *db)
    assert [d["event_id"] for d in pending] == [first]
    assert callyard("webhook", "redeliver", "--dead", "--company", code, *db) == {"redelivered": 6}
    assert callyard("webhook", "redeliver", "--dead", *db) == {"redelivered": 0}
    assert callyard("webhook", "log", "--company", code, "--status", "dead", *db) == []

    cases = [
        (("webhook", "set", "--company", code, "--cdr-url", "ftp://x.example/"), 2),
        (("webhook", "set", "--company", code, "--call-state-url", "no url"), 2),
        (("webhook", "set", "--company", "4242", "--cdr-url", url), 3),
        (("webhook", "show", "--company", "4242"), 3),
        (("webhook", "log", "--company", code, "--status", "lost"), 2),
        (("webhook", "log", "--company", code, "--limit", "0"), 2),
        (("webhook", "log", "--company", "4242"), 3),
        (("webhook", "redeliver"), 2),
        (("webhook", "redeliver", first, "--dead"), 2),
        (("webhook", "redeliver", first, "--company", code), 2),
        (("webhook", "redeliver", "no-such-event"), 3),
        (("webhook", "redeliver", "--dead", "--company", "4242"), 3),
    ]
    for args, exit_code in cases:
        result = callyard(*args, *db, check=False)
        assert result.returncode == exit_code, (args, result.stderr)
        if "--limit" not in args:  # typer's own range check prints text
            assert json.loads(result.stderr.strip().splitlines()[-1])["error"]
    assert callyard("webhook", "show", "--company", code, *db)["cdr_url"] == url


async def test_admin_routes(http: httpx.AsyncClient, container: Container) -> None:
    code = (await container.companies.create("acme")).companycode
    base = f"/admin/companies/{code}/webhook"
    empty = (await http.get(base, headers=AUTH)).json()
    assert empty == {
        "company_code": code,
        "call_state_url": None,
        "cdr_url": None,
        "enabled": False,
        "secret_created_at": None,
        "updated_at": None,
        "pushes": {},
    }

    bad = await http.put(base, json={"cdr_url": "mailto:crm@example.com"}, headers=AUTH)
    assert bad.status_code == 422
    assert "cdr_url" in bad.json()["error"]
    assert (await http.put(base, json={"enabled": "maybe"}, headers=AUTH)).status_code == 422
    url = refused_url()
    created = await http.put(base, json={"cdr_url": url, "call_state_url": url}, headers=AUTH)
    assert created.status_code == 200
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    changed = (await http.put(base, json={"enabled": False}, headers=AUTH)).json()
    assert (changed["secret"], changed["enabled"], changed["cdr_url"]) == (None, False, url)
    shown = (await http.get(base, headers=AUTH)).json()
    assert set(shown) == SETTINGS_KEYS
    rotated = (await http.post(f"{base}/rotate-secret", headers=AUTH)).json()
    assert rotated["secret"] not in (None, secret)
    assert rotated["enabled"] is False
    await http.put(base, json={"enabled": True}, headers=AUTH)

    await place_call(container, await caller_of(container, code), "call-1")
    await container.outbox.flush()
    listed = (await http.get(f"{base}/deliveries", headers=AUTH)).json()
    assert [(d["seq"], d["status"], d["attempts"]) for d in listed] == [
        (seq, "pending", 0) for seq in range(7, 0, -1)
    ]
    one = await http.get(f"{base}/deliveries", params={"limit": 1}, headers=AUTH)
    assert [d["seq"] for d in one.json()] == [7]
    async with container.db.writing() as session:
        await session.execute(update(WebhookEventRow).values(status="dead"))
    dead = await http.get(f"{base}/deliveries", params={"status": "dead"}, headers=AUTH)
    assert len(dead.json()) == 7
    for params in ({"status": "lost"}, {"limit": 0}, {"limit": 1001}):
        got = await http.get(f"{base}/deliveries", params=params, headers=AUTH)
        assert got.status_code == 422

    event_id = listed[0]["event_id"]
    again = await http.post(f"/admin/webhook/deliveries/{event_id}/redeliver", headers=AUTH)
    assert again.status_code == 200
    assert (again.json()["event_id"], again.json()["status"]) == (event_id, "pending")
    missing = await http.post("/admin/webhook/deliveries/nope/redeliver", headers=AUTH)
    assert missing.status_code == 404
    redelivered = await http.post(f"{base}/redeliver-dead", headers=AUTH)
    assert redelivered.json() == {"redelivered": 6}
    pending = await http.get(f"{base}/deliveries", params={"status": "pending"}, headers=AUTH)
    assert len(pending.json()) == 7

    for method, path in (
        ("GET", "/admin/companies/4242/webhook"),
        ("PUT", "/admin/companies/4242/webhook"),
        ("POST", "/admin/companies/4242/webhook/rotate-secret"),
        ("GET", "/admin/companies/4242/webhook/deliveries"),
        ("POST", "/admin/companies/4242/webhook/redeliver-dead"),
    ):
        got = await http.request(method, path, json={}, headers=AUTH)
        assert got.status_code == 404, (method, path)
        assert got.json()["error"]
        assert (await http.request(method, path, json={})).status_code == 401

    paths = (await http.get("/openapi.json")).json()["paths"]
    assert set(paths["/admin/companies/{code}/webhook"]) == {"get", "put"}
    for path in (
        "/admin/companies/{code}/webhook/rotate-secret",
        "/admin/companies/{code}/webhook/deliveries",
        "/admin/companies/{code}/webhook/redeliver-dead",
        "/admin/webhook/deliveries/{event_id}/redeliver",
    ):
        assert path in paths
