"""Options and plumbing shared by every CLI command."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel

from callyard.config import Settings
from callyard.container import Container
from callyard.errors import CallyardError, Conflict, InvalidInput, NotFound

T = TypeVar("T")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory [env CALLYARD_DATA_DIR; ./callyard-data]"),
]
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        help="Database URL, e.g. postgresql+asyncpg://user:pw@host/db "
        "[env CALLYARD_DB_URL; SQLite in the data dir]",
    ),
]


def settings(data_dir: Path | None, db_url: str | None, **overrides: object) -> Settings:
    try:
        return Settings.from_env(None, data_dir=data_dir, db_url=db_url, **overrides)
    except InvalidInput as exc:
        fail(f"invalid {exc.field}: {exc.reason}", 2)


def fail(message: str, code: int = 1) -> NoReturn:
    print(json.dumps({"error": message}), file=sys.stderr)
    raise typer.Exit(code)


def emit(value: Any) -> None:
    """Print a result as JSON on stdout."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    print(json.dumps(value, indent=2, default=str))


def run(config: Settings, operation: Callable[[Container], Awaitable[T]]) -> T:
    """Open the store (migrating it), run one operation, close; errors become JSON on stderr."""

    async def main() -> T:
        container = await Container.open(config)
        try:
            return await operation(container)
        finally:
            await container.close()

    try:
        return asyncio.run(main())
    except NotFound as exc:
        fail(str(exc), 3)
    except Conflict as exc:
        fail(str(exc), 4)
    except InvalidInput as exc:
        fail(f"invalid {exc.field}: {exc.reason}", 2)
    except CallyardError as exc:
        fail(str(exc))
