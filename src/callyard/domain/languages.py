"""The languages of spoken messages."""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    """A language callyard speaks messages in. The values are those stored and those the
    voice-code API names them by (`sp`: Spanish)."""

    EN = "en"
    ID = "id"
    SP = "sp"
