"""The browser SDKs at the vendor's URLs (catalog M9, M10): `/agent-sdk/agent-sdk_1.1.64.js`
and `/soft-phone-sdk/soft-phone-sdk_1.0.19.js`, and unversioned aliases of both; and
callyard's own pages, `/agent/` (the agent desktop) and `/wallboard/`, each a folder of
built files."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from callyard.errors import NotFound
from callyard.web import PAGES, SDKS, Sdk, WebPage

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
    for page in PAGES:
        routes.add_api_route(
            f"/{page.path}",
            _to_folder(page),
            methods=["GET"],
            include_in_schema=False,
        )
        routes.add_api_route(
            f"/{page.path}/{{name:path}}",
            _serve_page(page),
            methods=["GET"],
            response_class=FileResponse,
            summary=f"{page.title}: its page and files",
            responses={404: {"description": "no such file, or the pages were not built"}},
        )
    return routes


def _to_folder(page: WebPage) -> Callable[[], Awaitable[RedirectResponse]]:
    async def to_folder() -> RedirectResponse:
        return RedirectResponse(f"/{page.path}/")

    return to_folder


# What a page's files are, by suffix.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": JAVASCRIPT,
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def _serve_page(page: WebPage) -> Callable[[str], Awaitable[FileResponse]]:
    async def serve_page(name: str) -> FileResponse:
        folder = page.built.resolve()
        path = (folder / (name or "index.html")).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            raise NotFound(f"{page.title} has no file {name!r} (built by scripts/install)")
        media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})

    serve_page.__doc__ = f"A file of {page.title} (`index.html` by default)."
    return serve_page


def _serve(sdk: Sdk) -> Callable[[], Awaitable[FileResponse]]:
    async def serve_sdk() -> FileResponse:
        if not sdk.built.is_file():
            raise NotFound(f"{sdk.name} is not built: run scripts/install, which builds web/")
        return FileResponse(sdk.built, media_type=JAVASCRIPT, headers={"Cache-Control": CACHE})

    serve_sdk.__doc__ = f"The {sdk.name} script (callyard's build of version {sdk.version})."
    return serve_sdk
