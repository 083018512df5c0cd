"""The vcall API's envelope `{code, msg, data}` (seed 003, catalog §1.3).

Each module has its own success value and type: integer `0` (the token), string `"0"`
(groups, agents), string `"0000"` (agent calls, two-way calls). Failures keep the
module's type: `-1` (or `"-1"`) with the reason in `msg`, `403` (or `"403"`) and
`no auth` for a missing, wrong or expired token (docs/compat.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Response

NO_AUTH = "no auth"


@dataclass(frozen=True)
class Codes:
    """A module's codes, in its type."""

    success: int | str
    failure: int | str
    no_auth: int | str


INTEGER = Codes(0, -1, 403)  # the token
STRING = Codes("0", "-1", "403")  # groups, agents
CALLS = Codes("0000", "-1", "403")  # agent calls, two-way calls


def code_of(codes: Codes, value: int) -> int | str:
    """A business code in the module's type."""
    return str(value) if isinstance(codes.success, str) else value


def body(code: int | str, msg: str, data: Any = None) -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


def reply(content: dict[str, Any]) -> Response:
    """HTTP 200 with the envelope: the code in the body says how it went."""
    return Response(orjson.dumps(content), media_type="application/json; charset=utf-8")
