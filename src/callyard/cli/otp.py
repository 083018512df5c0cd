"""`callyard otp template ...`: a company's wording of the spoken verification code."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from callyard.cli.common import DataDir, DbUrl, emit, run, settings
from callyard.container import Container
from callyard.domain.languages import Language
from callyard.services.otp import TemplateView

otp = typer.Typer(help="Voice verification codes (POST /api/voiceCode).")
templates = typer.Typer(help="What is spoken, per company and language; must say {digits}.")
otp.add_typer(templates, name="template")

CompanyOpt = Annotated[int, typer.Option("--company", help="Company code")]


def _out(view: TemplateView) -> dict[str, Any]:
    return {"language": view.language.value, "text": view.text, "custom": view.custom}


@templates.command("set")
def template_set(
    company: CompanyOpt,
    language: Annotated[Language, typer.Option("--language", help="nationCode")],
    text: Annotated[
        str, typer.Option("--text", help="The message; {digits} becomes the code's digits")
    ],
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Use the company's own wording for one language."""

    async def op(c: Container) -> dict[str, Any]:
        return _out(await c.voice_codes.set_template(company, language, text))

    emit(run(settings(data_dir, db_url), op))


@templates.command("show")
def template_show(company: CompanyOpt, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """The wording of every language (`custom` false: the default)."""

    async def op(c: Container) -> list[dict[str, Any]]:
        return [_out(view) for view in await c.voice_codes.templates(company)]

    emit(run(settings(data_dir, db_url), op))


@templates.command("reset")
def template_reset(
    company: CompanyOpt,
    language: Annotated[
        Language | None,
        typer.Option("--language", help="nationCode; every language when left out"),
    ] = None,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
) -> None:
    """Back to the default wording; prints every language's."""

    async def op(c: Container) -> list[dict[str, Any]]:
        return [_out(view) for view in await c.voice_codes.reset_template(company, language)]

    emit(run(settings(data_dir, db_url), op))
