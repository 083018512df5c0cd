"""An agent's seat: what it is doing, and whether it takes a group's calls."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """What an extension is doing now."""

    IDLE = "idle"  # in no call, not wrapping up, not kept away
    IN_CALL = "in_call"  # a call involves it, not answered yet (ringing, or dialing out)
    TALKING = "talking"  # its call is answered: both parties talk
    WRAP_UP = "wrap_up"  # after a call, given time before it is offered another
    AWAY = "away"  # kept from offered calls for a while (it missed one)


class AgentState(StrEnum):
    """Whether an extension checked in to a group takes the group's calls (idle) or not
    for now (busy): set by the agent or the CRM."""

    IDLE = "idle"
    BUSY = "busy"


class AgentRole(StrEnum):
    """What an agent may do: take and make calls, or also supervise other agents."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"


class AgentDevice(StrEnum):
    """Which of an agent's phones a call for the agent rings first."""

    PREFERRED = "preferred"  # the registered SIP phone, else the mobile
    MOBILE = "mobile"  # the agent's mobile, through the company's trunk
    SIP_PHONE = "sip_phone"  # the phone registered on the agent's extension
