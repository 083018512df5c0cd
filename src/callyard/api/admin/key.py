"""The admin key: how a request presents it, and routes that check it before anything else."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response, Security, status
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.datastructures import Headers

ADMIN_KEY_REFUSED = "missing or wrong admin key"

# Dependencies for the OpenAPI description only (its two ways of presenting the key);
# `admin_route` does the checking.
KEY_SCHEMES: list[Any] = [
    Security(APIKeyHeader(name="X-Admin-Key", auto_error=False)),
    Security(HTTPBearer(auto_error=False)),
]


def presents_admin_key(headers: Headers, admin_key: str) -> bool:
    """True when the request carries the admin key, as `X-Admin-Key: KEY` or
    `Authorization: Bearer KEY`."""
    given = headers.get("x-admin-key") or (
        headers.get("authorization", "").removeprefix("Bearer ").strip()
    )
    return bool(given) and hmac.compare_digest(given.encode(), admin_key.encode())


def admin_route(admin_key: str) -> type[APIRoute]:
    """A route class that refuses a request without the admin key (401) before anything
    else, its body included, then reads the body before FastAPI parses it."""

    class AdminRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handle = super().get_route_handler()

            async def checked(request: Request) -> Response:
                if not presents_admin_key(request.headers, admin_key):
                    raise HTTPException(
                        status.HTTP_401_UNAUTHORIZED,
                        ADMIN_KEY_REFUSED,
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                # Read here, so that a refused or abandoned body reaches the app's own
                # handlers; FastAPI would turn either into a generic 400.
                await request.body()
                return await handle(request)

            return checked

    return AdminRoute
