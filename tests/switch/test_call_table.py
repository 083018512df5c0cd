"""The table of calls in progress, ending them all whatever one of them does."""

from __future__ import annotations

from typing import cast

from callyard.switch.calls import CallTable, RelayedCall
from callyard.switch.relay import MediaRelay
from callyard.switch.routing import Router


class Call:
    """What the table asks of a call."""

    def __init__(self, call_id: str, ended: list[str], fails: bool = False) -> None:
        self.call_id = call_id
        self._ended = ended
        self._fails = fails

    def hangup(self) -> None:
        if self._fails:
            raise KeyError("no such transaction")
        self._ended.append(self.call_id)


def test_a_call_that_fails_to_hang_up_leaves_and_the_others_still_end() -> None:
    table = CallTable({}, cast(MediaRelay, None), cast(Router, None), lambda event: None)
    ended: list[str] = []
    for call in (Call("a", ended), Call("b", ended, fails=True), Call("c", ended)):
        table.calls[call.call_id] = cast(RelayedCall, call)
    table.hangup_all()
    assert ended == ["a", "c"]
    assert "b" not in table.calls
