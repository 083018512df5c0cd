"""A running `callyard serve` with the demo company for the switch's end-to-end tests,
and helpers to use it: the API, the CLI, SIPp carriers and baresip phones."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from callyard.services.directory import REVISION_ROW
from callyard.store.models import StoreRevision
from callyard.testing.receiver import Receiver
from callyard.testing.server import Server, callyard
from callyard.testing.sip import Baresip, Sipp, this_worker

COMPANY = "1001"
AGENT, SECOND_AGENT = "10010001", "10010002"
CALLER_ID = "622150001"
RING_SECONDS = 4


def metric(text: str, name: str) -> float:
    """The sum of a metric's samples in a /metrics text."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class Pbx:
    """A running callyard with the demo company, logged in, and helpers to use it."""

    server: Server
    token: str
    admin_key: str
    workdir: Path

    def api(self, service: str, **fields: str) -> dict[str, Any]:
        reply = httpx.post(
            self.server.url, data={"service": service, "token": self.token, **fields}
        )
        result: dict[str, Any] = reply.json()
        return result

    def admin(self, method: str, path: str, body: object = None) -> Any:
        """The admin API (quicker than the CLI's process per command)."""
        reply = httpx.request(
            method,
            f"{self.server.url}/admin/companies/{COMPANY}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.admin_key}"},
            timeout=30,
        )
        assert reply.status_code < 300, reply.text
        if method != "GET":
            self.routing_settled()
        return reply.json() if reply.content else None

    @property
    def sip_ws(self) -> str:
        """The switch's SIP over WebSocket address (the browsers' registrar)."""
        return f"ws://127.0.0.1:{self.server.sip_ws_port}"

    def cli(self, *args: str) -> Any:
        """A CLI command on the server's data; returns once the switch routes as the
        store says after it."""
        result = callyard(*args, "--data-dir", str(self.server.data_dir))
        self.routing_settled()
        return result

    def routing_settled(self, timeout: float = 10) -> None:
        """Until the switch's routing table follows every change made to the store so far
        (it looks every half second), while the server runs."""
        engine = create_engine(f"sqlite:///{self.server.data_dir / 'callyard.db'}")
        try:
            with engine.connect() as db:
                query = select(StoreRevision.value).where(StoreRevision.id == REVISION_ROW)
                wanted = db.scalar(query) or 0
        finally:
            engine.dispose()
        deadline = time.monotonic() + timeout
        while self.server.process.poll() is None:
            metrics = httpx.get(f"{self.server.url}/metrics").text
            if metric(metrics, "callyard_routing_revision") >= wanted:
                return
            assert time.monotonic() < deadline, "the switch's routing did not follow the store"
            time.sleep(0.05)

    def password(self, number: str) -> str:
        for extension in self.cli("extension", "list", "--company", COMPANY):
            if extension["number"] == number:
                return str(extension["password"])
        raise AssertionError(f"no extension {number}")

    def records(self) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.server.url}/admin/companies/{COMPANY}/cdrs",
            headers={"Authorization": f"Bearer {self.admin_key}"},
        )
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()
        return rows

    def record_of(self, customuuid: str, timeout: float = 20) -> dict[str, Any]:
        return self.record_with(timeout, customuuid=customuuid)

    def record_with(self, timeout: float = 20, **fields: Any) -> dict[str, Any]:
        """The first call record with these field values, once it is written."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for row in self.records():
                if all(row[name] == value for name, value in fields.items()):
                    return row
            time.sleep(0.2)
        raise AssertionError(f"no call record with {fields}")

    def call(self, caller: Baresip, callee: Baresip) -> None:
        """`caller` dials `callee`'s extension through the switch, which puts it up."""
        caller.dial(f"sip:{callee.user}@127.0.0.1:{self.server.sip_port}")
        callee.wait_established(timeout=10)
        caller.wait_established(timeout=10)

    def carrier(self, scenario: str, **options: Any) -> Sipp:
        return Sipp(scenario, self.workdir / scenario.removesuffix(".xml"), **options)

    def phone(self, number: str, password: str | None = None, **options: Any) -> Baresip:
        return Baresip(
            self.workdir / f"phone-{number}-{time.monotonic_ns()}",
            user=number,
            password=password if password is not None else self.password(number),
            port=self.server.sip_port,
            regint=600,
            **options,
        )

    def trunk_to(self, carrier: Sipp, **credentials: str) -> None:
        for trunk in self.cli("trunk", "list", "--company", COMPANY):
            self.cli("trunk", "remove", "--company", COMPANY, "--name", trunk["name"])
        extra = [arg for key, value in credentials.items() for arg in (f"--{key}", value)]
        self.cli(
            "trunk", "add", "--company", COMPANY, "--name", "carrier",
            "--host", "127.0.0.1", "--port", str(carrier.port), *extra,
        )  # fmt: skip


def relay_ports() -> str:
    """The relay's ports of a server this test worker starts: each worker its own, none
    that another test's switch or phone uses."""
    base = 50000 + 2000 * this_worker()[0]
    return f"{base}-{base + 999}"


def start_server(
    data_dir: Path, env: dict[str, str] | None = None, sip_port: int | None = None
) -> Server:
    """`callyard serve --demo` with short ring timeouts (and `env`), on `data_dir` (and
    `sip_port`: a server started again where its phones register)."""
    return Server(
        data_dir,
        "--demo",
        "--rtp-ports",
        relay_ports(),
        env={
            "CALLYARD_RING_TIMEOUT": str(RING_SECONDS),
            "CALLYARD_AGENT_RING_TIMEOUT": str(RING_SECONDS),
            **(env or {}),
        },
        sip_port=sip_port,
        sip_ws=True,
    )


def open_pbx(server: Server, workdir: Path) -> Pbx:
    """Log in to the demo company of a started server."""
    stdout = server.stdout
    appid = stdout.split("appid:")[1].split()[0]
    accesskey = stdout.split("accesskey:")[1].split()[0]
    login = httpx.post(
        server.url,
        data={"service": "App.Sip_Auth.Login", "appid": appid, "accesskey": accesskey},
    ).json()
    admin_key = (server.data_dir / "admin.key").read_text().strip()
    return Pbx(server, login["data"]["result"]["token"], admin_key, workdir)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback, for the pushes of the test's server."""
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    server = start_server(tmp_path / "data")
    try:
        pbx = open_pbx(server, tmp_path)
        pbx.cli("number", "add", "--company", COMPANY, "--number", CALLER_ID)
        yield pbx
    finally:
        server.stop()


def make_call(pbx: Pbx, customuuid: str, ext: str = AGENT, **extra: str) -> dict[str, Any]:
    return pbx.api(
        "App.Sip_Call.MakeCall",
        extnumber=ext,
        destnumber="628123456789",
        userid="emp-7",
        chengshudu="90",
        memberid="m-1",
        customuuid=customuuid,
        **extra,
    )
