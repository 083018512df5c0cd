"""The vcall API's request bodies, as the seed names and types their fields."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr

Key = Annotated[StrictStr, Field(min_length=1, max_length=128)]


class TokenRequest(BaseModel):
    """`POST /api/token` (M1.1): the company's key id and secret."""

    model_config = ConfigDict(extra="ignore")

    accessKeyId: Key
    accessKeySecret: Key


class Token(BaseModel):
    """`data` of the token's answer: the token and its absolute expiry in epoch ms."""

    token: str
    expireTime: int
