"""The calls in progress, written down as they start and end, so that the calls a crash
cut short (the server killed: its SIP process hangs them all up) still get their one
record at the next start.

An append-only file of JSON lines in the data directory: a line when a call is
followed, another when its record is stored. A process that is killed loses nothing it
wrote (the lines are in the kernel's cache); only a crash of the machine itself could.
At start the calls with no end line are recorded as cut short by the server, and the
file starts over.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("callyard.calls")

FILE_NAME = "calls.journal"
MAX_BYTES = 64 * 1024 * 1024  # rewritten with only the calls in progress past this


@dataclass(frozen=True)
class JournalEntry:
    """A call as its record needs it, were it cut short."""

    call_id: str
    company_id: int
    company_code: int
    kind: str  # a CallKind
    extnumber: str
    destnumber: str
    disnumber: str
    started_at: str  # ISO 8601, UTC
    custom: dict[str, str]
    first_number: str = ""

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.started_at)


class CallJournal:
    """The journal file of one server's data directory."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self._file: IO[str] | None = None
        self._open: dict[str, JournalEntry] = {}

    def _writer(self) -> IO[str]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8", buffering=1)  # a line a write
        return self._file

    def started(self, entry: JournalEntry) -> None:
        self._open[entry.call_id] = entry
        self._write({"start": asdict(entry)})

    def ended(self, call_id: str) -> None:
        if self._open.pop(call_id, None) is not None:
            self._write({"end": call_id})
            if not self._open and self._writer().tell() > MAX_BYTES:
                self.start_over()

    def _write(self, line: dict[str, Any]) -> None:
        try:
            self._writer().write(json.dumps(line, separators=(",", ":")) + "\n")
        except OSError:
            log.exception("the calls journal could not be written")

    def unfinished(self) -> tuple[list[JournalEntry], datetime]:
        """The calls that started and never ended, and when the journal was last
        written (about when its server stopped)."""
        if not self.path.exists():
            return [], datetime.now(UTC)
        open_calls: dict[str, JournalEntry] = {}
        for line in _lines(self.path):
            if "start" in line:
                entry = JournalEntry(**line["start"])
                open_calls[entry.call_id] = entry
            elif "end" in line:
                open_calls.pop(str(line["end"]), None)
        last = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
        return list(open_calls.values()), last

    def start_over(self) -> None:
        """Begin a new file holding only the calls in progress."""
        if self._file is not None:
            self._file.close()
            self._file = None
        partial = self.path.with_suffix(".new")
        with partial.open("w", encoding="utf-8") as fresh:
            for entry in self._open.values():
                fresh.write(json.dumps({"start": asdict(entry)}, separators=(",", ":")) + "\n")
        os.replace(partial, self.path)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as journal:
        for raw in journal:
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue  # the last line of a file cut short while written
            if isinstance(line, dict):
                yield line
