"""`callyard cdr ...` and `callyard recordings ...`: call records and their recordings."""

from __future__ import annotations

from typing import Annotated

import typer

from callyard.api.dialects.sip_api.callbacks import record_body
from callyard.cli.common import DataDir, DbUrl, emit, run, settings
from callyard.container import Container
from callyard.services.cdrs import MAX_LIST
from callyard.timefmt import TimeFormat

cdrs = typer.Typer(help="Call records (CDRs).")
recordings = typer.Typer(help="Call recordings.")


@cdrs.command("list")
def cdr_list(
    company: Annotated[int, typer.Option("--company", help="Company code")],
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_LIST, help="At most this many")
    ] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip the newest N")] = 0,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """A company's call records, most recent first, as the call-record callback sends them
    (times in the company's time zone, else CALLYARD_TIMEZONE)."""
    config = settings(data_dir, db_url)
    times = TimeFormat(config.timezone)

    async def op(c: Container) -> list[dict[str, object]]:
        zone = (await c.companies.get(company)).timezone
        return [
            record_body(row, times, zone)
            for row in await c.cdrs.list_for_company(company, limit, offset)
        ]

    emit(run(config, op))


@recordings.command("purge")
def recordings_purge(data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Delete recordings older than the retention (CALLYARD_RECORDING_RETENTION_DAYS, 90);
    the server also does this every hour."""

    async def op(c: Container) -> dict[str, int]:
        return {"purged": await c.recordings.purge()}

    emit(run(settings(data_dir, db_url), op))
