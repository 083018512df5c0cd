"""The `{ret, data, msg}` envelope of the App.Sip_* API."""

from __future__ import annotations

from typing import Any

from callyard.api.dialects.sip_api.code_tables import Code, Ret

Json = dict[str, Any]


def success(desc: str, reqtime: int, rsptime: int, result: Any = None) -> Json:
    """`ret` 200, `data.status` 0; `result` only when the service returns one."""
    data: Json = {"status": 0, "desc": desc}
    if result is not None:
        data["result"] = result
    data["reqtime"] = reqtime
    data["rsptime"] = rsptime
    return {"ret": Ret.OK.value, "data": data, "msg": ""}


def raw_success(data: Any) -> Json:
    """`ret` 200 with `data` as the service documents it (GetGroupExt's bare list)."""
    return {"ret": Ret.OK.value, "data": data, "msg": ""}


def business_failure(code: Code, desc: str, reqtime: int, rsptime: int) -> Json:
    """`ret` 200, `data.status` 1 with `errors.code` as the seed writes it: a string."""
    return {
        "ret": Ret.OK.value,
        "data": {
            "status": 1,
            "desc": desc,
            "errors": {"code": str(code.value), "codemsg": code.message},
            "reqtime": reqtime,
            "rsptime": rsptime,
        },
        "msg": "",
    }


def interface_error(ret: Ret, detail: str = "") -> Json:
    """`ret` 400-604: `data` empty, `msg` says what went wrong."""
    msg = ret.message if not detail else f"{ret.message}: {detail}"
    return {"ret": ret.value, "data": [], "msg": msg}
