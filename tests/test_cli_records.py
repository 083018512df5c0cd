"""The trunk, number, cdr and recordings commands, run as a user would."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from callyard.config import Settings
from callyard.container import Container
from callyard.testing.server import callyard
from tests.factories import call_record, caller_of, write_wav


def test_trunk_commands(db_url: str) -> None:
    db = ("--db-url", db_url)
    code = str(callyard("company", "create", "--name", "Acme", *db)["companycode"])
    added = callyard(
        "trunk", "add", "--company", code, "--name", "carrier", "--host", "sip.example.com", *db
    )
    assert {k: v for k, v in added.items() if k != "id"} == {
        "company_code": int(code),
        "name": "carrier",
        "host": "sip.example.com",
        "port": 5060,
        "username": None,
        "password": None,
    }
    second = callyard(
        "trunk",
        "add",
        "--company",
        code,
        "--name",
        "backup",
        "--host",
        "192.0.2.7",
        "--port",
        "5080",
        "--username",
        "acme",
        "--password",
        "pw-1",
        *db,
    )
    assert (second["port"], second["username"], second["password"]) == (5080, "acme", "pw-1")
    listed = callyard("trunk", "list", "--company", code, *db)
    assert [t["name"] for t in listed] == ["carrier", "backup"]
    removed = callyard("trunk", "remove", "--company", code, "--name", "carrier", *db)
    assert removed == added
    assert callyard("trunk", "list", "--company", code, *db) == [second]

    cases = [
        (("trunk", "add", "--company", code, "--name", "backup", "--host", "h.example"), 4),
        (("trunk", "add", "--company", code, "--name", "x", "--host", "bad host"), 2),
        (("trunk", "add", "--company", code, "--name", "x", "--host", "h", "--port", "0"), 2),
        (("trunk", "add", "--company", code, "--name", "x", "--host", "h", "--username", "u"), 2),
        (("trunk", "remove", "--company", code, "--name", "carrier"), 3),
        (("trunk", "list", "--company", "4242"), 3),
    ]
    for args, exit_code in cases:
        result = callyard(*args, *db, check=False)
        assert result.returncode == exit_code, (args, result.stderr)
        assert json.loads(result.stderr.strip().splitlines()[-1])["error"]


UNROUTED = {"route_extension": None, "route_group": None}


def test_number_commands(db_url: str) -> None:
    db = ("--db-url", db_url)
    code = str(callyard("company", "create", "--name", "Acme", *db)["companycode"])
    other = str(callyard("company", "create", "--name", "Other", *db)["companycode"])
    assert callyard("number", "add", "--company", code, "--number", "02566823420", *db) == {
        "number": "02566823420",
        "enabled": True,
        **UNROUTED,
    }
    disabled = callyard(
        "number", "add", "--company", code, "--number", "+8613800138000", "--disabled", *db
    )
    assert disabled == {"number": "+8613800138000", "enabled": False, **UNROUTED}
    enabled = callyard("number", "enable", "--company", code, "+8613800138000", *db)
    assert enabled == [{"number": "+8613800138000", "enabled": True, **UNROUTED}]
    both = callyard("number", "disable", "--company", code, "02566823420", "+8613800138000", *db)
    assert [n["enabled"] for n in both] == [False, False]
    assert [n["number"] for n in callyard("number", "list", "--company", code, *db)] == [
        "+8613800138000",
        "02566823420",
    ]

    cases = [
        (("number", "add", "--company", other, "--number", "02566823420"), 4),
        (("number", "add", "--company", code, "--number", "12"), 2),
        (("number", "enable", "--company", other, "02566823420"), 3),
        (("number", "list", "--company", "4242"), 3),
    ]
    for args, exit_code in cases:
        result = callyard(*args, *db, check=False)
        assert result.returncode == exit_code, (args, result.stderr)
        assert json.loads(result.stderr.strip().splitlines()[-1])["error"]


async def _record_calls(settings: Settings, code: int, started: list[datetime]) -> Path:
    """Stores calls with recordings; returns the first one's WAV."""
    container = await Container.open(settings, upgrade_schema=False)
    try:
        caller = await caller_of(container, code)
        paths = []
        for i, start in enumerate(started):
            path, filename = container.recordings.path_for(code, f"call-{i}", start)
            write_wav(path)
            paths.append(path)
            rec = call_record(caller, start, uuid=f"call-{i}", recordfilename=filename)
            await container.cdrs.record(rec)
        return paths[0]
    finally:
        await container.close()


def test_cdr_list_and_recordings_purge(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    args = ("--db-url", db_url, "--data-dir", str(data))
    code = callyard("company", "create", "--name", "Acme", *args)["companycode"]
    now = datetime.now(UTC).replace(microsecond=0)
    settings = Settings.from_env({}, data_dir=data, db_url=db_url)
    old_wav = asyncio.run(
        _record_calls(settings, code, [now - timedelta(days=100), now - timedelta(hours=1)])
    )

    listed = callyard("cdr", "list", "--company", str(code), *args)
    assert [c["uuid"] for c in listed] == ["call-1", "call-0"]
    assert listed[1]["starttime"] == f"{now - timedelta(days=100):%Y-%m-%d %H:%M:%S}"
    assert type(listed[0]["companycode"]) is int
    one = callyard("cdr", "list", "--company", str(code), "--limit", "1", *args)
    assert [c["uuid"] for c in one] == ["call-1"]
    zoned = callyard(
        "cdr", "list", "--company", str(code), *args, env={"CALLYARD_TIMEZONE": "Asia/Shanghai"}
    )
    shanghai = (now - timedelta(days=100) + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
    assert zoned[1]["starttime"] == shanghai
    bad = callyard("cdr", "list", "--company", str(code), "--limit", "0", *args, check=False)
    assert bad.returncode == 2

    assert old_wav.exists()
    assert callyard("recordings", "purge", *args) == {"purged": 1}
    assert not old_wav.exists()
    assert callyard("recordings", "purge", *args) == {"purged": 0}
    short = callyard("recordings", "purge", *args, env={"CALLYARD_RECORDING_RETENTION_DAYS": "1"})
    assert short == {"purged": 0}  # the other call is an hour old
