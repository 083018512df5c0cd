"""`callyard trunk ...`, `callyard pbx ...` and `callyard number ...`: trunks to carriers,
a company's own PBXs, and caller-ID numbers."""

from __future__ import annotations

from typing import Annotated

import typer

from callyard.api.admin.schemas import NumberOut, PbxTrunkOut, TrunkOut
from callyard.cli.common import DataDir, DbUrl, emit, run, settings
from callyard.container import Container
from callyard.services.trunks import DEFAULT_SIP_PORT

trunks = typer.Typer(help="SIP trunks to carriers (the first one carries outbound calls).")
numbers = typer.Typer(help="A company's numbers: its caller-ID pool, and their routes.")
pbxes = typer.Typer(
    help="A company's own PBXs or dialers that send calls out through callyard (SIP trunks "
    "from the customer)."
)

CompanyOpt = Annotated[int, typer.Option("--company", help="Company code")]
TrunkName = Annotated[str, typer.Option("--name", help="Trunk name, unique in the company")]
Numbers = Annotated[list[str], typer.Argument(help="Caller-ID numbers")]


@trunks.command("add")
def trunk_add(
    company: CompanyOpt,
    name: TrunkName,
    host: Annotated[str, typer.Option("--host", help="Carrier's SIP server: hostname or IP")],
    port: Annotated[int, typer.Option("--port", help="SIP port")] = DEFAULT_SIP_PORT,
    username: Annotated[
        str | None, typer.Option("--username", help="Digest user name (with --password)")
    ] = None,
    password: Annotated[str | None, typer.Option("--password", help="Digest password")] = None,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Add a trunk."""

    async def op(c: Container) -> TrunkOut:
        view = await c.trunks.add(company, name, host, port, username, password)
        return TrunkOut.model_validate(view)

    emit(run(settings(data_dir, db_url), op))


@trunks.command("list")
def trunk_list(company: CompanyOpt, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """A company's trunks, the one used for calls first."""

    async def op(c: Container) -> list[TrunkOut]:
        return [TrunkOut.model_validate(t) for t in await c.trunks.list_all(company)]

    emit(run(settings(data_dir, db_url), op))


@trunks.command("remove")
def trunk_remove(
    company: CompanyOpt, name: TrunkName, data_dir: DataDir = None, db_url: DbUrl = None
) -> None:
    """Remove a trunk; prints what it was."""

    async def op(c: Container) -> TrunkOut:
        return TrunkOut.model_validate(await c.trunks.remove(company, name))

    emit(run(settings(data_dir, db_url), op))


@pbxes.command("add")
def pbx_add(
    company: CompanyOpt,
    name: TrunkName,
    host: Annotated[
        str | None, typer.Option("--host", help="IP address the PBX sends from")
    ] = None,
    username: Annotated[
        str | None, typer.Option("--username", help="Digest user name (with --password)")
    ] = None,
    password: Annotated[str | None, typer.Option("--password", help="Digest password")] = None,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Add a PBX, known by its address, its credentials, or both."""

    async def op(c: Container) -> PbxTrunkOut:
        view = await c.pbx_trunks.add(company, name, host, username, password)
        return PbxTrunkOut.model_validate(view)

    emit(run(settings(data_dir, db_url), op))


@pbxes.command("list")
def pbx_list(company: CompanyOpt, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """A company's PBXs."""

    async def op(c: Container) -> list[PbxTrunkOut]:
        return [PbxTrunkOut.model_validate(t) for t in await c.pbx_trunks.list_all(company)]

    emit(run(settings(data_dir, db_url), op))


@pbxes.command("remove")
def pbx_remove(
    company: CompanyOpt, name: TrunkName, data_dir: DataDir = None, db_url: DbUrl = None
) -> None:
    """Remove a PBX; prints what it was."""

    async def op(c: Container) -> PbxTrunkOut:
        return PbxTrunkOut.model_validate(await c.pbx_trunks.remove(company, name))

    emit(run(settings(data_dir, db_url), op))


@numbers.command("add")
def number_add(
    company: CompanyOpt,
    number: Annotated[str, typer.Option("--number", help="Optional '+', then 3 to 20 digits")],
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it disabled")] = False,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Add a caller-ID number to the company's pool."""

    async def op(c: Container) -> NumberOut:
        return NumberOut.model_validate(await c.numbers.add(company, number, not disabled))

    emit(run(settings(data_dir, db_url), op))


@numbers.command("route")
def number_route(
    company: CompanyOpt,
    number: Annotated[str, typer.Option("--number", help="One of the company's numbers")],
    extension: Annotated[
        str | None, typer.Option("--extension", help="Carriers' calls ring this extension")
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="... or this group's members, in turn")
    ] = None,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Route carriers' calls to a number (neither option: refuse them)."""

    async def op(c: Container) -> NumberOut:
        view = await c.numbers.set_route(company, number, extension=extension, group=group)
        return NumberOut.model_validate(view)

    emit(run(settings(data_dir, db_url), op))


@numbers.command("list")
def number_list(company: CompanyOpt, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """A company's caller-ID numbers."""

    async def op(c: Container) -> list[NumberOut]:
        return [NumberOut.model_validate(n) for n in await c.numbers.list_all(company)]

    emit(run(settings(data_dir, db_url), op))


def _set_enabled(
    company: int, numbers: list[str], enabled: bool, data_dir: DataDir, db_url: DbUrl
) -> None:
    async def op(c: Container) -> list[NumberOut]:
        views = await c.numbers.set_enabled(company, numbers, enabled)
        return [NumberOut.model_validate(n) for n in views]

    emit(run(settings(data_dir, db_url), op))


@numbers.command("enable")
def number_enable(
    company: CompanyOpt, numbers: Numbers, data_dir: DataDir = None, db_url: DbUrl = None
) -> None:
    """Enable numbers: they may be shown and are picked at random."""
    _set_enabled(company, numbers, True, data_dir, db_url)


@numbers.command("disable")
def number_disable(
    company: CompanyOpt, numbers: Numbers, data_dir: DataDir = None, db_url: DbUrl = None
) -> None:
    """Disable numbers: never picked, and naming one in a call fails with 1019."""
    _set_enabled(company, numbers, False, data_dir, db_url)
