"""A client of the vcall API (seed 003) that holds a company's token, as a CRM would."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from callyard.container import Container
from callyard.services.credentials import CredentialKind
from tests.conftest import Tenant


class VcallClient:
    """Sends the catalog's requests with the company's token where the seed puts it: in
    the JSON body of a POST, in the query of a GET and of the agent status and reset."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    async def post(self, path: str, body: dict[str, Any], **query: Any) -> Any:
        response = await self.http.post(path, json={"token": self.token, **body}, params=query)
        return self._envelope(response)

    async def post_query(self, path: str, **query: Any) -> Any:
        """A POST whose parameters are all in the query (M6.4, M6.5)."""
        response = await self.http.post(
            path,
            params={"token": self.token, **query},
            headers={"Content-Type": "application/json"},
        )
        return self._envelope(response)

    async def get(self, path: str, **query: Any) -> Any:
        response = await self.http.get(path, params={"token": self.token, **query})
        return self._envelope(response)

    @staticmethod
    def _envelope(response: httpx.Response) -> Any:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        reply = response.json()
        assert set(reply) == {"code", "msg", "data"}, reply
        return reply


async def vcall_client(
    http: httpx.AsyncClient, container: Container, tenant: Tenant
) -> VcallClient:
    key = await container.credentials.issue(tenant.code, CredentialKind.VCALL)
    reply = (
        await http.post(
            "/api/token", json={"accessKeyId": key.key_id, "accessKeySecret": key.secret}
        )
    ).json()
    assert reply["code"] == 0, reply
    return VcallClient(http, reply["data"]["token"])


@pytest.fixture
async def vcall(http: httpx.AsyncClient, container: Container, tenant: Tenant) -> VcallClient:
    return await vcall_client(http, container, tenant)


@pytest.fixture
async def vcall_other(http: httpx.AsyncClient, container: Container, other: Tenant) -> VcallClient:
    return await vcall_client(http, container, other)
