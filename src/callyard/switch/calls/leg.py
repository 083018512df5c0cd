"""A call's leg: one SIP dialog with one party, with its own state machine.

    calling -> proceeding -> ringing -> answered -> ended
       |           |  '---------------^    ^          ^
       |           '-----------------------'          |
       '----------------------------------------------'  (from any state but ended)

`calling`: the INVITE is sent (or, for a phone's own call, received) and nothing has
answered it; `proceeding`: a provisional response without ringing; `ringing`: 180 or 183;
`answered`: 200 OK. Every transition is kept with its monotonic time; the call reports
the ones services hear of (LegCalling, LegRinging, LegAnswered, LegFailed, CallEnded).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from callyard.switch import sdp

log = logging.getLogger("callyard.switch.calls")


class LegState(Enum):
    CALLING = "calling"
    PROCEEDING = "proceeding"
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


# Each state's transitions, in one place.
TRANSITIONS: dict[LegState, frozenset[LegState]] = {
    LegState.CALLING: frozenset(
        {LegState.PROCEEDING, LegState.RINGING, LegState.ANSWERED, LegState.ENDED}
    ),
    LegState.PROCEEDING: frozenset({LegState.RINGING, LegState.ANSWERED, LegState.ENDED}),
    LegState.RINGING: frozenset({LegState.ANSWERED, LegState.ENDED}),
    LegState.ANSWERED: frozenset({LegState.ENDED}),
    LegState.ENDED: frozenset(),
}


@dataclass
class Bridge:
    """A browser leg's relay session of its own: side a plain, facing where the call wants
    the browser's audio (the call's session, or the mixer's room); side b the browser
    (DTLS-SRTP after ICE). The call moves side a, never the browser, whose DTLS session
    could not follow it to another port."""

    session: str
    browser_port: int  # where the browser sends
    plain_port: int  # where the call sends what the browser hears
    browser_at: tuple[str, int] | None = None  # the browser's media the relay was told of


class Leg:
    """One party of a call: the number it reaches, its SIP user agent, the relay side it
    receives on, the codecs it was offered, where and how it receives once it answered
    (its SDP, codecs limited to what both parties have), and the session of the SDP the
    switch writes it."""

    def __init__(
        self,
        name: str,
        number: str,
        ua: Any,
        side: str,
        offered: tuple[sdp.Codec, ...] = (),
        browser: bool = False,
    ) -> None:
        self.name = name
        self.browser = browser  # a WebRTC party: its media is DTLS-SRTP after ICE
        self.bridge: Bridge | None = None  # its own relay session, in calls that mix
        self.number = number
        self.ua = ua
        self.side = side
        self.offered = offered
        self.media: sdp.MediaOffer | None = None
        self.origin: tuple[int, int] | None = None  # our SDP's o= session and version
        # Awaiting the answer to a re-INVITE of ours: what takes it (None: refused).
        self.reoffered: Callable[[sdp.MediaOffer | None], None] | None = None
        self.state = LegState.CALLING
        self.history: list[tuple[float, LegState]] = [(time.monotonic(), LegState.CALLING)]

    @property
    def heard(self) -> bool:
        """Anything at all answered its INVITE (a line that is up)."""
        return self.state is not LegState.CALLING

    def move(self, to: LegState, at: float) -> bool:
        """Take the transition to `to` at `at`. False, and nothing changes, when the
        table has no such transition (a second 180, a response after the end)."""
        if to not in TRANSITIONS[self.state]:
            if to is not self.state:
                log.debug(
                    "leg transition ignored",
                    extra={"leg": self.name, "from": self.state.value, "to": to.value},
                )
            return False
        self.state = to
        self.history.append((at, to))
        return True
