"""Times as the App.Sip_* API and its callbacks show them."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import overload
from zoneinfo import ZoneInfo


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class TimeFormat:
    """`YYYY-MM-DD HH:MM:SS` in a company's time zone, else the server's."""

    def __init__(self, timezone: str) -> None:
        self._default = timezone

    @overload
    def __call__(self, moment: datetime, zone: str | None = None) -> str: ...

    @overload
    def __call__(self, moment: None, zone: str | None = None) -> None: ...

    @overload
    def __call__(self, moment: datetime | None, zone: str | None = None) -> str | None: ...

    def __call__(self, moment: datetime | None, zone: str | None = None) -> str | None:
        if moment is None:
            return None
        return moment.astimezone(_zone(zone or self._default)).strftime("%Y-%m-%d %H:%M:%S")

    def zone(self, name: str | None) -> ZoneInfo:
        """A company's zone (`name`), else the server's."""
        return _zone(name or self._default)
