"""The admin HTTP API: key check, company and extension operations, error statuses."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ADMIN_KEY, SipClient

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def test_admin_key_is_required(http: httpx.AsyncClient) -> None:
    assert (await http.get("/admin/companies")).status_code == 401
    assert (await http.get("/admin/companies", headers={"X-Admin-Key": "wrong"})).status_code == 401
    assert (
        await http.get("/admin/companies", headers={"X-Admin-Key": ADMIN_KEY})
    ).status_code == 200
    assert (await http.get("/admin/companies", headers=AUTH)).status_code == 200


async def test_company_lifecycle(http: httpx.AsyncClient, sip: SipClient) -> None:
    created = await http.post(
        "/admin/companies", json={"name": "Acme Lending", "appid": "acme-app"}, headers=AUTH
    )
    assert created.status_code == 201
    credentials = created.json()
    assert set(credentials) == {"companycode", "companyname", "appid", "accesskey"}
    assert credentials["appid"] == "acme-app"
    code = credentials["companycode"]
    token = await sip.login("acme-app", credentials["accesskey"])

    shown = (await http.get(f"/admin/companies/{code}", headers=AUTH)).json()
    assert shown["name"] == "Acme Lending"
    assert "accesskey" not in str(shown)

    ips = await http.put(
        f"/admin/companies/{code}/allowed-ips",
        json={"cidrs": ["10.0.0.1", "192.0.2.0/24"]},
        headers=AUTH,
    )
    assert ips.json()["allowed_cidrs"] == ["10.0.0.1/32", "192.0.2.0/24"]
    info = {"service": "App.Sip_Sipnum.GetSipnumberInfo", "token": token, "status": 3}
    assert (await sip.call(info))["ret"] == 604
    await http.put(f"/admin/companies/{code}/allowed-ips", json={"cidrs": []}, headers=AUTH)
    assert (await sip.call(info))["ret"] == 200

    modules = await http.patch(
        f"/admin/companies/{code}/capabilities",
        json={"disable": ["extensions", "calls"]},
        headers=AUTH,
    )
    assert modules.json()["disabled_capabilities"] == ["calls", "extensions"]
    assert (await sip.call(info))["ret"] == 603

    expiry = await http.put(
        f"/admin/companies/{code}/expiry", json={"at": "2020-01-01T00:00:00+00:00"}, headers=AUTH
    )
    assert expiry.json()["expires_at"].startswith("2020-01-01T00:00:00")
    assert (await sip.call(info))["ret"] == 602

    await http.put(f"/admin/companies/{code}/expiry", json={"at": None}, headers=AUTH)
    assert (await sip.call(info))["ret"] == 600  # renewed: tokens of before are gone
    token = await sip.login("acme-app", credentials["accesskey"])
    info["token"] = token

    rotated = (await http.post(f"/admin/companies/{code}/rotate-key", headers=AUTH)).json()
    assert rotated["accesskey"] != credentials["accesskey"]
    assert (await sip.call(info))["ret"] == 600  # a new key revokes every token
    old = await sip.call(
        {
            "service": "App.Sip_Auth.Login",
            "appid": "acme-app",
            "accesskey": credentials["accesskey"],
        }
    )
    assert old["data"]["errors"]["code"] == "1003"
    await sip.login("acme-app", rotated["accesskey"])


async def test_extensions(http: httpx.AsyncClient) -> None:
    code = (await http.post("/admin/companies", json={"name": "x"}, headers=AUTH)).json()[
        "companycode"
    ]
    made = await http.post(
        f"/admin/companies/{code}/extensions",
        json={"range": "0998-1002", "numbers": ["5000"], "password": "pw123456"},
        headers=AUTH,
    )
    assert made.status_code == 201
    assert [e["number"] for e in made.json()] == ["5000", "0998", "0999", "1000", "1001", "1002"]
    assert {e["password"] for e in made.json()} == {"pw123456"}
    disabled = await http.post(
        f"/admin/companies/{code}/extensions/disable", json={"numbers": ["0999"]}, headers=AUTH
    )
    assert disabled.json() == [
        {"number": "0999", "password": "pw123456", "enabled": False, "registered": False}
    ]
    listed = (await http.get(f"/admin/companies/{code}/extensions", headers=AUTH)).json()
    assert [(e["number"], e["enabled"]) for e in listed][:3] == [
        ("0998", True),
        ("0999", False),
        ("1000", True),
    ]
    again = await http.post(
        f"/admin/companies/{code}/extensions", json={"numbers": ["1001", "7000"]}, headers=AUTH
    )
    assert again.status_code == 409
    assert "1001" in again.json()["error"]
    listed_after = (await http.get(f"/admin/companies/{code}/extensions", headers=AUTH)).json()
    assert "7000" not in [e["number"] for e in listed_after]  # all or none


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/admin/companies/9999", None, 404),
        ("POST", "/admin/companies", {"name": ""}, 422),
        ("POST", "/admin/companies", {"name": "a", "appid": "bad appid!"}, 422),
        ("PUT", "/admin/companies/{code}/allowed-ips", {"cidrs": ["300.1.1.1"]}, 422),
        ("PATCH", "/admin/companies/{code}/capabilities", {"disable": ["telepathy"]}, 422),
        ("PATCH", "/admin/companies/{code}/capabilities", {"disable": ["sessions"]}, 422),
        ("PUT", "/admin/companies/{code}/expiry", {"at": "2020-01-01T00:00:00"}, 422),
        ("POST", "/admin/companies/{code}/extensions", {"range": "10-1"}, 422),
        ("POST", "/admin/companies/{code}/extensions", {"range": "1-20000"}, 422),
        ("POST", "/admin/companies/{code}/extensions", {"numbers": ["12a"]}, 422),
        ("POST", "/admin/companies/{code}/extensions", {}, 422),
        ("POST", "/admin/companies/{code}/extensions/enable", {"numbers": ["4242"]}, 404),
        ("POST", "/admin/companies/9999/extensions", {"numbers": ["4242"]}, 404),
    ],
)
async def test_errors(
    http: httpx.AsyncClient, method: str, path: str, body: object, status: int
) -> None:
    code = (await http.post("/admin/companies", json={"name": "x"}, headers=AUTH)).json()[
        "companycode"
    ]
    response = await http.request(method, path.format(code=code), json=body, headers=AUTH)
    assert response.status_code == status, response.text
    assert response.json()["error"]


async def test_duplicate_appid_is_409(http: httpx.AsyncClient) -> None:
    body = {"name": "a", "appid": "same-app"}
    assert (await http.post("/admin/companies", json=body, headers=AUTH)).status_code == 201
    assert (await http.post("/admin/companies", json=body, headers=AUTH)).status_code == 409


async def test_openapi_documents_the_admin_api(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in (
        "/admin/companies",
        "/admin/companies/{code}/allowed-ips",
        "/admin/companies/{code}/expiry",
        "/admin/companies/{code}/capabilities",
        "/admin/companies/{code}/extensions",
        "/admin/companies/{code}/extensions/disable",
        "/admin/companies/{code}/trunks",
        "/admin/companies/{code}/trunks/{name}",
        "/admin/companies/{code}/numbers",
        "/admin/companies/{code}/numbers/enable",
        "/admin/companies/{code}/numbers/disable",
        "/admin/companies/{code}/cdrs",
        "/recordings/{company}/{filename}",
        "/",
    ):
        assert path in paths, path


async def test_health_and_metrics(http: httpx.AsyncClient, sip: SipClient) -> None:
    health = await http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    await sip.call({"service": "App.Sip_Auth.Login", "appid": "nobody", "accesskey": "nothing1"})
    metrics = (await http.get("/metrics")).text
    assert (
        'callyard_api_requests_total{dialect="sip_api",ret="601",service="App.Sip_Auth.Login"} 1.0'
        in metrics
    )
    assert "callyard_api_request_seconds_bucket" in metrics


HUGE_INTEGERS = ("18446744073709551616", "-18446744073709551617", "9" * 40)

# A valid body for each body model of the admin API, so that a request reaches the
# checks of its path and query rather than stopping at its body.
VALID_BODIES: dict[str, object] = {
    "MonitorBody": {"supervisor": "0002", "mode": "listen"},
    "CompanyCreate": {"name": "x"},
    "AllowedIps": {"cidrs": []},
    "Expiry": {"at": None},
    "Capabilities": {},
    "ExtensionCreate": {"numbers": ["4242"], "password": "Xk9-long-enough-pw"},
    "ExtensionNumbers": {"numbers": ["4242"]},
    "TrunkCreate": {"name": "t", "host": "192.0.2.1"},
    "PbxTrunkCreate": {"name": "p", "host": "192.0.2.9"},
    "NumberCreate": {"number": "+15550100"},
    "NumberList": {"numbers": ["+15550100"]},
    "NumberRoute": {},
    "CredentialCreate": {"kind": "vcall"},
    "TimeZone": {"timezone": None},
    "WebhookUpdate": {},
    "GroupQueueBody": {},
}


def admin_operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (method, path, operation) of the admin API, as the app documents its routes."""
    return [
        (method.upper(), path, operation)
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/admin")
        for method, operation in item.items()
    ]


def valid_body(operation: dict[str, Any]) -> object:
    if "requestBody" not in operation:
        return None
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[1]
    assert name in VALID_BODIES, f"add a valid {name} to VALID_BODIES"
    return VALID_BODIES[name]


@pytest.mark.parametrize("huge", HUGE_INTEGERS)
async def test_huge_integers_in_paths_and_queries_are_client_errors(
    http: httpx.AsyncClient, huge: str
) -> None:
    app = cast(httpx.ASGITransport, http._transport).app
    assert isinstance(app, FastAPI)
    code = (await http.post("/admin/companies", json={"name": "x"}, headers=AUTH)).json()[
        "companycode"
    ]
    operations = admin_operations(app)
    assert len(operations) >= 20
    for method, path, operation in operations:
        parameters = operation.get("parameters", [])
        names = [p["name"] for p in parameters if p["in"] == "path"]
        queries = {p["name"]: huge for p in parameters if p["in"] == "query"}
        urls = [path.format(**dict.fromkeys(names, huge))] if names else []
        if queries:
            valid = {name: str(code) if name == "code" else "x" for name in names}
            urls.append(path.format(**valid) + "?" + urlencode(queries))
        for url in urls:
            response = await http.request(method, url, json=valid_body(operation), headers=AUTH)
            assert 400 <= response.status_code < 500, (method, url, response.text)
            assert response.json()["error"], (method, url)


async def test_every_admin_error_has_the_documented_error_body(http: httpx.AsyncClient) -> None:
    for headers in ({}, {"X-Admin-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
        refused = await http.get("/admin/companies", headers=headers)
        assert refused.status_code == 401
        assert refused.json() == {"error": "missing or wrong admin key"}
    not_allowed = await http.delete("/admin/companies", headers=AUTH)
    assert not_allowed.status_code == 405
    assert set(not_allowed.json()) == {"error"}
    unknown = await http.get("/admin/no-such-thing", headers=AUTH)
    assert unknown.status_code == 404
    assert set(unknown.json()) == {"error"}
