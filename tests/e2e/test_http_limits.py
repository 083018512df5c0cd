"""The real server against abusive HTTP clients: bodies over the size limit (declared or
chunked), silent and trickling clients, idle keep-alive connections, too many
connections, and clients that leave mid-body."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from callyard.testing.server import Server
from tests.e2e import rawhttp

pytestmark = pytest.mark.e2e

ADMIN_KEY = "e2e-admin-key"
MAX_BODY = 16 * 1024 * 1024  # the default
HUGE = 256 * 1024 * 1024
FILLER = b"a" * 65536
URLENCODED = "application/x-www-form-urlencoded"
OVER_LIMIT = f"request body over {MAX_BODY} bytes"


def start(tmp: Path, **env: str) -> Server:
    return Server(tmp / "data", env={"CALLYARD_ADMIN_KEY": ADMIN_KEY, **env})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the default limits."""
    running = start(tmp_path_factory.mktemp("defaults"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def hasty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with one-second header, body and idle timeouts."""
    running = start(
        tmp_path_factory.mktemp("hasty"),
        CALLYARD_HTTP_HEADER_TIMEOUT_SECONDS="1",
        CALLYARD_HTTP_BODY_TIMEOUT_SECONDS="1",
        CALLYARD_HTTP_IDLE_TIMEOUT_SECONDS="1",
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server for 20 connections at most, patient with idle ones."""
    running = start(
        tmp_path_factory.mktemp("crowded"),
        CALLYARD_HTTP_MAX_CONNECTIONS="20",
        CALLYARD_HTTP_HEADER_TIMEOUT_SECONDS="300",
        CALLYARD_HTTP_IDLE_TIMEOUT_SECONDS="300",
    )
    yield running
    running.stop()


OVERSIZED_NAMES = ("path", "content_type", "headers", "start", "status", "refusal")
OVERSIZED: list[tuple[str, str, dict[str, str], bytes, int, Any]] = [
    (
        "/",
        URLENCODED,
        {},
        b"service=App.Sip_Auth.Login&appid=",
        200,
        {"ret": 400, "data": [], "msg": f"Illegal request: {OVER_LIMIT}"},
    ),
    (
        "/api/voiceCode",
        "application/json",
        {},
        b'{"appid": "',
        200,
        {"code": 1001, "msg": f"Parameter error: {OVER_LIMIT}", "data": {}},
    ),
    (
        "/admin/companies",
        "application/json",
        {"X-Admin-Key": ADMIN_KEY},
        b'{"name": "',
        413,
        {"error": OVER_LIMIT},
    ),
    (
        "/admin/companies",
        "application/json",
        {"X-Admin-Key": "wrong"},
        b'{"name": "',
        401,
        {"error": "missing or wrong admin key"},
    ),
]


def assert_still_serving(server: Server) -> None:
    assert httpx.get(server.url + "/healthz", timeout=rawhttp.WAIT).status_code == 200
    reply = httpx.post(server.url + "/", data={"service": "App.Sip_None"}, timeout=rawhttp.WAIT)
    assert reply.json() == {
        "ret": 400,
        "data": [],
        "msg": "Illegal request: unknown service App.Sip_None",
    }


def send_huge(server: Server, head: bytes, body: Iterator[bytes]) -> tuple[rawhttp.Reply, int]:
    """Send a huge body until the server answers; its answer and how much its resident
    memory grew meanwhile (sampled as the body goes)."""
    pid = server.process.pid
    before = rawhttp.rss_bytes(pid)
    peak = before

    def sample() -> None:
        nonlocal peak
        peak = max(peak, rawhttp.rss_bytes(pid))

    with rawhttp.connect(server.port) as sock:
        sock.sendall(head)
        sent = rawhttp.send_until_answered(sock, body, sample)
        reply = rawhttp.read_reply(sock)
        assert rawhttp.closed_by_server(sock)
    sample()
    assert sent < HUGE
    return reply, peak - before


@pytest.mark.parametrize(
    ("path", "content_type", "headers", "start", "status", "refusal"), OVERSIZED
)
def test_a_declared_body_over_the_limit_is_refused_in_the_apis_envelope(
    server: Server,
    path: str,
    content_type: str,
    headers: dict[str, str],
    start: bytes,
    status: int,
    refusal: Any,
) -> None:
    head = rawhttp.head(
        "POST", path, {"Content-Type": content_type, "Content-Length": str(HUGE), **headers}
    )
    reply, growth = send_huge(server, head, rawhttp.repeated(start, FILLER, HUGE))
    assert (reply.status, reply.json()) == (status, refusal)
    assert growth < HUGE // 8
    assert_still_serving(server)


@pytest.mark.parametrize(
    ("path", "content_type", "headers", "start", "status", "refusal"), OVERSIZED
)
def test_a_chunked_body_is_cut_off_past_the_limit(
    server: Server,
    path: str,
    content_type: str,
    headers: dict[str, str],
    start: bytes,
    status: int,
    refusal: Any,
) -> None:
    head = rawhttp.head(
        "POST", path, {"Content-Type": content_type, "Transfer-Encoding": "chunked", **headers}
    )
    reply, growth = send_huge(server, head, rawhttp.chunked(start + FILLER, HUGE))
    assert (reply.status, reply.json()) == (status, refusal)
    assert growth < HUGE // 8
    assert_still_serving(server)


def log_entries(server: Server) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.stderr.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    ("path", "content_type", "headers", "start"),
    [
        ("/", URLENCODED, {}, b"service=App.Sip_Auth.Login&appid="),
        (
            "/",
            "multipart/form-data; boundary=xyz",
            {},
            b'--xyz\r\nContent-Disposition: form-data; name="appid"\r\n\r\n',
        ),
        ("/api/voiceCode", "application/json", {}, b'{"appid": "'),
        ("/admin/companies", "application/json", {"X-Admin-Key": ADMIN_KEY}, b'{"name": "'),
    ],
)
def test_a_client_leaving_mid_body_is_one_info_line(
    server: Server, path: str, content_type: str, headers: dict[str, str], start: bytes
) -> None:
    logged = len(log_entries(server))
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            rawhttp.head(
                "POST", path, {"Content-Type": content_type, "Content-Length": "1000", **headers}
            )
        )
        sock.sendall(start + b"x" * 400)  # of the 1000 bytes announced
    deadline = time.monotonic() + rawhttp.WAIT
    while not (new := log_entries(server)[logged:]):
        assert time.monotonic() < deadline, "nothing was logged"
        time.sleep(0.1)
    assert_still_serving(server)
    new = log_entries(server)[logged:]
    assert [(e["level"], e["msg"], e.get("path")) for e in new] == [
        ("info", "client disconnected before its request was read", path)
    ], new
    assert "Traceback" not in server.stderr


def test_a_silent_connection_is_closed(hasty: Server) -> None:
    with rawhttp.connect(hasty.port) as sock:
        assert rawhttp.closed_by_server(sock)
    assert_still_serving(hasty)


def test_a_trickled_request_head_is_cut_off(hasty: Server) -> None:
    head = rawhttp.head("GET", "/healthz", {"X-Padding": "p" * 200})
    with rawhttp.connect(hasty.port) as sock:
        sent = rawhttp.send_until_answered(sock, trickle(head))
        assert sent < len(head)
        assert rawhttp.closed_by_server(sock)
    assert_still_serving(hasty)


def test_a_trickled_body_is_answered_in_the_apis_envelope(hasty: Server) -> None:
    body = b"service=App.Sip_Auth.Login&appid=" + b"a" * 200
    head = rawhttp.head("POST", "/", {"Content-Type": URLENCODED, "Content-Length": str(len(body))})
    with rawhttp.connect(hasty.port) as sock:
        sock.sendall(head)
        sent = rawhttp.send_until_answered(sock, trickle(body))
        assert sent < len(body)
        reply = rawhttp.read_reply(sock)
        assert rawhttp.closed_by_server(sock)
    assert reply.json() == {
        "ret": 400,
        "data": [],
        "msg": "Illegal request: request body not received within 1 seconds",
    }
    assert_still_serving(hasty)


def test_an_idle_keep_alive_connection_is_closed(hasty: Server) -> None:
    with rawhttp.connect(hasty.port) as sock:
        sock.sendall(rawhttp.head("GET", "/healthz"))
        assert rawhttp.read_reply(sock).status == 200
        assert rawhttp.closed_by_server(sock)


def test_keep_alive_lasts_the_configured_idle_time(crowded: Server) -> None:
    with rawhttp.connect(crowded.port) as sock:
        sock.sendall(rawhttp.head("GET", "/healthz"))
        assert rawhttp.read_reply(sock).status == 200
        assert not rawhttp.answered(sock, 6)  # idle longer than uvicorn's own default, 5 s
        sock.sendall(rawhttp.head("GET", "/healthz"))
        assert rawhttp.read_reply(sock).status == 200


def test_connections_over_the_maximum_are_refused_and_the_others_kept(crowded: Server) -> None:
    sockets = [rawhttp.connect(crowded.port) for _ in range(30)]
    try:
        refused = wait_for_refusals(sockets, 10)
        kept = [sock for sock in sockets if sock not in refused]
        assert len(refused) == 10
        with rawhttp.connect(crowded.port) as extra:
            assert rawhttp.closed_by_server(extra)
        for sock in kept[:2]:  # the connections already open are served as before
            sock.sendall(rawhttp.head("GET", "/healthz"))
            assert rawhttp.read_reply(sock).status == 200
        for sock in kept[2:7]:
            sock.close()
        deadline = time.monotonic() + rawhttp.WAIT
        while not serves(crowded):
            assert time.monotonic() < deadline, "closing connections made no room"
            time.sleep(0.1)
    finally:
        for sock in sockets:
            sock.close()


def wait_for_refusals(sockets: list[socket.socket], count: int) -> list[socket.socket]:
    """The sockets the server closed, once `count` of them are (a refusal may first say
    503 Service Unavailable)."""
    refused: list[socket.socket] = []
    deadline = time.monotonic() + rawhttp.WAIT
    while len(refused) < count and time.monotonic() < deadline:
        for sock in sockets:
            if sock not in refused and rawhttp.answered(sock, 0.05):
                assert rawhttp.closed_by_server(sock)
                refused.append(sock)
    return refused


def serves(server: Server) -> bool:
    try:
        return httpx.get(server.url + "/healthz", timeout=rawhttp.WAIT).status_code == 200
    except httpx.TransportError:
        return False


def trickle(data: bytes) -> Iterator[bytes]:
    """`data` one byte every 0.2 s."""
    for i in range(len(data)):
        yield data[i : i + 1]
        time.sleep(0.2)
