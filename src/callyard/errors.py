"""Failures that services raise and dialects translate into their own envelopes."""

from __future__ import annotations

from callyard.domain.refusals import Denial, Refusal


class CallyardError(Exception):
    """Base of every failure callyard reports to a client."""


class InvalidInput(CallyardError):
    """A request field is missing or malformed (the primary API's `ret` 400)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class AccessDenied(CallyardError):
    """Authentication or licensing refused the request (`ret` 600-604)."""

    def __init__(self, denial: Denial, detail: str = "") -> None:
        super().__init__(detail or denial.value.replace("_", " "))
        self.denial = denial
        self.detail = detail


class BusinessError(CallyardError):
    """The request was valid but cannot be carried out (`data.status` 1 with a code)."""

    def __init__(self, refusal: Refusal, desc: str) -> None:
        super().__init__(desc)
        self.refusal = refusal
        self.desc = desc


class NotFound(CallyardError):
    """An administrative operation named something that does not exist."""


class Conflict(CallyardError):
    """An administrative operation would duplicate something unique."""


class Forbidden(CallyardError):
    """A signed link was altered, made for another file, or has expired."""
