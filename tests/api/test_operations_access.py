"""Who may read /metrics, /docs, /redoc and /openapi.json: everyone, holders of the admin
key, or (auto) everyone only while the server listens on loopback alone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from callyard.api.app import create_app
from callyard.config import Settings
from callyard.container import Container
from callyard.testing.clock import ManualClock
from tests.conftest import ADMIN_KEY

OPERATIONS = ("/metrics", "/openapi.json", "/docs", "/redoc")
WITH_KEY = ({"Authorization": f"Bearer {ADMIN_KEY}"}, {"X-Admin-Key": ADMIN_KEY})
WITHOUT_KEY: tuple[dict[str, str], ...] = (
    {},
    {"Authorization": "Bearer wrong"},
    {"X-Admin-Key": "wrong"},
)

Client = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def client(settings: Settings, clock: ManualClock) -> AsyncIterator[Client]:
    """Makes clients of apps whose settings differ from the test's by the given values."""
    containers: list[Container] = []
    clients: list[httpx.AsyncClient] = []

    async def make(**overrides: object) -> httpx.AsyncClient:
        changed = Settings.from_env(
            {},
            data_dir=settings.data_dir,
            db_url=settings.db_url,
            admin_key=ADMIN_KEY,
            **overrides,
        )
        container = await Container.open(changed, clock=clock, upgrade_schema=False)
        containers.append(container)
        transport = httpx.ASGITransport(app=create_app(container, ADMIN_KEY))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://callyard"))
        return clients[-1]

    yield make
    for http in clients:
        await http.aclose()
    for container in containers:
        await container.close()


async def assert_open(http: httpx.AsyncClient) -> None:
    for path in OPERATIONS:
        assert (await http.get(path)).status_code == 200, path


async def assert_keyed(http: httpx.AsyncClient) -> None:
    for path in OPERATIONS:
        for headers in WITHOUT_KEY:
            refused = await http.get(path, headers=headers)
            assert refused.status_code == 401, (path, headers)
            assert refused.json() == {"error": "missing or wrong admin key"}
        for headers in WITH_KEY:
            assert (await http.get(path, headers=headers)).status_code == 200, (path, headers)
    assert (await http.get("/healthz")).status_code == 200


async def test_open_operations_need_no_key(client: Client) -> None:
    await assert_open(await client(operations_access="open", http="0.0.0.0:8080"))


async def test_keyed_operations_need_the_admin_key(client: Client) -> None:
    await assert_keyed(await client(operations_access="key", http="127.0.0.1:8080"))


@pytest.mark.parametrize(
    "http", ["127.0.0.1:8080", "127.0.0.53:8080", "[::1]:8080", "localhost:80"]
)
async def test_auto_is_open_on_loopback(client: Client, http: str) -> None:
    await assert_open(await client(operations_access="auto", http=http))


@pytest.mark.parametrize("http", ["0.0.0.0:8080", "[::]:8080", "192.0.2.10:8080", "pbx.example:80"])
async def test_auto_needs_the_key_elsewhere(client: Client, http: str) -> None:
    await assert_keyed(await client(http=http))


async def test_the_documentation_still_describes_the_api(client: Client) -> None:
    http = await client(operations_access="open")
    spec = (await http.get("/openapi.json")).json()
    assert "/metrics" in spec["paths"]
    assert "/admin/companies" in spec["paths"]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(spec["components"]["securitySchemes"])
    assert "/openapi.json" in (await http.get("/docs")).text
