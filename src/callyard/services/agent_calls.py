"""Calls placed for an agent: ring one of the agent's phones, then the customer."""

from __future__ import annotations

from callyard.domain.agents import AgentDevice
from callyard.domain.calls import CallKind
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError
from callyard.services.agent_accounts import AgentAccounts, AgentProfile
from callyard.services.agents import AgentBoard
from callyard.services.auth import Caller
from callyard.services.calls import CallAgent, CallService, CustomFields, check_phone_number


class AgentCallService:
    """Click-to-call for an agent, on the phone it chooses."""

    def __init__(self, accounts: AgentAccounts, agents: AgentBoard, calls: CallService) -> None:
        self._accounts = accounts
        self._agents = agents
        self._calls = calls

    async def call(
        self,
        caller: Caller,
        agent_number: str,
        called: str,
        shown: str | None,
        device: AgentDevice,
        user_data: str = "",
    ) -> str:
        """Ring the agent on `device`; when it answers, dial `called`, showing `shown`,
        else the agent's display number, its group's, or one of the company's pool. The
        call's id at once; its record when it ends."""
        called = check_phone_number(called, "called")
        profile = await self._accounts.profile(caller, agent_number)
        if not profile.enabled:
            raise BusinessError(Refusal.AGENT_DISABLED, f"Agent {agent_number} is disabled")
        device = self._device(profile, device)
        shown = shown or profile.display_number or profile.group_caller_number or None
        custom = CustomFields(user_data=user_data)
        agent = CallAgent(profile.number, profile.name, profile.group_name)
        if device is AgentDevice.SIP_PHONE:
            return await self._calls.make_call(
                caller, profile.extension, called, shown, custom, agent
            )
        return await self._calls.double_call(
            caller,
            profile.extension,
            profile.mobile,
            called,
            shown,
            custom,
            kind=CallKind.CLICK_TO_CALL,
            agent=agent,
            fields=("phone", "called"),
        )

    def _device(self, profile: AgentProfile, device: AgentDevice) -> AgentDevice:
        registered = self._agents.registered(profile.extension)
        if device is AgentDevice.PREFERRED:
            if registered:
                return AgentDevice.SIP_PHONE
            if profile.mobile:
                return AgentDevice.MOBILE
            raise BusinessError(
                Refusal.AGENT_UNREACHABLE,
                f"Agent {profile.number} has no phone registered and no mobile",
            )
        if device is AgentDevice.MOBILE and not profile.mobile:
            raise BusinessError(Refusal.AGENT_UNREACHABLE, f"Agent {profile.number} has no mobile")
        if device is AgentDevice.SIP_PHONE and not registered:
            raise BusinessError(
                Refusal.EXTENSION_NOT_REGISTERED,
                f"Agent {profile.number}'s phone (extension {profile.extension}) is not registered",
            )
        return device
