"""The admin CLI, run as a user would, against each database backend."""

from __future__ import annotations

import json
from pathlib import Path

from callyard.store import migrate
from callyard.testing.cli import forked, spawned
from callyard.testing.server import callyard


def test_company_and_extension_commands(db_url: str) -> None:
    db = ("--db-url", db_url)
    created = callyard("company", "create", "--name", "Acme", "--appid", "acme01", *db)
    assert set(created) == {"companycode", "companyname", "appid", "accesskey"}
    assert created["appid"] == "acme01"
    assert len(created["accesskey"]) == 32
    code = str(created["companycode"])

    generated = callyard(
        "company", "create", "--name", "Other", "--accesskey", "given-key-123", *db
    )
    assert generated["accesskey"] == "given-key-123"
    assert generated["appid"]
    assert generated["companycode"] == created["companycode"] + 1

    shown = callyard("company", "allow-ip", code, "10.1.0.0/16", "192.0.2.9", *db)
    assert shown["allowed_cidrs"] == ["10.1.0.0/16", "192.0.2.9/32"]
    shown = callyard("company", "allow-ip", code, "10.2.0.0/16", *db)
    assert shown["allowed_cidrs"] == ["10.1.0.0/16", "192.0.2.9/32", "10.2.0.0/16"]
    assert callyard("company", "allow-ip", code, "--clear", *db)["allowed_cidrs"] == []

    shown = callyard("company", "expire", code, "--at", "2030-06-30T12:00:00+07:00", *db)
    assert shown["expires_at"].startswith("2030-06-30T05:00:00")
    assert callyard("company", "expire", code, "--never", *db)["expires_at"] is None

    shown = callyard(
        "company", "capabilities", code, "--disable", "calls", "--disable", "campaigns", *db
    )
    assert shown["disabled_capabilities"] == ["calls", "campaigns"]
    shown = callyard("company", "capabilities", code, "--enable", "calls", *db)
    assert shown["disabled_capabilities"] == ["campaigns"]

    made = callyard(
        "extension",
        "create",
        "--company",
        code,
        "--range",
        "1001-1050",
        "--password",
        "pw-123456",
        *db,
    )
    assert len(made) == 50
    assert made[0]["number"] == "1001"
    assert made[-1]["number"] == "1050"
    single = callyard("extension", "create", "--company", code, "--number", "2001", *db)
    assert single[0]["number"] == "2001"
    assert len(single[0]["password"]) == 12
    assert (
        callyard("extension", "disable", "--company", code, "1001", "1002", *db)[1]["enabled"]
        is False
    )
    assert callyard("extension", "enable", "--company", code, "1002", *db)[0]["enabled"] is True
    listed = callyard("extension", "list", "--company", code, *db)
    assert len(listed) == 51
    assert [e["enabled"] for e in listed[:3]] == [False, True, True]

    companies = callyard("company", "list", *db)
    assert [c["name"] for c in companies] == ["Acme", "Other"]
    assert "accesskey" not in json.dumps(companies)


def test_credential_commands(db_url: str, tmp_path: Path) -> None:
    db = ("--db-url", db_url, "--data-dir", str(tmp_path))
    code = str(callyard("company", "create", "--name", "Keys", *db)["companycode"])
    issued = callyard("credential", "issue", "--company", code, "--kind", "robot", *db)
    assert set(issued) == {"kind", "key_id", "created_at", "secret"}
    assert (tmp_path / "credentials.key").stat().st_mode & 0o077 == 0  # the sealing key
    listed = callyard("credential", "list", "--company", code, *db)
    assert [(c["kind"], c["key_id"]) for c in listed] == [("robot", issued["key_id"])]
    assert "secret" not in listed[0]
    callyard("credential", "revoke", "--company", code, "--key-id", issued["key_id"], *db)
    assert callyard("credential", "list", "--company", code, *db) == []
    refused = callyard("credential", "issue", "--company", code, "--kind", "x", *db, check=False)
    assert refused.returncode != 0
    assert "not a credential kind" in refused.stderr


def test_cli_errors_are_json_on_stderr_with_a_nonzero_exit(db_url: str) -> None:
    db = ("--db-url", db_url)
    code = str(callyard("company", "create", "--name", "A", *db)["companycode"])
    callyard("extension", "create", "--company", code, "--number", "3001", *db)
    cases = [
        (("company", "show", "4242"), 3, "no company with code 4242"),
        (("extension", "create", "--company", code, "--number", "3001"), 4, "already exist"),
        (("extension", "create", "--company", code, "--range", "9-1"), 2, "range"),
        (("company", "allow-ip", code, "not-an-ip"), 2, "not an IP network"),
        (("company", "capabilities", code, "--disable", "nope"), 2, "unknown capability"),
        (("company", "expire", code, "--at", "yesterday"), 2, "not an ISO date"),
        (("company", "expire", code), 2, "exactly one of"),
    ]
    for args, exit_code, message in cases:
        result = callyard(*args, *db, check=False)
        assert result.returncode == exit_code, (args, result.stderr)
        assert message in json.loads(result.stderr.strip().splitlines()[-1])["error"], args
        assert result.stdout == ""


def test_db_upgrade_reports_the_revision(db_url: str) -> None:
    assert callyard("db", "upgrade", "--db-url", db_url) == {"revision": migrate.head_revision()}


def test_a_forked_command_behaves_as_one_started_from_scratch(tmp_path: Path) -> None:
    # The suite forks its commands from a process that imported the CLI once; each
    # command must still see its own arguments, environment and working directory,
    # and give the same output and exit status as `python -m callyard`.
    env = {"CALLYARD_DATA_DIR": str(tmp_path)}
    created = forked(["company", "create", "--name", "Forked"], env)
    assert created.returncode == 0, created.stderr
    for run in (forked, spawned):
        listed = run(["company", "list"], env)
        assert (listed.returncode, listed.stderr) == (0, "")
        assert [c["name"] for c in json.loads(listed.stdout)] == ["Forked"]
        missing = run(["company", "show", "4242"], env)
        assert missing.returncode == 3
        assert json.loads(missing.stderr)["error"] == "no company with code 4242"
        elsewhere = run(["company", "list"], {"CALLYARD_DATA_DIR": str(tmp_path / "other")})
        assert json.loads(elsewhere.stdout) == []
        unknown = run(["no-such-command"], env)
        assert unknown.returncode == 2
        assert "No such command" in unknown.stderr
