"""Request fields of each App.Sip_* service, validated from form values."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    model_validator,
)

from callyard.api.dialects.sip_api.call_codes import TASK_STATES
from callyard.api.dialects.sip_api.code_tables import AnswerType, TaskNumberStatus
from callyard.api.dialects.sip_api.task_numbers import parse_numbers
from callyard.api.forms import Form
from callyard.domain.agents import AgentState
from callyard.errors import InvalidInput
from callyard.services import tasks
from callyard.services.calls import check_phone_number
from callyard.services.extensions import StatusFilter, check_number, split_numbers
from callyard.services.groups import MAX_GROUP_NAME


def _extension_number(value: str) -> str:
    try:
        return check_number(value)
    except InvalidInput as exc:
        raise ValueError(exc.reason) from exc


def _extension_list(value: object) -> list[str]:
    if not isinstance(value, str):
        raise ValueError("expected comma-separated extension numbers")
    try:
        return split_numbers(value)
    except InvalidInput as exc:
        raise ValueError(exc.reason) from exc


def _optional_extension(value: str) -> str:
    return _extension_number(value) if value else value


Required = Annotated[str, Field(min_length=1)]
GroupName = Annotated[str, Field(min_length=1, max_length=MAX_GROUP_NAME)]
ExtNumber = Annotated[str, Field(min_length=1), AfterValidator(_extension_number)]
OptionalExtNumber = Annotated[str, AfterValidator(_optional_extension)]


class LoginForm(Form):
    appid: Annotated[str, Field(min_length=1, max_length=64)]
    accesskey: Annotated[str, Field(min_length=1, max_length=128)]


class TokenForm(Form):
    token: Required


class AddExtgroupForm(TokenForm):
    name: GroupName
    status: Annotated[int, Field(ge=0, le=1)] = 1


class GroupForm(TokenForm):
    name: GroupName


class GroupFilterForm(TokenForm):
    name: Annotated[str, Field(max_length=MAX_GROUP_NAME)] = ""


class MembershipForm(TokenForm):
    name: GroupName
    extnumber: ExtNumber


class EditExtnumberForm(MembershipForm):
    state: AgentState


class GetGroupExtForm(GroupFilterForm):
    extnumber: OptionalExtNumber = ""


class GetSipnumberInfoForm(TokenForm):
    status: StatusFilter = StatusFilter.ENABLED
    extnumber: OptionalExtNumber = ""


class ExtensionListForm(TokenForm):
    extnumber: Annotated[list[str], BeforeValidator(_extension_list)]


def _phone_number(value: str) -> str:
    try:
        return check_phone_number(value, "number")
    except InvalidInput as exc:
        raise ValueError(exc.reason) from exc


PhoneNumber = Annotated[str, Field(min_length=1), AfterValidator(_phone_number)]
Custom = Annotated[str, Field(max_length=128)]


class CallForm(TokenForm):
    """Fields MakeCall and DoubleCall share."""

    extnumber: ExtNumber
    disnumber: Annotated[str, Field(max_length=33)] = ""
    userid: Custom = ""
    chengshudu: Custom = ""
    memberid: Custom = ""
    customuuid: Custom = ""


class MakeCallForm(CallForm):
    destnumber: PhoneNumber


class DoubleCallForm(CallForm):
    anumber: PhoneNumber
    bnumber: PhoneNumber


class GetRecodeFileForm(TokenForm):
    filename: Annotated[str, Field(min_length=1, max_length=255)]


def _numbers(value: object) -> tuple[tasks.NumberEntry, ...]:
    if not isinstance(value, str):
        raise ValueError("expected a JSON array")
    try:
        return parse_numbers(value)
    except InvalidInput as exc:
        raise ValueError(exc.reason) from exc


def _windows(value: object) -> tuple[tasks.Window, ...]:
    if not isinstance(value, str):
        raise ValueError("expected HH:MM-HH:MM[,HH:MM-HH:MM...]")
    try:
        return tasks.parse_windows(value)
    except InvalidInput as exc:
        raise ValueError(exc.reason) from exc


def _retry_delays(value: object) -> tuple[int, ...]:
    if not isinstance(value, str):
        raise ValueError("expected minutes, e.g. 10,30")
    try:
        return tasks.parse_retry_delays(value, "retry")
    except InvalidInput as exc:
        raise ValueError(exc.reason) from exc


_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _date(value: object) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("expected a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value} is not a date") from exc


def _task_status(value: int | None) -> int | None:
    if value is not None and value not in TASK_STATES:
        raise ValueError("must be 1025, 1026, 1027 or 1028")
    return value


Numbers = Annotated[tuple[tasks.NumberEntry, ...], PlainValidator(_numbers)]
Windows = Annotated[tuple[tasks.Window, ...], PlainValidator(_windows)]
RetryDelays = Annotated[tuple[int, ...], PlainValidator(_retry_delays)]
Date = Annotated[date, PlainValidator(_date)]
TaskId = Annotated[str, Field(min_length=1, max_length=64)]
CurrentPage = Annotated[int, Field(ge=1, le=1_000_000)]
ItemsPerPage = Annotated[int, Field(ge=1, le=tasks.MAX_PAGE_SIZE)]
NumbersPerPage = Annotated[int, Field(ge=1, le=tasks.MAX_NUMBERS_PAGE_SIZE)]


class TaskCreateForm(TokenForm):
    name: Annotated[str, Field(min_length=1, max_length=tasks.MAX_TASK_NAME)]
    groupname: GroupName
    numbers: Numbers = ()
    disnumber: Annotated[str, Field(max_length=33)] = ""
    startdate: Date
    enddate: Date
    windows: Windows = tasks.parse_windows(tasks.DEFAULT_WINDOWS)
    ringtimeout: Annotated[int, Field(ge=tasks.RING_TIMEOUT_MIN, le=tasks.RING_TIMEOUT_MAX)] = (
        tasks.DEFAULT_RING_TIMEOUT
    )
    retrybusy: RetryDelays = ()
    retrynoanswer: RetryDelays = ()
    maxattempts: Annotated[
        int | None, Field(ge=tasks.MAX_ATTEMPTS_MIN, le=tasks.MAX_ATTEMPTS_MAX)
    ] = None
    abandonrate: Annotated[
        float, Field(ge=tasks.ABANDON_RATE_MIN, le=tasks.ABANDON_RATE_MAX, allow_inf_nan=False)
    ] = tasks.DEFAULT_ABANDON_RATE
    wrapup: Annotated[int, Field(ge=tasks.WRAPUP_MIN, le=tasks.WRAPUP_MAX)] = tasks.DEFAULT_WRAPUP

    @model_validator(mode="after")
    def _consistent(self) -> TaskCreateForm:
        # InvalidInput (not a ValueError) leaves pydantic as it is: ret 400 naming the field.
        self.spec()
        return self

    def spec(self) -> tasks.TaskSpec:
        return tasks.TaskSpec(
            name=self.name,
            groupname=self.groupname,
            startdate=self.startdate,
            enddate=self.enddate,
            disnumber=self.disnumber,
            windows=self.windows,
            ring_timeout=self.ringtimeout,
            retry_busy=self.retrybusy,
            retry_noanswer=self.retrynoanswer,
            max_attempts=self.maxattempts,
            abandon_rate=self.abandonrate,
            wrapup=self.wrapup,
        )


class TaskForm(TokenForm):
    taskid: TaskId


class TaskAppendForm(TaskForm):
    numbers: Numbers


class TaskListForm(TokenForm):
    currentpage: CurrentPage = 1
    itemsperpage: ItemsPerPage = tasks.DEFAULT_PAGE_SIZE
    status: Annotated[int | None, AfterValidator(_task_status)] = None

    def page(self) -> tasks.PageRequest:
        return tasks.PageRequest(self.currentpage, self.itemsperpage)


class TaskInfoForm(TaskForm):
    currentpage: CurrentPage = 1
    itemsperpage: NumbersPerPage = tasks.DEFAULT_PAGE_SIZE
    status: TaskNumberStatus | None = None
    answertype: AnswerType | None = None

    def page(self) -> tasks.PageRequest:
        return tasks.PageRequest(self.currentpage, self.itemsperpage, tasks.MAX_NUMBERS_PAGE_SIZE)
