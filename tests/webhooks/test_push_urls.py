"""A URL per kind of push: set, replaced and removed through the service, the /admin
routes and `callyard webhook set --push`; what delivery reads follows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from callyard.cli.main import app
from callyard.config import Settings
from callyard.container import Container
from callyard.errors import InvalidInput
from callyard.store.lookups import company_by_code
from callyard.testing.clock import ManualClock
from callyard.webhooks.settings import WebhookSettingsService
from tests.conftest import ADMIN_KEY

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
KINDS = frozenset({"AgentCallEnd", "BidirectionalCallEnd"})
END = "https://crm.example.com/vcall/agent-call-end"
BOTH = "https://crm.example.com/vcall/bidirectional"
MOVED = "https://crm2.example.com/vcall/agent-call-end"


@pytest.fixture
async def container(
    settings: Settings, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Container]:
    opened = await Container.open(settings, clock=clock, upgrade_schema=False)
    yield opened
    await opened.close()


async def test_service(container: Container, clock: ManualClock) -> None:
    service = WebhookSettingsService(container.db, clock, push_kinds=KINDS)
    acme = await container.companies.create("acme")
    other = await container.companies.create("other")
    company_id = await _company_id(container, acme.companycode)
    other_id = await _company_id(container, other.companycode)
    await service.update(other.companycode, pushes={"AgentCallEnd": BOTH})

    assert (await service.get(acme.companycode)).pushes == {}
    created = await service.update(acme.companycode, pushes={"AgentCallEnd": END})
    assert created.secret is not None  # the first change creates the settings
    assert (created.enabled, created.pushes) == (True, {"AgentCallEnd": END})
    targets = await service.targets(company_id)
    assert targets is not None
    assert (targets.push_url("AgentCallEnd"), targets.push_url("BidirectionalCallEnd")) == (
        END,
        None,
    )
    hash(targets)  # still usable as a key

    both = await service.update(
        acme.companycode, pushes={"BidirectionalCallEnd": f" {BOTH} ", "AgentCallEnd": MOVED}
    )
    assert both.secret is None
    assert list(both.pushes.items()) == [("AgentCallEnd", MOVED), ("BidirectionalCallEnd", BOTH)]
    assert (await service.get(acme.companycode)).pushes == both.pushes
    targets = await service.targets(company_id)
    assert targets is not None
    assert targets.push_url("AgentCallEnd") == MOVED
    with pytest.raises(TypeError):
        targets.pushes["AgentCallEnd"] = END  # type: ignore[index]

    await service.update(acme.companycode, enabled=False)
    targets = await service.targets(company_id)
    assert targets is not None
    assert targets.pushes["AgentCallEnd"] == MOVED
    assert targets.push_url("AgentCallEnd") is None  # disabled: nothing is wanted
    await service.update(acme.companycode, enabled=True)

    removed = await service.update(acme.companycode, pushes={"AgentCallEnd": ""})
    assert removed.pushes == {"BidirectionalCallEnd": BOTH}
    targets = await service.targets(company_id)
    assert targets is not None
    assert targets.push_url("AgentCallEnd") is None
    await service.update(acme.companycode, pushes={"AgentCallEnd": ""})  # already gone

    with pytest.raises(InvalidInput) as unknown:
        await service.update(acme.companycode, pushes={"HangupCauseEvent": END})
    assert unknown.value.field == "push"
    assert "'HangupCauseEvent'" in unknown.value.reason
    assert "one of AgentCallEnd, BidirectionalCallEnd" in unknown.value.reason
    with pytest.raises(InvalidInput) as bad:
        await service.update(acme.companycode, pushes={"AgentCallEnd": "ftp://crm.example.com/"})
    assert bad.value.field == "AgentCallEnd"
    assert (await service.get(acme.companycode)).pushes == {"BidirectionalCallEnd": BOTH}

    assert (await service.get(other.companycode)).pushes == {"AgentCallEnd": BOTH}
    others = await service.targets(other_id)
    assert others is not None
    assert others.push_url("AgentCallEnd") == BOTH

    offers_none = WebhookSettingsService(container.db, clock)
    with pytest.raises(InvalidInput, match="none are offered"):
        await offers_none.update(acme.companycode, pushes={"AgentCallEnd": END})


async def _company_id(container: Container, code: int) -> int:
    async with container.db.transaction() as session:
        return (await company_by_code(session, code)).id


async def test_admin_routes(http: httpx.AsyncClient, container: Container) -> None:
    code = (await container.companies.create("acme")).companycode
    other = (await container.companies.create("other")).companycode
    base = f"/admin/companies/{code}/webhook"
    assert (await http.get(base, headers=AUTH)).json()["pushes"] == {}

    created = await http.put(base, json={"pushes": {"AgentCallEnd": END}}, headers=AUTH)
    assert created.status_code == 200
    assert created.json()["secret"].startswith("whsec_")
    assert created.json()["pushes"] == {"AgentCallEnd": END}
    changed = await http.put(
        base, json={"pushes": {"AgentCallEnd": MOVED, "BidirectionalCallEnd": BOTH}}, headers=AUTH
    )
    assert changed.json()["pushes"] == {"AgentCallEnd": MOVED, "BidirectionalCallEnd": BOTH}
    removed = await http.put(base, json={"pushes": {"BidirectionalCallEnd": ""}}, headers=AUTH)
    assert removed.json()["pushes"] == {"AgentCallEnd": MOVED}
    untouched = await http.put(base, json={"enabled": True}, headers=AUTH)
    assert untouched.json()["pushes"] == {"AgentCallEnd": MOVED}

    unknown = await http.put(base, json={"pushes": {"TaskStatus": END}}, headers=AUTH)
    assert unknown.status_code == 422
    assert "unknown push kind 'TaskStatus'" in unknown.json()["error"]
    bad = await http.put(base, json={"pushes": {"AgentCallEnd": "no url"}}, headers=AUTH)
    assert bad.status_code == 422
    assert "AgentCallEnd" in bad.json()["error"]
    shown = (await http.get(base, headers=AUTH)).json()
    assert shown["pushes"] == {"AgentCallEnd": MOVED}
    assert (await http.get(f"/admin/companies/{other}/webhook", headers=AUTH)).json() == {
        "company_code": other,
        "call_state_url": None,
        "cdr_url": None,
        "enabled": False,
        "secret_created_at": None,
        "updated_at": None,
        "pushes": {},
    }


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    if result.exit_code != 0:
        return result.exit_code, json.loads(result.stderr.strip().splitlines()[-1])["error"]
    return json.loads(result.stdout)


def test_cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = ("--db-url", db_url, "--data-dir", str(tmp_path / "data"))
    code = str(_cli("company", "create", "--name", "Acme", *db)["companycode"])
    other = str(_cli("company", "create", "--name", "Other", *db)["companycode"])
    assert _cli("webhook", "show", "--company", code, *db)["pushes"] == {}

    created = _cli("webhook", "set", "--company", code, "--push", f"AgentCallEnd={END}", *db)
    assert created["secret"].startswith("whsec_")
    assert created["pushes"] == {"AgentCallEnd": END}
    changed = _cli(
        "webhook", "set", "--company", code,
        "--push", f"AgentCallEnd={MOVED}", "--push", f"BidirectionalCallEnd={BOTH}", *db,
    )  # fmt: skip
    assert changed["pushes"] == {"AgentCallEnd": MOVED, "BidirectionalCallEnd": BOTH}
    removed = _cli("webhook", "set", "--company", code, "--push", "AgentCallEnd=", *db)
    assert removed["pushes"] == {"BidirectionalCallEnd": BOTH}
    shown = _cli("webhook", "show", "--company", code, *db)
    assert shown["pushes"] == {"BidirectionalCallEnd": BOTH}

    unknown = _cli("webhook", "set", "--company", code, "--push", f"TaskStatus={END}", *db)
    assert unknown == (
        2,
        "invalid push: unknown push kind 'TaskStatus';"
        " one of AgentCallEnd, AgentEvent, BidirectionalCallEnd, HangupCauseEvent,"
        " SipDockingCallEnd",
    )
    bad = _cli("webhook", "set", "--company", code, "--push", "AgentCallEnd=mailto:x@y.z", *db)
    assert bad[0] == 2
    assert bad[1].startswith("invalid AgentCallEnd:")
    no_kind = _cli("webhook", "set", "--company", code, "--push", END, *db)
    assert no_kind[0] == 2
    assert "KIND=URL" in no_kind[1]
    assert _cli("webhook", "show", "--company", code, *db)["pushes"] == {
        "BidirectionalCallEnd": BOTH
    }
    assert _cli("webhook", "show", "--company", other, *db)["pushes"] == {}
