"""`callyard webhook ...`: callback URLs, signing secret, delivery log, redelivery."""

from __future__ import annotations

from typing import Annotated

import typer

from callyard.api.admin.schemas import (
    Redelivered,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookSecretOut,
)
from callyard.cli.common import DataDir, DbUrl, emit, fail, run, settings
from callyard.container import Container
from callyard.webhooks.deliveries import MAX_LIST

webhooks = typer.Typer(help="Webhooks: call-state, call-record and push callbacks of a company.")

CompanyOpt = Annotated[int, typer.Option("--company", help="Company code")]


@webhooks.command("set")
def webhook_set(
    company: CompanyOpt,
    call_state_url: Annotated[
        str | None,
        typer.Option("--call-state-url", help="http(s) URL of call-state callbacks; '' removes"),
    ] = None,
    cdr_url: Annotated[
        str | None,
        typer.Option("--cdr-url", help="http(s) URL of call-record callbacks; '' removes"),
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Send callbacks or not")
    ] = None,
    rotate_secret: Annotated[
        bool, typer.Option("--rotate-secret", help="Replace the signing secret")
    ] = False,
    push: Annotated[
        list[str] | None,
        typer.Option(
            "--push",
            metavar="KIND=URL",
            help="http(s) URL for one kind of push (repeatable); 'KIND=' removes it",
        ),
    ] = None,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Change a company's webhook settings (the first change enables them); prints the
    signing secret only when it is created or rotated."""
    pushes = _pushes(push or [])

    async def op(c: Container) -> WebhookSecretOut:
        view = await c.webhooks.update(
            company,
            call_state_url=call_state_url,
            cdr_url=cdr_url,
            enabled=enabled,
            rotate_secret=rotate_secret,
            pushes=pushes,
        )
        return WebhookSecretOut.model_validate(view)

    emit(run(settings(data_dir, db_url), op))


def _pushes(values: list[str]) -> dict[str, str]:
    """`KIND=URL` options as kind -> URL; the last one of a kind wins."""
    pushes: dict[str, str] = {}
    for value in values:
        kind, sep, url = value.partition("=")
        if not sep or not kind.strip():
            fail(f"--push takes KIND=URL (KIND= removes it), got {value!r}", 2)
        pushes[kind.strip()] = url
    return pushes


@webhooks.command("show")
def webhook_show(company: CompanyOpt, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """A company's webhook settings (without the secret)."""

    async def op(c: Container) -> WebhookOut:
        return WebhookOut.model_validate(await c.webhooks.get(company))

    emit(run(settings(data_dir, db_url), op))


@webhooks.command("log")
def webhook_log(
    company: CompanyOpt,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivered or dead")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_LIST, help="At most this many")
    ] = 100,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """A company's webhook events, newest first, with every attempt."""

    async def op(c: Container) -> list[WebhookDeliveryOut]:
        views = await c.outbox.deliveries(company, status, limit)
        return [WebhookDeliveryOut.model_validate(v) for v in views]

    emit(run(settings(data_dir, db_url), op))


@webhooks.command("redeliver")
def webhook_redeliver(
    event_id: Annotated[
        str | None, typer.Argument(help="Event id (X-Callyard-Event-Id) to send again")
    ] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Send every dead event again")] = False,
    company: Annotated[
        int | None, typer.Option("--company", help="With --dead: only this company's")
    ] = None,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Send an event, or every dead event, again: pending now with a fresh retry schedule
    (a running server sends it within half a second)."""
    if (event_id is None) == (not dead):
        fail("give exactly one of an event id or --dead", 2)
    if company is not None and not dead:
        fail("--company goes with --dead", 2)

    async def one(c: Container) -> WebhookDeliveryOut:
        assert event_id is not None
        return WebhookDeliveryOut.model_validate(await c.outbox.redeliver(event_id))

    async def every_dead(c: Container) -> Redelivered:
        return Redelivered(redelivered=await c.outbox.redeliver_dead(company))

    config = settings(data_dir, db_url)
    emit(run(config, every_dead) if dead else run(config, one))
