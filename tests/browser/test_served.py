"""The SDKs at the vendor's URLs, in-process: JavaScript with its content type under the
versioned and the unversioned path, and a 404 that says why when they were not built."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import callyard.web
from callyard.web import SDKS, Sdk


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A static folder of stand-in builds."""
    monkeypatch.setattr(callyard.web, "STATIC", tmp_path)
    for sdk in SDKS:
        sdk.built.write_text(f"/* {sdk.name} */")
    return tmp_path


@pytest.mark.parametrize("sdk", SDKS, ids=[sdk.name for sdk in SDKS])
async def test_each_sdk_at_both_paths(http: httpx.AsyncClient, built: Path, sdk: Sdk) -> None:
    assert sdk.paths[0] == f"/{sdk.name}/{sdk.name}_{sdk.version}.js"
    for path in sdk.paths:
        reply = await http.get(path)
        assert reply.status_code == 200, path
        assert reply.headers["content-type"] == "text/javascript; charset=utf-8"
        assert reply.text == f"/* {sdk.name} */"


async def test_vendor_urls(http: httpx.AsyncClient, built: Path) -> None:
    for path in ("/agent-sdk/agent-sdk_1.1.64.js", "/soft-phone-sdk/soft-phone-sdk_1.0.19.js"):
        assert (await http.get(path)).status_code == 200


async def test_a_missing_build_is_a_404_that_says_why(
    http: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(callyard.web, "STATIC", tmp_path / "never-built")
    reply = await http.get("/agent-sdk/agent-sdk_1.1.64.js")
    assert reply.status_code == 404
    assert reply.json()["error"] == "agent-sdk is not built: run scripts/install, which builds web/"
