"""Request fields of each App.Sip_* service, validated from form values."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from callyard.errors import InvalidInput
from callyard.services.calls import check_phone_number
from callyard.services.extensions import StatusFilter, check_number, split_numbers
from callyard.services.groups import MAX_GROUP_NAME, AgentState


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


class Form(BaseModel):
    """A form: blank values count as absent, so optional fields take their defaults."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_blanks(cls, data: object) -> object:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data


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


def describe(error: ValidationError) -> InvalidInput:
    """The first problem of a validation error, phrased for the client."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "request"
    if first["type"] == "missing":
        return InvalidInput(field, "missing parameter")
    message = first["msg"].removeprefix("Value error, ")
    return InvalidInput(field, message)
