"""Admin request and response bodies; the CLI prints the same shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CompanyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    appid: str | None = None
    accesskey: str | None = None


class Credentials(Out):
    """Shown once: the access key is kept only as a hash."""

    companycode: int
    companyname: str
    appid: str
    accesskey: str


class CompanyOut(Out):
    code: int
    name: str
    appid: str
    authorized_at: datetime
    expires_at: datetime | None
    allowed_cidrs: list[str]
    disabled_modules: list[str]


class AllowedIps(BaseModel):
    cidrs: list[str]
    replace: bool = True


class Expiry(BaseModel):
    at: AwareDatetime | None


class Modules(BaseModel):
    enable: list[str] = []
    disable: list[str] = []


class ExtensionCreate(BaseModel):
    numbers: list[str] = []
    range: str | None = Field(default=None, description="FIRST-LAST, e.g. 1001-1050")
    password: str | None = None


class ExtensionNumbers(BaseModel):
    numbers: list[str] = Field(min_length=1)


class ExtensionOut(Out):
    number: str
    password: str
    enabled: bool
    registered: bool


class ErrorOut(BaseModel):
    error: str
