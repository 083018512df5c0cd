"""Why callyard does not carry out a request, in its own words.

Services raise these (`errors.BusinessError`, `errors.AccessDenied`); each dialect maps
them onto its vendor's codes (`api/dialects/<vendor>/codes.py`).
"""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """A valid request that cannot be carried out."""

    FAILED = "failed"  # nothing more specific to say (a task id could not be drawn)
    SWITCH_DOWN = "switch_down"  # this process runs no switch
    NO_TRUNK = "no_trunk"  # the company has no SIP trunk
    NO_NUMBER = "no_number"  # the company has no enabled caller ID number
    CALL_NOT_PLACED = "call_not_placed"  # a voice code's call could not be placed
    ALREADY_EXISTS = "already_exists"  # a group of that name, an agent of that work number
    WRONG_CREDENTIALS = "wrong_credentials"  # the access key is not the appid's
    TOO_MANY_FAILURES = "too_many_failures"  # logins blocked after failed attempts
    TOO_MANY_REQUESTS = "too_many_requests"  # over a voice code limit
    MESSAGE_UNSPEAKABLE = "message_unspeakable"  # the text could not be synthesized
    EXTENSION_NOT_FOUND = "extension_not_found"
    EXTENSION_FOREIGN = "extension_foreign"  # another company's extension
    EXTENSION_DISABLED = "extension_disabled"
    EXTENSION_NOT_REGISTERED = "extension_not_registered"
    EXTENSION_BUSY = "extension_busy"  # already in a call
    EXTENSION_ASSIGNED = "extension_assigned"  # another agent's SIP account
    NUMBER_NOT_FOUND = "number_not_found"  # no such caller ID number
    NUMBER_FOREIGN = "number_foreign"  # another company's caller ID number
    NUMBER_DISABLED = "number_disabled"
    GROUP_NOT_FOUND = "group_not_found"  # also another company's group
    GROUP_DISABLED = "group_disabled"
    NOT_CHECKED_IN = "not_checked_in"  # the extension is not checked in to the group
    ALREADY_CHECKED_IN = "already_checked_in"
    AGENT_NOT_FOUND = "agent_not_found"  # also another company's agent
    AGENT_IN_CALL = "agent_in_call"  # the change must wait for the agent's call to end
    AGENT_DISABLED = "agent_disabled"
    AGENT_UNREACHABLE = "agent_unreachable"  # no phone registered and no mobile to ring
    AGENT_SIGNED_OUT = "agent_signed_out"  # the agent has no session: sign in first
    AGENT_WRONG_STATE = "agent_wrong_state"  # the request does not fit the agent's state
    AGENT_NO_CALLS = "agent_no_calls"  # the agent's group does not let it place calls
    AGENT_NO_CALL = "agent_no_call"  # the agent has no call to act on
    NOT_SUPERVISOR = "not_supervisor"  # another agent's state is a supervisor's to change
    CALL_NOT_CONTROLLED = "call_not_controlled"  # a call that takes no mid-call requests
    NOTHING_PENDING = "nothing_pending"  # no consult or transfer under way to act on
    TARGET_UNAVAILABLE = "target_unavailable"  # whom a call would go to cannot take it
    TASK_NOT_FOUND = "task_not_found"  # also another company's task
    TASK_NOT_STARTED = "task_not_started"
    TASK_RUNNING = "task_running"
    TASK_PAUSED = "task_paused"
    TASK_OVER = "task_over"
    TASK_EXPIRED = "task_expired"  # its end date has passed
    RECORDING_NOT_FOUND = "recording_not_found"  # not one of the company's recordings
    RECORDING_PURGED = "recording_purged"  # deleted after the retention period
    RECORDING_UNAVAILABLE = "recording_unavailable"  # recorded, but its file is missing


class Denial(StrEnum):
    """Authentication or licensing refused the request."""

    TOKEN_INVALID = "token_invalid"  # noqa: S105 - unknown, expired or blank; no secret
    CREDENTIAL_UNKNOWN = "credential_unknown"  # no company has this appid
    EXPIRED = "expired"  # the company's authorization has expired
    NOT_LICENSED = "not_licensed"  # the company may not use this capability
    ADDRESS_NOT_ALLOWED = "address_not_allowed"  # the client's IP is not allowed
