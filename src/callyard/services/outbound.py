"""The one path by which every kind of call reaches a number outside: the company's
trunk and the caller ID it shows (MakeCall, DoubleCall, a task's dialer, voice codes).
A registered phone's own calls take the same policy in the SIP process, from the routing
table (`switch/routing.py`): the company's first trunk, a random enabled number."""

from __future__ import annotations

from dataclasses import dataclass

from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError
from callyard.services.auth import Caller
from callyard.services.numbers import NumberService
from callyard.services.trunks import TrunkService, TrunkView
from callyard.switch.commands import Target
from callyard.switch.routing import via_trunk


@dataclass(frozen=True)
class OutboundLine:
    """A company's way out: its trunk, showing `caller_id`."""

    trunk: TrunkView
    caller_id: str

    def to(self, number: str, ring_timeout: float) -> Target:
        """The leg that calls `number` through the trunk."""
        return via_trunk(self.trunk, number, self.caller_id, ring_timeout)


class OutboundLines:
    """Chooses the trunk and the caller ID of a company's outbound legs."""

    def __init__(self, trunks: TrunkService, numbers: NumberService) -> None:
        self._trunks = trunks
        self._numbers = numbers

    async def line(self, caller: Caller, disnumber: str | None = None) -> OutboundLine:
        """The company's trunk, showing `disnumber` if the company may show it, else
        (blank) a random enabled number of the company. BusinessError: no trunk
        (NO_TRUNK), or the caller ID's refusal (NO_NUMBER, NUMBER_*)."""
        trunk = await self._trunks.for_company(caller.company_id)
        if trunk is None:
            raise BusinessError(Refusal.NO_TRUNK, "The company has no SIP trunk configured")
        return OutboundLine(trunk, await self._numbers.pick(caller, disnumber))
