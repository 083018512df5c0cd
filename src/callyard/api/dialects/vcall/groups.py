"""Skill groups (catalog M5) in callyard's words and back: the `policy` codes, the
settings of a request, a listing's record."""

from __future__ import annotations

from callyard.api.dialects.vcall import schemas
from callyard.domain.groups import RingPolicy
from callyard.services.groups import GroupRecord, GroupSettings
from callyard.webhooks.settings import check_url

# `policy`: the seed's labels are illegible; this is the reading docs/compat.md records.
POLICIES: dict[int, RingPolicy] = {
    0: RingPolicy.ROUND_ROBIN,
    1: RingPolicy.RANDOM,
    2: RingPolicy.LONGEST_IDLE,
    3: RingPolicy.BY_LEVEL,
    4: RingPolicy.FEWEST_ANSWERED,
}
POLICY_CODES = {policy: code for code, policy in POLICIES.items()}


def settings_of(body: schemas.GroupBody) -> GroupSettings:
    """What a create or update request sets."""
    popup_url = body.popupWindowUrl
    if popup_url:
        popup_url = check_url(popup_url, "popupWindowUrl")
    return GroupSettings(
        name=body.name,
        policy=None if body.policy is None else POLICIES[body.policy],
        popup_url=popup_url,
        caller_number=body.caller,
        auto_idle=schemas.flag(body.agentAutoIdle),
        auto_idle_seconds=body.agentAutoIdleTime,
        transfer_within=schemas.flag(body.onlyTransferToCurrent),
        agents_dial=schemas.flag(body.agentMakeCall),
        remark=body.remark,
        department=body.deptName,
        agent_sns=None if body.agentSnList is None else tuple(dict.fromkeys(body.agentSnList)),
    )


def record_of(group: GroupRecord) -> schemas.GroupRecord:
    return schemas.GroupRecord(
        sn=group.sn,
        name=group.name,
        deptName=group.department,
        policy=POLICY_CODES[group.policy],
        agentSnList=list(group.agent_sns),
        agentTotal=group.members,
        popupWindowUrl=group.popup_url,
        caller=group.caller_number,
        agentAutoIdle=int(group.auto_idle),
        agentAutoIdleTime=group.auto_idle_seconds,
        onlyTransferToCurrent=int(group.transfer_within),
        agentMakeCall=int(group.agents_dial),
        remark=group.remark,
    )
