"""The `numbers` field of TaskCreate and TaskAppend (seed 002): a JSON array of phone
numbers, or of objects with `telphone` and the custom fields."""

from __future__ import annotations

from typing import Any

import orjson

from callyard.errors import InvalidInput
from callyard.services.tasks import (
    MAX_NUMBERS_PER_REQUEST,
    InvalidNumber,
    NumberEntry,
    NumberInput,
)

# NumberInput's fields by the API's names for them.
_FIELDS = {
    "telphone": "telphone",
    "userid": "userid",
    "memberid": "memberid",
    "chengshudu": "maturity",
    "customuuid": "customuuid",
    "mark": "mark",
}
_API_NAMES = {ours: theirs for theirs, ours in _FIELDS.items()}


def _text(value: object, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(name, "is not a string")
    return str(value).strip()


def _shown(entry: object) -> str:
    """How an entry that is not a usable number is named in the `invalid` list."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("telphone"), str | int):
        return str(entry["telphone"])
    return orjson.dumps(entry).decode()[:64]


def _number_entry(entry: object) -> NumberEntry:
    try:
        if isinstance(entry, str) or (isinstance(entry, int) and not isinstance(entry, bool)):
            return NumberInput(str(entry))
        if not isinstance(entry, dict):
            return InvalidNumber(_shown(entry), "not a phone number or an object")
        if entry.get("telphone") in (None, ""):
            return InvalidNumber(_shown(entry), "missing telphone")
        return NumberInput(
            **{ours: _text(entry.get(theirs), theirs) for theirs, ours in _FIELDS.items()},
        )
    except InvalidInput as exc:
        field = _API_NAMES.get(exc.field, exc.field)
        return InvalidNumber(_shown(entry), f"{field} {exc.reason}")


def parse_numbers(text: str) -> tuple[NumberEntry, ...]:
    """The `numbers` field. The request fails (InvalidInput) when the field is not such
    an array or holds more than 10,000 entries; an unusable entry is only reported
    (InvalidNumber)."""
    try:
        entries: Any = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("numbers", f"is not valid JSON ({exc})") from exc
    if not isinstance(entries, list):
        raise InvalidInput("numbers", "must be a JSON array")
    if len(entries) > MAX_NUMBERS_PER_REQUEST:
        raise InvalidInput(
            "numbers",
            f"{len(entries)} numbers, at most {MAX_NUMBERS_PER_REQUEST:,} per request "
            "(add the rest with TaskAppend)",
        )
    return tuple(_number_entry(entry) for entry in entries)
