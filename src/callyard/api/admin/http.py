"""Routes of the admin API; authenticated by the admin key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from callyard.api.admin.key import KEY_SCHEMES, admin_route
from callyard.api.admin.schemas import (
    AllowedIps,
    Capabilities,
    CdrOut,
    CompanyCreate,
    CompanyOut,
    CredentialCreate,
    CredentialOut,
    Credentials,
    ErrorOut,
    Expiry,
    ExtensionCreate,
    ExtensionNumbers,
    ExtensionOut,
    GroupQueueBody,
    IssuedCredentialOut,
    MonitorBody,
    NumberCreate,
    NumberList,
    NumberOut,
    NumberRoute,
    PbxTrunkCreate,
    PbxTrunkOut,
    Redelivered,
    TimeZone,
    TrunkCreate,
    TrunkOut,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookSecretOut,
    WebhookUpdate,
)
from callyard.api.dialects.sip_api.callbacks import record_body
from callyard.domain.mid_call import Action
from callyard.errors import BusinessError, Conflict, NotFound
from callyard.services.cdrs import MAX_LIST, CdrService
from callyard.services.companies import CompanyService
from callyard.services.credentials import CredentialService, parse_kind
from callyard.services.extensions import ExtensionService, extension_numbers
from callyard.services.numbers import NumberService
from callyard.services.pbx_trunks import PbxTrunkService
from callyard.services.queues.settings import QueueSettings, QueueSettingsService
from callyard.services.sessions.mid_call import MidCalls
from callyard.services.sessions.service import AgentSessions
from callyard.services.trunks import TrunkService
from callyard.timefmt import TimeFormat
from callyard.webhooks.deliveries import MAX_LIST as MAX_DELIVERIES
from callyard.webhooks.deliveries import DeliveryStatus
from callyard.webhooks.outbox import Outbox
from callyard.webhooks.settings import WebhookSettingsService

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "missing or wrong admin key"},
    404: {
        "model": ErrorOut,
        "description": "no such company, extension, trunk, number or webhook event",
    },
    408: {"model": ErrorOut, "description": "request body not received in time"},
    409: {"model": ErrorOut, "description": "already exists"},
    413: {"model": ErrorOut, "description": "request body too large"},
    422: {"model": ErrorOut, "description": "invalid input"},
}

MAX_INTEGER = 2**63 - 1  # the store's integers are 64-bit
MONITOR_MODES = {
    "listen": Action.LISTEN,
    "whisper": Action.WHISPER,
    "barge": Action.BARGE,
    "intercept": Action.INTERCEPT,
}
CompanyCode = Annotated[int, Path(ge=1, le=MAX_INTEGER)]


def router(
    admin_key: str,
    *,
    companies: CompanyService,
    extensions: ExtensionService,
    trunks: TrunkService,
    pbx_trunks: PbxTrunkService,
    numbers: NumberService,
    cdrs: CdrService,
    times: TimeFormat,
    webhooks: WebhookSettingsService,
    outbox: Outbox,
    credentials: CredentialService,
    queues: QueueSettingsService,
    sessions: AgentSessions | None = None,
    mid_calls: MidCalls | None = None,
) -> APIRouter:
    """The `/admin` routes."""
    routes = APIRouter(
        prefix="/admin",
        tags=["admin"],
        dependencies=KEY_SCHEMES,
        responses=ERRORS,
        route_class=admin_route(admin_key),
    )

    @routes.post("/companies", status_code=201, response_model=Credentials)
    async def create_company(body: CompanyCreate) -> Credentials:
        """Create a company; the access key is returned this once."""
        created = await companies.create(body.name, body.appid, body.accesskey)
        return Credentials.model_validate(created)

    @routes.get("/companies", response_model=list[CompanyOut])
    async def list_companies() -> list[CompanyOut]:
        return [CompanyOut.model_validate(c) for c in await companies.list_all()]

    @routes.get("/companies/{code}", response_model=CompanyOut)
    async def get_company(code: CompanyCode) -> CompanyOut:
        return CompanyOut.model_validate(await companies.get(code))

    @routes.post("/companies/{code}/rotate-key", response_model=Credentials)
    async def rotate_key(code: CompanyCode) -> Credentials:
        """Replace the access key; the old one stops working at once."""
        return Credentials.model_validate(await companies.rotate_accesskey(code))

    @routes.put("/companies/{code}/allowed-ips", response_model=CompanyOut)
    async def allow_ips(code: CompanyCode, body: AllowedIps) -> CompanyOut:
        """Addresses allowed to call the API (`ret` 604 otherwise); empty allows all."""
        view = await companies.allow_ips(code, body.cidrs, replace=body.replace)
        return CompanyOut.model_validate(view)

    @routes.put("/companies/{code}/timezone", response_model=CompanyOut)
    async def set_timezone(code: CompanyCode, body: TimeZone) -> CompanyOut:
        """The IANA zone of the company's wall-clock times (API answers, callbacks, task
        windows and dates); null: the server's."""
        return CompanyOut.model_validate(await companies.set_timezone(code, body.timezone))

    @routes.put("/companies/{code}/expiry", response_model=CompanyOut)
    async def expire(code: CompanyCode, body: Expiry) -> CompanyOut:
        """When the company's authorization ends (`ret` 602 after); null for never."""
        return CompanyOut.model_validate(await companies.set_expiry(code, body.at))

    @routes.patch("/companies/{code}/capabilities", response_model=CompanyOut)
    async def capabilities(code: CompanyCode, body: Capabilities) -> CompanyOut:
        """License or unlicense capabilities (App.Sip_*: `ret` 603 when unlicensed)."""
        view = await companies.set_capabilities(code, enable=body.enable, disable=body.disable)
        return CompanyOut.model_validate(view)

    @routes.post("/companies/{code}/extensions", status_code=201, response_model=list[ExtensionOut])
    async def create_extensions(code: CompanyCode, body: ExtensionCreate) -> list[ExtensionOut]:
        """Create extensions, all or none."""
        numbers = extension_numbers(body.numbers, body.range)
        created = await extensions.create(
            code, numbers, body.password, allow_weak_password=body.allow_weak_password
        )
        return [ExtensionOut.model_validate(e) for e in created]

    @routes.get("/companies/{code}/extensions", response_model=list[ExtensionOut])
    async def list_extensions(code: CompanyCode) -> list[ExtensionOut]:
        return [ExtensionOut.model_validate(e) for e in await extensions.list_all(code)]

    @routes.post("/companies/{code}/extensions/enable", response_model=list[ExtensionOut])
    async def enable_extensions(code: CompanyCode, body: ExtensionNumbers) -> list[ExtensionOut]:
        views = await extensions.set_enabled(code, body.numbers, enabled=True)
        return [ExtensionOut.model_validate(e) for e in views]

    @routes.post("/companies/{code}/extensions/disable", response_model=list[ExtensionOut])
    async def disable_extensions(code: CompanyCode, body: ExtensionNumbers) -> list[ExtensionOut]:
        views = await extensions.set_enabled(code, body.numbers, enabled=False)
        return [ExtensionOut.model_validate(e) for e in views]

    @routes.post("/companies/{code}/trunks", status_code=201, response_model=TrunkOut)
    async def add_trunk(code: CompanyCode, body: TrunkCreate) -> TrunkOut:
        """Add a SIP trunk; the company's first trunk carries its outbound calls."""
        view = await trunks.add(code, body.name, body.host, body.port, body.username, body.password)
        return TrunkOut.model_validate(view)

    @routes.get("/companies/{code}/trunks", response_model=list[TrunkOut])
    async def list_trunks(code: CompanyCode) -> list[TrunkOut]:
        return [TrunkOut.model_validate(t) for t in await trunks.list_all(code)]

    @routes.delete("/companies/{code}/trunks/{name}", status_code=204)
    async def remove_trunk(code: CompanyCode, name: str) -> None:
        await trunks.remove(code, name)

    @routes.post("/companies/{code}/pbx-trunks", status_code=201, response_model=PbxTrunkOut)
    async def add_pbx_trunk(code: CompanyCode, body: PbxTrunkCreate) -> PbxTrunkOut:
        """Add a company's own PBX, known by the address it sends from and/or digest
        credentials: its calls go out through the company's trunk."""
        view = await pbx_trunks.add(code, body.name, body.host, body.username, body.password)
        return PbxTrunkOut.model_validate(view)

    @routes.get("/companies/{code}/pbx-trunks", response_model=list[PbxTrunkOut])
    async def list_pbx_trunks(code: CompanyCode) -> list[PbxTrunkOut]:
        return [PbxTrunkOut.model_validate(t) for t in await pbx_trunks.list_all(code)]

    @routes.delete("/companies/{code}/pbx-trunks/{name}", status_code=204)
    async def remove_pbx_trunk(code: CompanyCode, name: str) -> None:
        await pbx_trunks.remove(code, name)

    @routes.post("/companies/{code}/numbers", status_code=201, response_model=NumberOut)
    async def add_number(code: CompanyCode, body: NumberCreate) -> NumberOut:
        """Add a caller-ID number to the company's pool (unique across companies)."""
        return NumberOut.model_validate(await numbers.add(code, body.number, body.enabled))

    @routes.get("/companies/{code}/numbers", response_model=list[NumberOut])
    async def list_numbers(code: CompanyCode) -> list[NumberOut]:
        return [NumberOut.model_validate(n) for n in await numbers.list_all(code)]

    @routes.post("/companies/{code}/numbers/enable", response_model=list[NumberOut])
    async def enable_numbers(code: CompanyCode, body: NumberList) -> list[NumberOut]:
        views = await numbers.set_enabled(code, body.numbers, enabled=True)
        return [NumberOut.model_validate(n) for n in views]

    @routes.post("/companies/{code}/numbers/disable", response_model=list[NumberOut])
    async def disable_numbers(code: CompanyCode, body: NumberList) -> list[NumberOut]:
        """Disabled numbers are not picked at random; naming one in a call is 1019."""
        views = await numbers.set_enabled(code, body.numbers, enabled=False)
        return [NumberOut.model_validate(n) for n in views]

    @routes.post(
        "/companies/{code}/credentials", status_code=201, response_model=IssuedCredentialOut
    )
    async def issue_credential(code: CompanyCode, body: CredentialCreate) -> IssuedCredentialOut:
        """A new API credential for a dialect (`vcall`, `robot`); its secret is shown only
        in this answer."""
        issued = await credentials.issue(code, parse_kind(body.kind))
        return IssuedCredentialOut.model_validate(issued)

    @routes.get("/companies/{code}/credentials", response_model=list[CredentialOut])
    async def list_credentials(code: CompanyCode) -> list[CredentialOut]:
        return [CredentialOut.model_validate(c) for c in await credentials.list(code)]

    @routes.delete("/companies/{code}/credentials/{key_id}", status_code=204)
    async def revoke_credential(code: CompanyCode, key_id: str) -> None:
        await credentials.revoke(code, key_id)

    @routes.put("/companies/{code}/numbers/{number}/route", response_model=NumberOut)
    async def route_number(code: CompanyCode, number: str, body: NumberRoute) -> NumberOut:
        """Where carriers' calls to the number go (an extension, or a group in turn)."""
        view = await numbers.set_route(code, number, extension=body.extension, group=body.group)
        return NumberOut.model_validate(view)

    @routes.put("/companies/{code}/groups/{group}/queue", response_model=GroupQueueBody)
    async def set_queue(code: CompanyCode, group: str, body: GroupQueueBody) -> GroupQueueBody:
        """Give a group a queue (or change it): its numbers' callers wait there."""
        stored = await queues.set(code, group, QueueSettings(**body.model_dump()))
        return GroupQueueBody.model_validate(stored)

    @routes.get("/companies/{code}/groups/{group}/queue", response_model=GroupQueueBody)
    async def get_queue(code: CompanyCode, group: str) -> GroupQueueBody:
        found = await queues.get(code, group)
        if found is None:
            raise NotFound(f"group {group} has no queue")
        return GroupQueueBody.model_validate(found)

    @routes.delete("/companies/{code}/groups/{group}/queue", status_code=204)
    async def remove_queue(code: CompanyCode, group: str) -> None:
        """The group's numbers' callers are rung through its members in turn again."""
        await queues.remove(code, group)

    @routes.post("/companies/{code}/agents/{number}/monitor", status_code=204)
    async def monitor(code: CompanyCode, number: str, body: MonitorBody) -> None:
        """A signed-in supervisor listens to agent `number`'s call, whispers to the agent,
        barges in, takes the call over or ends it. The supervisor's phone is called into
        the call (or, in it already, changes part); the outcome reaches the supervisor's
        desktop as the CTI's events. 409 when the request does not fit."""
        await companies.get(code)  # 404 for no such company
        if sessions is None or mid_calls is None:
            raise Conflict("calls need the SIP switch: this server runs without one")
        supervisor = sessions.by_code(code, body.supervisor)
        if supervisor is None:
            raise Conflict(f"supervisor {body.supervisor} is not signed in")
        try:
            if body.mode == "release":
                await mid_calls.force_release(supervisor, number, 0)
            else:
                await mid_calls.monitor(supervisor, number, MONITOR_MODES[body.mode], 0)
        except BusinessError as exc:
            raise Conflict(exc.desc) from exc

    @routes.get("/companies/{code}/cdrs", response_model=list[CdrOut])
    async def list_cdrs(
        code: CompanyCode,
        limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_INTEGER)] = 0,
    ) -> list[CdrOut]:
        """Call records, most recently recorded first, as the call-record callback has them."""
        rows = await cdrs.list_for_company(code, limit, offset)
        zone = (await companies.get(code)).timezone
        return [CdrOut.model_validate(record_body(row, times, zone)) for row in rows]

    @routes.get("/companies/{code}/webhook", response_model=WebhookOut)
    async def get_webhook(code: CompanyCode) -> WebhookOut:
        """Where the company's call-state, call-record and push callbacks go (never the
        secret)."""
        return WebhookOut.model_validate(await webhooks.get(code))

    @routes.put("/companies/{code}/webhook", response_model=WebhookSecretOut)
    async def set_webhook(code: CompanyCode, body: WebhookUpdate) -> WebhookSecretOut:
        """Change the given fields; the first change creates the settings (enabled) and
        answers the signing secret, shown this once."""
        view = await webhooks.update(
            code,
            call_state_url=body.call_state_url,
            cdr_url=body.cdr_url,
            enabled=body.enabled,
            pushes=body.pushes,
        )
        return WebhookSecretOut.model_validate(view)

    @routes.post("/companies/{code}/webhook/rotate-secret", response_model=WebhookSecretOut)
    async def rotate_webhook_secret(code: CompanyCode) -> WebhookSecretOut:
        """A new signing secret, shown this once; attempts from now on are signed with it."""
        return WebhookSecretOut.model_validate(await webhooks.rotate_secret(code))

    @routes.get("/companies/{code}/webhook/deliveries", response_model=list[WebhookDeliveryOut])
    async def list_deliveries(
        code: CompanyCode,
        status: DeliveryStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_DELIVERIES)] = 100,
    ) -> list[WebhookDeliveryOut]:
        """The company's webhook events, newest first, with every attempt."""
        views = await outbox.deliveries(code, status.value if status else None, limit)
        return [WebhookDeliveryOut.model_validate(v) for v in views]

    @routes.post("/companies/{code}/webhook/redeliver-dead", response_model=Redelivered)
    async def redeliver_dead(code: CompanyCode) -> Redelivered:
        """Send every dead event of the company again, each with a fresh retry schedule."""
        return Redelivered(redelivered=await outbox.redeliver_dead(code))

    @routes.post("/webhook/deliveries/{event_id}/redeliver", response_model=WebhookDeliveryOut)
    async def redeliver(event_id: str) -> WebhookDeliveryOut:
        """Send an event again (by its event id), whatever its status, with a fresh
        retry schedule."""
        return WebhookDeliveryOut.model_validate(await outbox.redeliver(event_id))

    return routes
