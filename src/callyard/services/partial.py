"""Partial changes: a dataclass of optional values, where None means "as it is"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def with_defaults(given: T, defaults: T) -> T:
    """`given`, its values left out (None) taken from `defaults`."""
    values = {f.name: getattr(given, f.name) for f in fields(given)}
    return replace(defaults, **{k: v for k, v in values.items() if v is not None})


def copy_given(given: object, row: Any, names: Iterable[str]) -> None:
    """Set on `row` each of `names` that `given` holds a value (not None) for."""
    for name in names:
        value = getattr(given, name)
        if value is not None:
            setattr(row, name, value)
