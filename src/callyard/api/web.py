"""The browser SDKs at the vendor's URLs (catalog M9, M10): `/agent-sdk/agent-sdk_1.1.64.js`
and `/soft-phone-sdk/soft-phone-sdk_1.0.19.js`, and unversioned aliases of both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import FileResponse

from callyard.errors import NotFound
from callyard.web import SDKS, Sdk

JAVASCRIPT = "text/javascript; charset=utf-8"
# A page reloads the script at most an hour after an upgrade; the versioned URL does not
# change when callyard's build of it does.
CACHE = "public, max-age=3600"


def router() -> APIRouter:
    """One route per SDK path; no authentication (a customer's page loads them)."""
    routes = APIRouter(tags=["browser SDKs"])
    for sdk in SDKS:
        for path in sdk.paths:
            routes.add_api_route(
                path,
                _serve(sdk),
                methods=["GET"],
                response_class=FileResponse,
                summary=f"{sdk.name} {sdk.version} for the browser",
                responses={404: {"description": "the SDKs were not built (scripts/install)"}},
            )
    return routes


def _serve(sdk: Sdk) -> Callable[[], Awaitable[FileResponse]]:
    async def serve_sdk() -> FileResponse:
        if not sdk.built.is_file():
            raise NotFound(f"{sdk.name} is not built: run scripts/install, which builds web/")
        return FileResponse(sdk.built, media_type=JAVASCRIPT, headers={"Cache-Control": CACHE})

    serve_sdk.__doc__ = f"The {sdk.name} script (callyard's build of version {sdk.version})."
    return serve_sdk
