"""The vcall CTI's agent events (catalog M8.2, M9) rendered from callyard's session
notices, for each of the two channels: the HTTP push to the company's agent-event URL,
and the agent's WebSocket. The channels differ where the seed's two documents do:
`callDirection` is 0 inbound / 1 outbound on the push and 1 / 2 on the socket (§1.6),
the caller's user data is `userData` on the push and `userdata` on the socket, and a
surveillance listing is `agentList` on the push and `infoList` on the socket.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import orjson

from callyard.api.dialects.vcall.causes import cause_of
from callyard.domain.agent_sessions import LoginType, Status
from callyard.domain.agents import AgentRole
from callyard.domain.calls import Direction
from callyard.domain.mid_call import Action, Part, Phase
from callyard.services.sessions.model import (
    AgentNotice,
    CallSummary,
    GroupRef,
    MidCallOutcome,
    Notice,
    QueueView,
    SessionCall,
    SessionView,
    SignInFacts,
)

AGENT_EVENT = "AgentEvent"  # the push kind: the company's agent-event URL


class Channel(Enum):
    PUSH = "push"
    SOCKET = "socket"


EVENTS: Mapping[Notice, str] = {
    Notice.SIGNED_IN: "Login",
    Notice.RESUMED: "Reconnect",
    Notice.SIGNED_OUT: "Logout",
    Notice.KICKED: "Kick",
    Notice.READY: "Idle",
    Notice.NOT_READY: "Busy",
    Notice.RESERVED: "Lock",
    Notice.CALL_PLACED: "MakeCall",
    Notice.CALL_FAILED: "MakeCallFail",
    Notice.CALL_CANCELLED: "CancelCall",
    Notice.CALLING_AGENT: "AgentOriginate",
    Notice.RINGING: "AgentRinging",
    Notice.ANSWERED: "AgentAnswer",
    Notice.CUSTOMER_RINGING: "CalledRinging",
    Notice.CUSTOMER_ANSWERED: "CalledAnswer",
    Notice.TALKING: "Conversation",
    Notice.WRAP_UP: "After",
    Notice.PHONE_LOST: "SipError",
    Notice.AGENTS: "Surveillance",
    Notice.IDLE_AGENTS: "IdleAgent",
    Notice.GROUPS: "GroupInfo",
    Notice.QUEUE: "QueueInfo",
}

# Requests in the middle of a call, by how far they came (catalog M8.2, M9). The seed
# names no events for hold and mute, nor failures of some requests: callyard's own
# names follow the seed's pattern (docs/compat.md).
MID_CALL_EVENTS: Mapping[tuple[Action, Phase], str] = {
    (Action.HOLD, Phase.DONE): "Hold",
    (Action.HOLD, Phase.FAILED): "HoldFail",
    (Action.UNHOLD, Phase.DONE): "UnHold",
    (Action.UNHOLD, Phase.FAILED): "UnHoldFail",
    (Action.MUTE, Phase.DONE): "Mute",
    (Action.MUTE, Phase.FAILED): "MuteFail",
    (Action.UNMUTE, Phase.DONE): "Unmute",
    (Action.UNMUTE, Phase.FAILED): "UnmuteFail",
    (Action.TRANSFER, Phase.CALLING): "TransferCalling",
    (Action.TRANSFER, Phase.DONE): "TransferCall",
    (Action.TRANSFER, Phase.FAILED): "TransferCallFail",
    (Action.TRANSFER_CANCEL, Phase.DONE): "TransferCancel",
    (Action.TRANSFER_CANCEL, Phase.FAILED): "TransferCancelFail",
    (Action.CONSULT, Phase.CALLING): "ConsultCalling",
    (Action.CONSULT, Phase.DONE): "ConsultCall",
    (Action.CONSULT, Phase.FAILED): "ConsultCallFail",
    (Action.CONSULT_CANCEL, Phase.DONE): "ConsultCancel",
    (Action.CONSULT_CANCEL, Phase.FAILED): "ConsultCancelFail",
    (Action.CONSULT_TRANSFER, Phase.DONE): "ConsultTransfer",
    (Action.CONSULT_TRANSFER, Phase.FAILED): "ConsultTransferFail",
    (Action.CONSULTED_LEFT, Phase.DONE): "ConsultedCancel",
    (Action.THREE_WAY, Phase.CALLING): "TripartiteTalking",
    (Action.THREE_WAY, Phase.DONE): "TripartiteTalk",
    (Action.THREE_WAY, Phase.FAILED): "TripartiteTalkFail",
    (Action.LISTEN, Phase.CALLING): "Listening",
    (Action.LISTEN, Phase.DONE): "Listen",
    (Action.LISTEN, Phase.FAILED): "ListenFail",
    (Action.WHISPER, Phase.CALLING): "Whispering",
    (Action.WHISPER, Phase.DONE): "Whisper",
    (Action.WHISPER, Phase.FAILED): "WhisperFail",
    (Action.BARGE, Phase.CALLING): "ForceInserting",
    (Action.BARGE, Phase.DONE): "ForceInsert",
    (Action.BARGE, Phase.FAILED): "ForceInsertFail",
    (Action.INTERCEPT, Phase.CALLING): "Intercepting",
    (Action.INTERCEPT, Phase.DONE): "Intercept",
    (Action.INTERCEPT, Phase.FAILED): "InterceptFail",
    (Action.FORCE_RELEASE, Phase.DONE): "ForceBreak",
    (Action.FORCE_RELEASE, Phase.FAILED): "ForceBreakFail",
}

# The events' `callType` (§1.6) of an agent's part in a call ("whisper" is callyard's).
CALL_TYPES: Mapping[Part, str] = {
    Part.NORMAL: "normal",
    Part.CONSULT: "consult",
    Part.TRANSFER: "transfer",
    Part.LISTEN: "listen",
    Part.WHISPER: "whisper",
    Part.BARGE: "forceInsert",
    Part.INTERCEPT: "intercept",
}

# `nowState` of an agent in each status (an event that changes the state names it).
STATES: Mapping[Status, str] = {
    Status.SIGNED_OUT: "Logout",
    Status.SIGNED_IN: "Login",
    Status.IDLE: "Idle",
    Status.BUSY: "Busy",
    Status.RESERVED: "Lock",
    Status.RINGING: "AgentRinging",
    Status.DIALING: "AgentAnswer",
    Status.TALKING: "Conversation",
    Status.WRAP_UP: "After",
}

# Events that move the agent's state: `nowState` is the event's own name.
_STATE_EVENTS = frozenset(
    {
        Notice.SIGNED_IN,
        Notice.SIGNED_OUT,
        Notice.READY,
        Notice.NOT_READY,
        Notice.RESERVED,
        Notice.RINGING,
        Notice.ANSWERED,
        Notice.CUSTOMER_RINGING,
        Notice.CUSTOMER_ANSWERED,
        Notice.TALKING,
        Notice.WRAP_UP,
    }
)

LOGIN_TYPES: Mapping[LoginType, str] = {
    LoginType.SIP_PHONE: "1",
    LoginType.MOBILE: "2",
    LoginType.WEBRTC: "3",
}
AGENT_TYPES: Mapping[AgentRole, int] = {AgentRole.AGENT: 0, AgentRole.SUPERVISOR: 1}
_DIRECTIONS: Mapping[Channel, Mapping[Direction, int]] = {
    Channel.PUSH: {Direction.INBOUND: 0, Direction.OUTBOUND: 1},
    Channel.SOCKET: {Direction.INBOUND: 1, Direction.OUTBOUND: 2},
}
_USER_DATA = {Channel.PUSH: "userData", Channel.SOCKET: "userdata"}
_LISTING = {Channel.PUSH: "agentList", Channel.SOCKET: "infoList"}


def event_name(notice: AgentNotice) -> str:
    if notice.kind is Notice.MID_CALL and isinstance(notice.detail, MidCallOutcome):
        return MID_CALL_EVENTS[(notice.detail.action, notice.detail.phase)]
    return EVENTS[notice.kind]


def now_state(notice: AgentNotice) -> str:
    if notice.kind in _STATE_EVENTS:
        return EVENTS[notice.kind]
    return STATES[notice.agent.status]


def render(notice: AgentNotice, channel: Channel) -> dict[str, Any]:
    """The event as the channel sends it: the envelope of catalog M8.2 and its `data`."""
    call = notice.call
    return {
        "sequence": notice.sequence,
        "nowState": now_state(notice),
        "event": event_name(notice),
        "type": "event",
        "eventTime": notice.at_ms,
        _USER_DATA[channel]: call.user_data if call is not None else "",
        "ivrParam": "",
        "companyId": str(notice.agent.company_code),
        "agentNumber": notice.agent.number,
        "agentId": notice.agent.agent_sn,
        "data": _data(notice, channel),
    }


def push_body(notice: AgentNotice) -> bytes:
    return orjson.dumps(render(notice, Channel.PUSH))


def _data(notice: AgentNotice, channel: Channel) -> Any:
    agent, kind, detail = notice.agent, notice.kind, notice.detail
    if kind in (Notice.SIGNED_IN, Notice.RESUMED) and isinstance(detail, SignInFacts):
        return _signed_in(agent, detail)
    if kind is Notice.READY:
        return {"loginType": LOGIN_TYPES[agent.login_type]}
    if kind is Notice.NOT_READY:
        return {"currentBusyType": agent.busy_type}
    if kind is Notice.CALL_FAILED and isinstance(detail, CallSummary):
        return {"cause": _cause(detail)[0]}
    if kind in (Notice.AGENTS, Notice.IDLE_AGENTS) and isinstance(detail, tuple):
        if kind is Notice.IDLE_AGENTS:
            return {"agentList": [_idle_agent(v) for v in detail]}
        return {_LISTING[channel]: [_watched(v, notice.at_ms, channel) for v in detail]}
    if kind is Notice.QUEUE and isinstance(detail, QueueView):
        return _queue(detail)
    if kind is Notice.GROUPS and isinstance(detail, tuple):
        return {"groupList": [{"id": g.sn, "name": g.name, "type": 0} for g in detail]}
    if kind is Notice.MID_CALL and isinstance(detail, MidCallOutcome):
        return _mid_call(notice.call, detail)
    if notice.call is not None and kind is Notice.WRAP_UP and isinstance(detail, CallSummary):
        return _after(notice.call, detail, channel)
    if notice.call is not None and kind in _CALL_EVENTS:
        return _call(notice.call, channel, with_type=kind in _TYPED_CALL_EVENTS)
    return None


_CALL_EVENTS = frozenset(
    {
        Notice.CALLING_AGENT,
        Notice.RINGING,
        Notice.ANSWERED,
        Notice.CUSTOMER_RINGING,
        Notice.CUSTOMER_ANSWERED,
        Notice.TALKING,
    }
)
_TYPED_CALL_EVENTS = frozenset({Notice.CUSTOMER_RINGING, Notice.CUSTOMER_ANSWERED, Notice.TALKING})


def _signed_in(agent: SessionView, facts: SignInFacts) -> dict[str, Any]:
    groups = agent.groups
    return {
        "domain": facts.sip_domain,
        "sipId": agent.extension,
        "sipPassword": facts.sip_password,
        "token": facts.token,
        "agentType": AGENT_TYPES[agent.role],
        "groupIdList": [g.sn for g in groups],
        "groupInfoList": [{"id": g.sn, "name": g.name, "isMaster": g.home} for g in groups],
        "busyType": agent.busy_type,
        "currentBusyType": agent.busy_type,
        "agentMakeCall": int(facts.agent_makes_calls),
        "registered": int(agent.registered),
        "loginType": LOGIN_TYPES[agent.login_type],
        "webrtcSipId": agent.extension,
        "webrtcSipPassword": facts.sip_password,
        "webrtcDomain": facts.sip_domain,
        # callyard's: where the soft phone registers (SIP over WebSocket).
        "webrtcWss": facts.sip_websocket or "",
        "webrtcWssPort": _port_of(facts.sip_websocket),
        "ivrList": [],
    }


def _port_of(url: str | None) -> str:
    """The port a URL names, "" when none."""
    port = urlsplit(url).port if url else None
    return "" if port is None else str(port)


def _call(call: SessionCall, channel: Channel, *, with_type: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "callDirection": _DIRECTIONS[channel][call.direction],
        "caller": call.caller,
        "called": call.called,
        "inQueueTime": call.queued_at_ms,
        "occCallId": call.call_id,
        "userData": call.user_data,
        "isPredictive": int(call.predictive),
        "origCaller": call.caller,
        "origCalled": call.called,
        "inputParam": "",
        "outputParam": "",
        "ivrKeyRecord": [],
    }
    if with_type:
        data["callType"] = CALL_TYPES[call.part]
    return data


def _mid_call(call: SessionCall | None, outcome: MidCallOutcome) -> dict[str, Any]:
    data: dict[str, Any] = {
        "callType": CALL_TYPES[outcome.part],
        "occCallId": call.call_id if call is not None else "",
    }
    if outcome.phase is Phase.FAILED:
        data["cause"] = outcome.cause
    return data


def _cause(summary: CallSummary) -> tuple[int, str]:
    cause = cause_of(summary.reason, summary.sip_status, summary.rang)
    return cause.code, cause.name


def _after(call: SessionCall, summary: CallSummary, channel: Channel) -> dict[str, Any]:
    code, name = _cause(summary)
    auto = summary.auto_idle_seconds
    data: dict[str, Any] = {
        "callDirection": _DIRECTIONS[channel][call.direction],
        "recordPath": summary.recording_link,
        "cause": code,
        "hangupDirection": 0 if summary.by_agent else 1,
        "beginTime": _ms(call.begin_ms),
        "ringTime": _ms(call.ring_ms),
        "answerTime": _ms(call.answer_ms),
        "endTime": _ms(summary.ended_ms),
        "caller": call.caller,
        "called": call.called,
        "callType": CALL_TYPES[call.part],
        "data": name,
        "inQueueTime": call.queued_at_ms,
        "agentAutoIdle": int(auto is not None),
        "agentAutoIdleTime": round(auto) if auto is not None else 0,
        "occCallId": call.call_id,
    }
    return data


def _ms(value: int) -> str:
    """Epoch milliseconds as the After event's strings; "" for what did not happen."""
    return str(value) if value else ""


def _groups(groups: tuple[GroupRef, ...]) -> list[dict[str, str]]:
    return [{"id": g.sn, "name": g.name} for g in groups]


def _watched(view: SessionView, now_ms: int, channel: Channel) -> dict[str, Any]:
    direction = "" if view.direction is None else str(_DIRECTIONS[channel][view.direction])
    return {
        "companyId": str(view.company_code),
        "agentId": view.agent_sn,
        "agentNumber": view.number,
        "agentName": view.name,
        "nowState": STATES[view.status],
        "operatingTime": str(view.since_ms),
        "loginTime": str(view.signed_in_ms),
        "loginDuration": str(max(0, now_ms - view.signed_in_ms) // 1000),
        "peerId": view.peer,
        "callDirection": direction,
        "groupList": _groups(view.groups),
    }


def _queue(view: QueueView) -> dict[str, Any]:
    return {
        "groupID": view.group.sn,
        "groupWaitNumber": len(view.waiting),
        "isInQueue": int(view.member),
        "handleAgentID": "",
        "data": [
            {
                "caller": w.caller,
                "called": w.called,
                "groupID": view.group.sn,
                "inQueueTime": w.queued_ms,
            }
            for w in view.waiting
        ],
    }


def _idle_agent(view: SessionView) -> dict[str, str]:
    return {"agentId": view.agent_sn, "agentNumber": view.number, "agentName": view.name}


class VcallAgentEvents:
    """The outbox's renderer of agents' events: every notice is pushed to the company's
    `AgentEvent` URL."""

    def notice(self, notice: AgentNotice) -> tuple[str, bytes] | None:
        return AGENT_EVENT, push_body(notice)
