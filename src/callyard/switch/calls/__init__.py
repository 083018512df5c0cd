"""Calls placed by the switch (third-party call control), one state machine each (its
`TRANSITIONS` table over the shared vocabulary `State`, entered through `_enter`), over
legs that each have their own (`leg.py`: calling -> proceeding -> ringing -> answered ->
ended, every transition kept with its monotonic time).

Two-leg calls (Bridge; a phone's own call):

    new -> first_ringing -> first_answered -> second_ringing -> bridged -> ended(cause)

Dialed calls (Dial: the customer first, held until services decide):

    new -> first_ringing -> held -> second_ringing -> bridged -> ended(cause)
                             ^ |         | agent leg failed (LegFailed)
                             | '---------'
                             '-> playing -> ended(server hangup)

Queued calls (a carrier's call to a queued number: the caller rings, held until services
decide; Answer answers it while held, an agent that answers answers it too):

    new -> held -> second_ringing -> bridged -> ended(cause)
            ^ |         | agent leg failed (LegFailed)
            | '---------'
            '-> playing -> ended(server hangup)

What held calls share (attach, play, an agent's failure) is `held.HeldCall`; what calls
taken from a caller's INVITE share (the caller's leg, its offer, its refusal) is
`taken.TakenCall`.

Runs in the SIP thread; every transition is reported as an event with a monotonic time.
A bridge joins two legs on the relay's neutral sides a and b; each kind of call says
which leg receives on which (`SIDES`). The relay anchors media: the first party is
offered a relay port before anybody else is called, so no re-INVITE is ever needed.
The relay's answers (the ports it allocates) come back as callbacks on the SIP thread:
a call waits for them in its current state, and a callback finding the call in another
state (hung up meanwhile) does nothing.
"""

from __future__ import annotations

from callyard.switch.calls.base import (
    NO_RESPONSE_SECONDS,
    PROMPT,
    PROMPT_TAIL_SECONDS,
    RelayedCall,
    State,
)
from callyard.switch.calls.bridged import BridgedCall
from callyard.switch.calls.dialed import DialedCall
from callyard.switch.calls.held import HeldCall
from callyard.switch.calls.inbound import InboundCall
from callyard.switch.calls.queued import QueuedCall
from callyard.switch.calls.table import CallTable
from callyard.switch.calls.user_agent import answer_updates

__all__ = [
    "NO_RESPONSE_SECONDS",
    "PROMPT",
    "PROMPT_TAIL_SECONDS",
    "BridgedCall",
    "CallTable",
    "DialedCall",
    "HeldCall",
    "InboundCall",
    "QueuedCall",
    "RelayedCall",
    "State",
    "answer_updates",
]
