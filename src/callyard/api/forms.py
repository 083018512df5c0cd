"""What every form-based dialect shares: reading a form body, the form model whose blank
values count as absent, and validation errors phrased for the client."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from callyard.errors import InvalidInput

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# A task's 10,000 numbers with their custom fields come to a few megabytes in one field.
MAX_FIELD_BYTES = 16 * 1024 * 1024


async def read_form(request: Request) -> dict[str, str]:
    """Form fields of either encoding PHP's curl sends; the last value of a repeated name wins."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(FORM_TYPES[0]):
        body = (await request.body()).decode("utf-8", "replace")
        return dict(parse_qsl(body, keep_blank_values=True))
    if content_type.startswith(FORM_TYPES[1]):
        try:
            async with request.form(max_part_size=MAX_FIELD_BYTES) as form:
                return {k: v for k, v in form.multi_items() if not isinstance(v, UploadFile)}
        except MultiPartException as exc:
            raise InvalidInput("body", f"malformed multipart/form-data ({exc.message})") from exc
        except HTTPException as exc:  # what Starlette raises for a field over the limit
            raise InvalidInput("body", f"multipart/form-data refused ({exc.detail})") from exc
    raise InvalidInput(
        "Content-Type",
        f"{content_type or 'none'} is not supported; send {' or '.join(FORM_TYPES)}",
    )


class Form(BaseModel):
    """A form: blank values count as absent, so optional fields take their defaults."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_blanks(cls, data: object) -> object:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (InvalidInput when it is malformed or not an object)."""
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("body", "malformed JSON") from exc
    if not isinstance(data, dict):
        raise InvalidInput("body", "expected a JSON object")
    return data


def describe(error: ValidationError) -> InvalidInput:
    """The first problem of a validation error, phrased for the client."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "request"
    if first["type"] == "missing":
        return InvalidInput(field, "missing parameter")
    message = first["msg"].removeprefix("Value error, ")
    return InvalidInput(field, message)
