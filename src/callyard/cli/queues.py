"""`callyard queue ...`: a group's queue, where its numbers' callers wait for an agent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callyard.api.admin.schemas import GroupQueueBody
from callyard.cli.common import DataDir, DbUrl, emit, run, settings
from callyard.container import Container
from callyard.domain.groups import Overflow
from callyard.services.queues.settings import QueueSettings
from callyard.tts.prompts import read_wav, write_prompt

queues = typer.Typer(help="Groups' queues: callers wait in order for a free agent.")

CompanyOpt = Annotated[int, typer.Option("--company", help="Company code")]
GroupOpt = Annotated[str, typer.Option("--group", help="The group's name")]


@queues.command("set")
def queue_set(
    company: CompanyOpt,
    group: GroupOpt,
    max_wait: Annotated[int, typer.Option(help="Longest wait, seconds, then overflow")] = 120,
    max_size: Annotated[int, typer.Option(help="Callers waiting at most; more overflow")] = 50,
    ring_seconds: Annotated[int, typer.Option(help="Each agent's phone rings this long")] = 20,
    greeting: Annotated[str, typer.Option(help="Spoken to each caller as it enters")] = "",
    language: Annotated[str, typer.Option(help="Of the greeting and message")] = "en",
    music_file: Annotated[
        Path | None, typer.Option(help="A WAV file callers hear while they wait")
    ] = None,
    overflow: Annotated[Overflow, typer.Option(help="Where callers who cannot wait go")] = (
        Overflow.HANG_UP
    ),
    overflow_group: Annotated[str, typer.Option(help="For --overflow group")] = "",
    overflow_number: Annotated[str, typer.Option(help="For --overflow number")] = "",
    overflow_message: Annotated[str, typer.Option(help="Spoken before hanging up")] = "",
    service_level: Annotated[int, typer.Option(help="Answered within, seconds, counts")] = 20,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Give a group a queue, or change it."""
    config = settings(data_dir, db_url)
    music = ""
    if music_file is not None:
        pcm, rate = read_wav(music_file)
        base = config.data_dir / "prompts" / "music" / f"{company}-{group.encode().hex()}"
        base.parent.mkdir(parents=True, exist_ok=True)
        music = str(write_prompt(base, pcm, rate))

    async def op(c: Container) -> GroupQueueBody:
        stored = await c.queues.set(
            company,
            group,
            QueueSettings(
                max_wait_seconds=max_wait,
                max_size=max_size,
                ring_seconds=ring_seconds,
                greeting=greeting,
                language=language,
                music_file=music,
                overflow=overflow,
                overflow_group=overflow_group,
                overflow_number=overflow_number,
                overflow_message=overflow_message,
                service_level_seconds=service_level,
            ),
        )
        return GroupQueueBody.model_validate(stored)

    emit(run(config, op))


@queues.command("show")
def queue_show(
    company: CompanyOpt, group: GroupOpt, data_dir: DataDir = None, db_url: DbUrl = None
) -> None:
    """A group's queue (null: it has none)."""

    async def op(c: Container) -> GroupQueueBody | None:
        found = await c.queues.get(company, group)
        return None if found is None else GroupQueueBody.model_validate(found)

    emit(run(settings(data_dir, db_url), op))


@queues.command("remove")
def queue_remove(
    company: CompanyOpt, group: GroupOpt, data_dir: DataDir = None, db_url: DbUrl = None
) -> None:
    """The group's callers are rung through its members in turn again."""

    async def op(c: Container) -> dict[str, str]:
        await c.queues.remove(company, group)
        return {"removed": group}

    emit(run(settings(data_dir, db_url), op))
