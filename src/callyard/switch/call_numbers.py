"""The numbers each call in progress involves, and for each number how many calls: the
question "is this extension in a call?" is asked for every agent at every offer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


class CallNumbers:
    """Call id -> the numbers it involves, with the reverse count kept beside it."""

    def __init__(self) -> None:
        self._calls: dict[str, set[str]] = {}
        self._counts: Counter[str] = Counter()

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._calls

    def __len__(self) -> int:
        return len(self._calls)

    def set(self, call_id: str, numbers: Iterable[str]) -> None:
        self.pop(call_id)
        self._calls[call_id] = set()
        for number in numbers:
            self.add(call_id, number)

    def add(self, call_id: str, number: str) -> None:
        involved = self._calls.setdefault(call_id, set())
        if number not in involved:
            involved.add(number)
            self._counts[number] += 1

    def discard(self, call_id: str, number: str) -> None:
        involved = self._calls.get(call_id)
        if involved is not None and number in involved:
            involved.remove(number)
            self._counts[number] -= 1
            if self._counts[number] <= 0:
                del self._counts[number]

    def pop(self, call_id: str) -> None:
        for number in self._calls.pop(call_id, ()):
            self._counts[number] -= 1
            if self._counts[number] <= 0:
                del self._counts[number]

    def involves(self, number: str) -> bool:
        """Whether a call in progress involves `number`."""
        return number in self._counts
