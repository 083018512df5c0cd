"""Operations endpoints: `/metrics`, `/docs`, `/redoc` and `/openapi.json`, open or behind
the admin key as `operations_access` says."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, FastAPI, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST

from callyard.api.admin.key import KEY_SCHEMES, admin_route
from callyard.config import Settings
from callyard.metrics import Metrics

OPENAPI_PATH = "/openapi.json"


def is_loopback(host: str) -> bool:
    """True for `localhost` and addresses of 127.0.0.0/8 and ::1 (not 0.0.0.0 nor ::)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def operations_need_key(settings: Settings) -> bool:
    """Whether the operations endpoints ask for the admin key: "key" always, "open" never,
    "auto" unless the HTTP server listens on a loopback address only."""
    if settings.operations_access == "auto":
        return not is_loopback(settings.http_address[0])
    return settings.operations_access == "key"


def router(app: FastAPI, metrics: Metrics, admin_key: str, need_key: bool) -> APIRouter:
    """The operations routes of `app` (created without FastAPI's own documentation routes)."""
    routes = APIRouter(
        tags=["operations"],
        dependencies=KEY_SCHEMES if need_key else [],
        route_class=admin_route(admin_key) if need_key else APIRoute,
    )

    @routes.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus text: API requests and latency, running predictive tasks."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @routes.get(OPENAPI_PATH, include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @routes.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title=f"{app.title} - Swagger UI")

    @routes.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=OPENAPI_PATH, title=f"{app.title} - ReDoc")

    return routes
