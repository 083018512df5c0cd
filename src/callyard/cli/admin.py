"""`callyard company ...` and `callyard extension ...`: the admin operations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from callyard.api.admin.schemas import (
    CompanyOut,
    CredentialOut,
    Credentials,
    ExtensionOut,
    IssuedCredentialOut,
)
from callyard.cli.common import DataDir, DbUrl, emit, fail, run, settings
from callyard.container import Container
from callyard.services.credentials import parse_kind
from callyard.services.extensions import extension_numbers

companies = typer.Typer(help="Companies: credentials, IP allow-list, expiry, capabilities.")
extensions = typer.Typer(help="Extensions (agent seats).")

Code = Annotated[int, typer.Argument(help="Company code")]
CompanyOpt = Annotated[int, typer.Option("--company", help="Company code")]


@companies.command("create")
def company_create(
    name: Annotated[str, typer.Option("--name")],
    appid: Annotated[str | None, typer.Option("--appid")] = None,
    accesskey: Annotated[str | None, typer.Option("--accesskey")] = None,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Create a company; prints companycode, appid and accesskey (shown only now)."""

    async def op(c: Container) -> Credentials:
        return Credentials.model_validate(await c.companies.create(name, appid, accesskey))

    emit(run(settings(data_dir, db_url), op))


@companies.command("list")
def company_list(data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """All companies."""

    async def op(c: Container) -> list[CompanyOut]:
        return [CompanyOut.model_validate(v) for v in await c.companies.list_all()]

    emit(run(settings(data_dir, db_url), op))


@companies.command("show")
def company_show(code: Code, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """One company."""

    async def op(c: Container) -> CompanyOut:
        return CompanyOut.model_validate(await c.companies.get(code))

    emit(run(settings(data_dir, db_url), op))


@companies.command("rotate-key")
def company_rotate_key(code: Code, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Replace the access key (the old one stops working); prints the new one."""

    async def op(c: Container) -> Credentials:
        return Credentials.model_validate(await c.companies.rotate_accesskey(code))

    emit(run(settings(data_dir, db_url), op))


@companies.command("allow-ip")
def company_allow_ip(
    code: Code,
    cidrs: Annotated[list[str] | None, typer.Argument(help="Addresses or networks")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the list instead of adding")
    ] = False,
    clear: Annotated[
        bool, typer.Option("--clear", help="Empty the list: every IP allowed")
    ] = False,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Allow API calls from these networks only (ret 604 otherwise)."""
    if not cidrs and not clear:
        fail("give CIDRs, or --clear to allow every address", 2)

    async def op(c: Container) -> CompanyOut:
        view = await c.companies.allow_ips(code, cidrs or [], replace=replace or clear)
        return CompanyOut.model_validate(view)

    emit(run(settings(data_dir, db_url), op))


@companies.command("timezone")
def company_timezone(
    code: Code,
    zone: Annotated[
        str | None, typer.Argument(help="IANA zone, e.g. Asia/Jakarta; none: the server's")
    ] = None,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Set the time zone of the company's API answers, callbacks and task windows."""

    async def op(c: Container) -> CompanyOut:
        return CompanyOut.model_validate(await c.companies.set_timezone(code, zone))

    emit(run(settings(data_dir, db_url), op))


@companies.command("expire")
def company_expire(
    code: Code,
    at: Annotated[
        str | None,
        typer.Option("--at", help="ISO time, e.g. '2026-12-31 23:59:59' (server time zone)"),
    ] = None,
    never: Annotated[bool, typer.Option("--never", help="Remove the expiry")] = False,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Set when the company's authorization ends (ret 602 afterwards)."""
    if (at is None) == (not never):
        fail("give exactly one of --at TIME or --never", 2)
    config = settings(data_dir, db_url)
    moment = None
    if at is not None:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            fail(f"--at {at!r} is not an ISO date/time", 2)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(config.timezone))

    async def op(c: Container) -> CompanyOut:
        return CompanyOut.model_validate(await c.companies.set_expiry(code, moment))

    emit(run(config, op))


@companies.command("capabilities")
def company_capabilities(
    code: Code,
    enable: Annotated[
        list[str] | None, typer.Option("--enable", help="Capability to license")
    ] = None,
    disable: Annotated[
        list[str] | None, typer.Option("--disable", help="Capability to unlicense")
    ] = None,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """License or unlicense capabilities (App.Sip_*: ret 603 when unlicensed)."""

    async def op(c: Container) -> CompanyOut:
        view = await c.companies.set_capabilities(code, enable=enable or [], disable=disable or [])
        return CompanyOut.model_validate(view)

    emit(run(settings(data_dir, db_url), op))


@extensions.command("create")
def extension_create(
    company: CompanyOpt,
    number: Annotated[list[str] | None, typer.Option("--number", help="Extension number")] = None,
    range_spec: Annotated[
        str | None, typer.Option("--range", help="FIRST-LAST, e.g. 1001-1050")
    ] = None,
    password: Annotated[
        str | None, typer.Option("--password", help="SIP password (random if not given)")
    ] = None,
    allow_weak_password: Annotated[
        bool,
        typer.Option("--allow-weak-password", help="Keep a password that is easy to guess"),
    ] = False,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Create extensions, all or none."""

    async def op(c: Container) -> list[ExtensionOut]:
        numbers = extension_numbers(number or [], range_spec)
        created = await c.extensions.create(
            company, numbers, password, allow_weak_password=allow_weak_password
        )
        return [ExtensionOut.model_validate(e) for e in created]

    emit(run(settings(data_dir, db_url), op))


def _set_enabled(
    company: int, numbers: list[str], enabled: bool, config_args: tuple[DataDir, DbUrl]
) -> None:
    async def op(c: Container) -> list[ExtensionOut]:
        views = await c.extensions.set_enabled(company, numbers, enabled)
        return [ExtensionOut.model_validate(e) for e in views]

    emit(run(settings(*config_args), op))


Numbers = Annotated[list[str], typer.Argument(help="Extension numbers")]


@extensions.command("enable")
def extension_enable(
    company: CompanyOpt, numbers: Numbers, data_dir: DataDir = None, db_url: DbUrl = None
) -> None:
    """Enable extensions."""
    _set_enabled(company, numbers, True, (data_dir, db_url))


@extensions.command("disable")
def extension_disable(
    company: CompanyOpt, numbers: Numbers, data_dir: DataDir = None, db_url: DbUrl = None
) -> None:
    """Disable extensions: they can no longer register or be used (1013)."""
    _set_enabled(company, numbers, False, (data_dir, db_url))


@extensions.command("list")
def extension_list(company: CompanyOpt, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """A company's extensions."""

    async def op(c: Container) -> list[ExtensionOut]:
        return [ExtensionOut.model_validate(e) for e in await c.extensions.list_all(company)]

    emit(run(settings(data_dir, db_url), op))


credentials = typer.Typer(help="API credentials per dialect (vcall, robot).")


@credentials.command("issue")
def credential_issue(
    company: CompanyOpt,
    kind: Annotated[str, typer.Option("--kind", help="vcall or robot")],
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Issue a credential; its secret is printed only now."""

    async def op(c: Container) -> IssuedCredentialOut:
        issued = await c.credentials.issue(company, parse_kind(kind))
        return IssuedCredentialOut.model_validate(issued)

    emit(run(settings(data_dir, db_url), op))


@credentials.command("list")
def credential_list(company: CompanyOpt, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """A company's credentials (without their secrets)."""

    async def op(c: Container) -> list[CredentialOut]:
        return [CredentialOut.model_validate(v) for v in await c.credentials.list(company)]

    emit(run(settings(data_dir, db_url), op))


@credentials.command("revoke")
def credential_revoke(
    company: CompanyOpt,
    key_id: Annotated[str, typer.Option("--key-id", help="The credential's key id")],
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Revoke a credential at once."""

    async def op(c: Container) -> dict[str, str]:
        await c.credentials.revoke(company, key_id)
        return {"revoked": key_id}

    emit(run(settings(data_dir, db_url), op))
