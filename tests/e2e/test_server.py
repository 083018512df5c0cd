"""The real server: quick-start demo, PHP and curl clients, CLI alongside, shutdown."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from callyard.testing.server import Server, callyard
from tests.e2e.php_client import php

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path, db_url: str) -> Iterator[Server]:
    running = Server(tmp_path / "data", "--demo", "--db-url", db_url)
    yield running
    running.stop()


def demo_credentials(server: Server) -> tuple[str, str, str]:
    found = re.search(r"appid:\s+(\S+)\s+accesskey:\s+(\S+)", server.stdout)
    code = re.search(r"companycode:\s+(\d+)", server.stdout)
    assert found, server.stdout
    assert code, server.stdout
    return code.group(1), found.group(1), found.group(2)


def test_the_printed_curl_line_logs_in(server: Server) -> None:
    line = next(ln for ln in server.stdout.splitlines() if ln.strip().startswith("curl "))
    result = subprocess.run(
        shlex.split(line), capture_output=True, text=True, timeout=30, check=True
    )
    reply = json.loads(result.stdout)
    assert reply["ret"] == 200
    assert re.fullmatch(r"[0-9a-f]{32}", reply["data"]["result"]["token"])


def test_php_clients_drive_every_service(server: Server) -> None:
    code, appid, accesskey = demo_credentials(server)
    login = php(server, {"service": "App.Sip_Auth.Login", "appid": appid, "accesskey": accesskey})
    assert login["data"]["desc"] == "Authorization successful"
    token = login["data"]["result"]["token"]
    ext = f"{code}0001"

    info = php(
        server,
        {
            "service": "App.Sip_Sipnum.GetSipnumberInfo",
            "token": token,
            "status": 3,
            "extnumber": "",
        },
    )
    assert [e["extnumber"] for e in info["data"]["result"]] == [
        f"{code}000{i}" for i in range(1, 6)
    ]
    assert {e["register"] for e in info["data"]["result"]} == {"nreg"}

    steps: list[tuple[dict[str, Any], str]] = [
        (
            {"service": "App.Sip_Extgroup.AddExtgroup", "name": "abcdefg", "status": 1},
            "Extension group added successfully",
        ),
        (
            {"service": "App.Sip_Extgroup.AddExtnumber", "name": "abcdefg", "extnumber": ext},
            "Added successfully",
        ),
        (
            {
                "service": "App.Sip_Extgroup.EditExtnumber",
                "name": "abcdefg",
                "extnumber": ext,
                "state": "busy",
            },
            "Successfully modified",
        ),
    ]
    for fields, desc in steps:
        reply = php(server, {**fields, "token": token})
        assert reply["ret"] == 200, reply
        assert reply["data"]["status"] == 0, reply
        assert reply["data"]["desc"] == desc

    groups = php(
        server, {"service": "App.Sip_Extgroup.GetExtgroupInfo", "token": token, "name": "abcdefg"}
    )
    assert [(g["name"], g["status"]) for g in groups["data"]["result"]] == [("abcdefg", 1042)]
    members = php(
        server,
        {
            "service": "App.Sip_Extgroup.GetGroupExt",
            "token": token,
            "name": "abcdefg",
            "extnumber": ext,
        },
    )
    assert [(m["extnumber"], m["state"], m["status"]) for m in members["data"]] == [
        (ext, "busy", "hangup")
    ]
    valid = php(
        server,
        {"service": "App.Sip_Status.GetSipValidStatus", "token": token, "extnumber": f"{ext},123"},
    )
    assert valid["data"]["result"] == [
        {"extnumber": ext, "code": 1016},
        {"extnumber": "123", "code": 1012},
    ]
    again = php(
        server,
        {
            "service": "App.Sip_Extgroup.AddExtnumber",
            "token": token,
            "name": "abcdefg",
            "extnumber": ext,
        },
    )
    assert again["data"]["errors"]["code"] == "1218"

    out = php(
        server,
        {
            "service": "App.Sip_Extgroup.DelExtnumber",
            "token": token,
            "name": "abcdefg",
            "extnumber": ext,
        },
    )
    assert out["data"]["desc"] == "successfully deleted"
    deleted = php(
        server, {"service": "App.Sip_Extgroup.DelExtgroup", "token": token, "name": "abcdefg"}
    )
    assert deleted["data"]["desc"] == "successfully deleted"

    logout = php(server, {"service": " App.Sip_Auth.Logout", "token": token})
    assert logout["data"]["desc"] == "logout successful"
    after = php(
        server,
        {
            "service": "App.Sip_Sipnum.GetSipnumberInfo",
            "token": token,
            "status": 3,
            "extnumber": "",
        },
    )
    assert after["ret"] == 600


def test_cli_changes_reach_the_running_server(server: Server, db_url: str) -> None:
    code, appid, accesskey = demo_credentials(server)
    token = php(server, {"service": "App.Sip_Auth.Login", "appid": appid, "accesskey": accesskey})[
        "data"
    ]["result"]["token"]
    ext = f"{code}0002"
    out = callyard("extension", "disable", "--company", code, ext, "--db-url", db_url)
    assert out[0]["enabled"] is False

    def status() -> int:
        reply = php(
            server,
            {"service": "App.Sip_Status.GetSipValidStatus", "token": token, "extnumber": ext},
        )
        code_: int = reply["data"]["result"][0]["code"]
        return code_

    deadline = time.monotonic() + 5
    while status() != 1013:
        assert time.monotonic() < deadline, "the server never saw the CLI's change"
        time.sleep(0.1)
    callyard("company", "expire", code, "--at", "2001-01-01 00:00:00", "--db-url", db_url)
    deadline = time.monotonic() + 5
    while (
        php(server, {"service": "App.Sip_Extgroup.GetExtgroupInfo", "token": token})["ret"] != 602
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_key_rotated_by_the_cli_ends_the_running_servers_sessions(
    server: Server, db_url: str
) -> None:
    code, appid, accesskey = demo_credentials(server)
    login = {"service": "App.Sip_Auth.Login", "appid": appid, "accesskey": accesskey}
    token = php(server, login)["data"]["result"]["token"]
    info = {"service": "App.Sip_Sipnum.GetSipnumberInfo", "token": token, "status": 3}
    assert php(server, info)["ret"] == 200
    rotated = callyard("company", "rotate-key", code, "--db-url", db_url)
    deadline = time.monotonic() + 5
    while php(server, info)["ret"] != 600:
        assert time.monotonic() < deadline, "the old session outlived the key"
        time.sleep(0.1)
    assert php(server, login)["data"]["errors"]["code"] == "1003"
    fresh = php(server, {**login, "accesskey": rotated["accesskey"]})
    assert php(server, {**info, "token": fresh["data"]["result"]["token"]})["ret"] == 200


def test_admin_api_with_the_key_from_the_data_dir(server: Server) -> None:
    key = (server.data_dir / "admin.key").read_text().strip()
    assert callyard("admin-key", "--data-dir", str(server.data_dir)) == {"admin_key": key}
    headers = {"Authorization": f"Bearer {key}"}
    created = httpx.post(server.url + "/admin/companies", json={"name": "second"}, headers=headers)
    assert created.status_code == 201
    assert (
        httpx.get(
            server.url + "/admin/companies", headers={"Authorization": "Bearer no"}
        ).status_code
        == 401
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_shutdown(server: Server, sig: signal.Signals) -> None:
    assert httpx.get(server.url + "/metrics").status_code == 200
    assert server.stop(sig) == 0
    logs = [json.loads(line) for line in server.stderr.splitlines() if line.startswith("{")]
    assert logs, server.stderr
    assert all({"ts", "level", "logger", "msg"} <= set(entry) for entry in logs)
    assert logs[-1]["msg"] == "callyard stopped"


def test_settings_from_the_environment(tmp_path: Path) -> None:
    port_server = Server(tmp_path / "env-data", env={"CALLYARD_TIMEZONE": "Asia/Jakarta"})
    try:
        # --http on the command line wins over CALLYARD_HTTP, which is also honoured
        assert httpx.get(port_server.url + "/healthz").status_code == 200
        assert (tmp_path / "env-data" / "callyard.db").exists()
    finally:
        port_server.stop()
    created = callyard(
        "company", "create", "--name", "jkt", env={"CALLYARD_DATA_DIR": str(tmp_path / "env-data")}
    )
    assert created["companycode"] == 1001


def test_demo_restart_keeps_data_and_refreshes_the_key(tmp_path: Path) -> None:
    first = Server(tmp_path / "d", "--demo")
    first.stop()
    second = Server(tmp_path / "d", "--demo")
    try:
        keys = re.findall(r"accesskey:\s+(\S+)", first.stdout + second.stdout)
        codes = re.findall(r"companycode:\s+(\d+)", first.stdout + second.stdout)
        assert len(keys) == 2
        assert keys[0] != keys[1]
        assert codes[0] == codes[1]
        _, appid, accesskey = demo_credentials(second)
        reply = php(
            second, {"service": "App.Sip_Auth.Login", "appid": appid, "accesskey": accesskey}
        )
        assert reply["ret"] == 200
    finally:
        second.stop()


def sip_process_of(server: Server) -> int:
    """The pid of the server's SIP process (its child running callyard.switch.host)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{server.process.pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                if b"callyard.switch.host" in cmdline:
                    return int(child)
        time.sleep(0.1)
    raise AssertionError("the server runs no SIP process")


def exited(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":  # ended, not yet reaped by its (killed) parent
            return True
        time.sleep(0.1)
    return False


def udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_the_sip_process_ends_with_a_killed_server(tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    sip = sip_process_of(server)
    assert not udp_port_free(server.sip_port)
    server.process.kill()  # no chance to stop its SIP process
    server.process.wait(10)
    assert exited(sip), "the SIP process outlived its server"
    assert udp_port_free(server.sip_port)


def test_a_lost_sip_process_stops_the_server_with_an_error(tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    os.kill(sip_process_of(server), signal.SIGKILL)
    assert server.process.wait(20) == 1
    logs = [json.loads(line) for line in server.stderr.splitlines() if line.startswith("{")]
    assert "stopping: the SIP switch ended" in [entry["msg"] for entry in logs]
    assert logs[-1]["msg"] == "callyard stopped"


def test_a_vcall_key_from_the_cli_gets_a_token_until_it_is_revoked(
    server: Server, db_url: str
) -> None:
    code, _appid, _accesskey = demo_credentials(server)
    issued = callyard(
        "credential", "issue", "--company", code, "--kind", "vcall", "--db-url", db_url
    )
    body = {"accessKeyId": issued["key_id"], "accessKeySecret": issued["secret"]}
    # As a client sends it: JSON, and the path without /api of the seed's examples too.
    for path in ("/api/token", "/token"):
        reply = httpx.post(server.url + path, json=body, timeout=10).json()
        assert (reply["code"], reply["msg"]) == (0, "success"), reply
        assert type(reply["data"]["expireTime"]) is int
        assert reply["data"]["expireTime"] > time.time() * 1000

    callyard(
        "credential", "revoke", "--company", code, "--key-id", issued["key_id"], "--db-url", db_url
    )
    reply = httpx.post(server.url + "/api/token", json=body, timeout=10).json()
    assert (reply["code"], reply["data"]) == (-1, None)
