"""Times as the App.Sip_* API and its callbacks show them."""

from __future__ import annotations

from datetime import datetime
from typing import overload
from zoneinfo import ZoneInfo


class TimeFormat:
    """`YYYY-MM-DD HH:MM:SS` in the server's configured time zone."""

    def __init__(self, timezone: str) -> None:
        self._zone = ZoneInfo(timezone)

    @overload
    def __call__(self, moment: datetime) -> str: ...

    @overload
    def __call__(self, moment: None) -> None: ...

    @overload
    def __call__(self, moment: datetime | None) -> str | None: ...

    def __call__(self, moment: datetime | None) -> str | None:
        if moment is None:
            return None
        return moment.astimezone(self._zone).strftime("%Y-%m-%d %H:%M:%S")
