"""`/openapi.json` describes the whole vcall API with the seed's paths, field names and
examples."""

from __future__ import annotations

from typing import Any

import httpx

BODIES = {
    ("post", "/api/token"): {"accessKeyId", "accessKeySecret"},
    ("post", "/api/group/open/create"): {"token", "name", "policy", "agentSnList",
                                          "popupWindowUrl", "caller", "agentAutoIdle",
                                          "agentAutoIdleTime", "onlyTransferToCurrent",
                                          "agentMakeCall", "remark"},
    ("post", "/api/group/open/{sn}"): {"token", "name", "policy", "agentSnList"},
    ("post", "/api/agent/open/create"): {"token", "agentName", "agentNumber", "password",
                                          "groupSn", "isSip", "phone", "sipId", "type",
                                          "level", "workingOffline", "agentAutoIdleTime",
                                          "displayCaller", "offlineCallType", "callMode"},
    ("post", "/api/agent/open/{sn}"): {"token", "agentNumber", "groupSn", "phone", "type"},
    ("post", "/api/agent/open/call"): {"token", "agentNum", "called", "userData", "callnum",
                                        "type"},
    ("post", "/api/sip/makecall"): {"token", "caller", "called", "userData", "callnum", "type"},
}  # fmt: skip
QUERIES = {
    ("get", "/api/group/open/page"): {"token", "name", "pageNo", "pageSize"},
    ("get", "/api/agent/open/page"): {"token", "agentName", "agentNumber", "groupSn", "phone",
                                       "status", "type", "pageNo", "pageSize"},
    ("post", "/api/agent/open/{sn}/status"): {"token", "status"},
    ("post", "/api/agent/open/{sn}/reset"): {"token"},
}  # fmt: skip


async def test_every_path_with_its_fields_and_examples(http: httpx.AsyncClient) -> None:
    spec: dict[str, Any] = (await http.get("/openapi.json")).json()
    paths = spec["paths"]
    for (method, path), names in BODIES.items():
        operation = paths[path][method]
        content = operation["requestBody"]["content"]["application/json"]
        assert names <= set(content["schema"]["properties"]), path
        if path != "/api/group/open/{sn}" and path != "/api/agent/open/{sn}":
            assert "example" in content, path
        assert operation["summary"].endswith(")"), path  # names its catalog module
    for (method, path), names in QUERIES.items():
        parameters = paths[path][method]["parameters"]
        assert names <= {p["name"] for p in parameters if p["in"] == "query"}, path
    # The forms without /api are served, not described twice.
    assert "/token" not in paths
    assert "/group/open/page" not in paths
