"""Where a call in progress rings someone: an agent on the phone registered on its
extension, or on its mobile; a phone number; both through the company's trunk when
outside. Shared by the queues' offers and the middle of calls (transfers, consults, a
supervisor joining)."""

from __future__ import annotations

import logging

from callyard.domain.agent_sessions import LoginType
from callyard.errors import BusinessError
from callyard.services.auth import Caller
from callyard.services.directory import Directory
from callyard.services.outbound import OutboundLine, OutboundLines
from callyard.services.sessions.model import AgentSession
from callyard.switch.commands import Target
from callyard.switch.port import SwitchPort

log = logging.getLogger("callyard.reach")


class AgentReach:
    """Targets for agents and numbers."""

    def __init__(self, switch: SwitchPort, lines: OutboundLines, directory: Directory) -> None:
        self._switch = switch
        self._lines = lines
        self._directory = directory

    async def line(self, company_id: int) -> OutboundLine | None:
        """The company's trunk and a caller ID of its pool; None when it has none."""
        company = await self._directory.company(company_id)
        if company is None:
            return None
        try:
            return await self._lines.line(Caller(company.id, company.code, company.name))
        except BusinessError as exc:
            log.warning("no way out through the trunk", extra={"why": exc.desc})
            return None

    async def agent(
        self,
        company_id: int,
        extension: str,
        session: AgentSession | None,
        caller_id: str,
        ring_seconds: float,
    ) -> Target | None:
        """The phone registered on `extension`, or the mobile of an agent signed in on
        it (through the trunk); None when neither can be rung."""
        if session is not None and session.login_type is LoginType.MOBILE:
            return await self.number(company_id, session.mobile, ring_seconds)
        binding = self._switch.binding(extension)
        return (
            None if binding is None else Target(binding.target, extension, caller_id, ring_seconds)
        )

    async def number(self, company_id: int, number: str, ring_seconds: float) -> Target | None:
        """A phone number through the company's trunk; None without a trunk."""
        line = await self.line(company_id)
        return None if line is None else line.to(number, ring_seconds)
