"""`callyard serve` delivers: events written before it started, and redeliveries asked
for by the CLI beside it."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import orjson
import pytest

from callyard.config import Settings
from callyard.container import Container
from callyard.testing.receiver import Receiver
from callyard.testing.server import Server, callyard
from callyard.webhooks import signing
from tests.factories import caller_of
from tests.webhooks.conftest import place_call

pytestmark = pytest.mark.e2e


async def _call_without_a_worker(settings: Settings, code: int) -> None:
    container = await Container.open(settings, upgrade_schema=False)
    try:
        await place_call(container, await caller_of(container, code), "call-1")
    finally:
        await container.close()


def test_serve_sends_waiting_events_and_cli_redeliveries(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = ("--db-url", db_url, "--data-dir", str(data))
    receiver = Receiver()
    receiver.start()
    try:
        code = callyard("company", "create", "--name", "Acme", *db)["companycode"]
        secret = callyard(
            "webhook", "set", "--company", str(code),
            "--call-state-url", receiver.url, "--cdr-url", receiver.url, *db,
        )["secret"]  # fmt: skip
        settings = Settings.from_env({}, data_dir=data, db_url=db_url)
        asyncio.run(_call_without_a_worker(settings, code))
        assert receiver.requests == []

        server = Server(data, "--db-url", db_url)
        try:
            requests = receiver.wait_for(7)
            bodies = [orjson.loads(r.body) for r in requests]
            assert [b.get("status", "record") for b in bodies] == [
                "ring", "answer", "ring", "answer", "hangup", "hangup", "record",
            ]  # fmt: skip
            for request in requests:
                assert signing.verify(
                    secret,
                    request.headers["x-callyard-timestamp"],
                    request.headers["x-callyard-signature"],
                    request.body,
                    now=time.time(),
                )
            event_id = requests[6].headers["x-callyard-event-id"]
            callyard("webhook", "redeliver", event_id, *db)
            again = receiver.wait_for(8)[7]
            assert again.headers["x-callyard-event-id"] == event_id
            assert again.body == requests[6].body
        finally:
            assert server.stop(signal.SIGTERM) == 0, server.stderr
    finally:
        receiver.stop()
