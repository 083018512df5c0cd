"""POST /api/voiceCode through the HTTP app: encodings, validation, phone numbers,
authentication, abuse limits and templates, with the call itself recorded."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from callyard.api.app import create_app
from callyard.config import Settings
from callyard.container import Container
from callyard.domain.languages import Language
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError
from callyard.services.companies import CompanyCredentials
from callyard.services.otp import VoiceCodeLimits, VoiceCodeService
from callyard.store.models import VoiceCodeRequest
from callyard.testing.clock import ManualClock
from callyard.testing.forms import php_multipart
from tests.conftest import ADMIN_KEY
from tests.factories import FakeVoiceCalls

PATH = "/api/voiceCode"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")


class VoiceCodeClient:
    """Posts to /api/voiceCode in each encoding clients use."""

    def __init__(self, http: httpx.AsyncClient, company: CompanyCredentials) -> None:
        self.http = http
        self.company = company

    def fields(self, **changes: Any) -> dict[str, Any]:
        """A valid request for an Indonesian number, with `changes` (None removes a field)."""
        fields: dict[str, Any] = {
            "appid": self.company.appid,
            "accesskey": self.company.accesskey,
            "code": "4821",
            "phone": "8123456789",
            "nationCode": "id",
        }
        fields.update(changes)
        return {k: v for k, v in fields.items() if v is not None}

    async def multipart(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        body, content_type = php_multipart(fields)
        return await self._post(content=body, headers={"Content-Type": content_type})

    async def urlencoded(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return await self._post(data={k: str(v) for k, v in fields.items()})

    async def json(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return await self._post(
            content=json.dumps(fields).encode(), headers={"Content-Type": "application/json"}
        )

    async def send(self, **changes: Any) -> dict[str, Any]:
        return await self.multipart(self.fields(**changes))

    async def _post(self, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.post(PATH, **kwargs)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        reply: dict[str, Any] = response.json()
        return reply


@dataclass
class Server:
    container: Container
    client: VoiceCodeClient
    calls: FakeVoiceCalls


@asynccontextmanager
async def serving(
    settings: Settings, clock: ManualClock, company: CompanyCredentials | None = None
) -> AsyncIterator[Server]:
    """A container on `settings` whose voice codes place calls on a fake, and its app."""
    container = await Container.open(settings, clock=clock, upgrade_schema=False)
    try:
        calls = FakeVoiceCalls()
        container.voice_codes = VoiceCodeService(
            container.db, clock, calls, VoiceCodeLimits.from_settings(settings)
        )
        company = company or await container.companies.create("acme")
        transport = httpx.ASGITransport(
            app=create_app(container, ADMIN_KEY), client=("203.0.113.7", 50000)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
            yield Server(container, VoiceCodeClient(http, company), calls)
    finally:
        await container.close()


@pytest.fixture
async def server(settings: Settings, clock: ManualClock) -> AsyncIterator[Server]:
    async with serving(settings, clock) as opened:
        yield opened


async def stored_requests(container: Container) -> int:
    async with container.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(VoiceCodeRequest)) or 0)


def assert_success(reply: dict[str, Any]) -> str:
    assert reply["code"] == 1, reply
    assert reply["msg"] == "successful request"
    assert set(reply["data"]) == {"customuuid"}
    customuuid: str = reply["data"]["customuuid"]
    assert UUID.fullmatch(customuuid)
    return customuuid


def assert_error(reply: dict[str, Any], code: int, msg: str) -> None:
    assert reply == {"code": code, "msg": msg, "data": {}}


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded", "json"])
async def test_each_body_encoding_places_the_call(server: Server, encoding: str) -> None:
    client = server.client
    post = {"multipart": client.multipart, "urlencoded": client.urlencoded, "json": client.json}
    customuuid = assert_success(await post[encoding](client.fields()))
    assert len(server.calls.placed) == 1
    placed = server.calls.placed[0]
    assert placed.phone == "628123456789"
    assert placed.language == "id"
    assert placed.text == "Kode verifikasi Anda adalah 4, 8, 2, 1. Sekali lagi: 4, 8, 2, 1."
    assert placed.customuuid == customuuid
    assert placed.caller.company_code == client.company.companycode


async def test_json_numbers_are_read_as_text(server: Server) -> None:
    client = server.client
    reply = await client.json(client.fields(code=4821, phone=8123456789))
    assert_success(reply)
    assert server.calls.placed[0].phone == "628123456789"


async def test_a_request_is_stored_without_its_code(server: Server) -> None:
    customuuid = assert_success(await server.client.send(code="7351"))
    async with server.container.db.transaction() as session:
        row = await session.scalar(select(VoiceCodeRequest))
    assert row is not None
    assert (row.customuuid, row.phone, row.language) == (customuuid, "628123456789", "id")
    columns = {column.name for column in VoiceCodeRequest.__table__.columns}
    assert columns == {"id", "customuuid", "company_id", "phone", "language", "created_at"}


@pytest.mark.parametrize(
    ("changes", "msg"),
    [
        ({"appid": None}, "Parameter error: missing parameter appid"),
        ({"accesskey": None}, "Parameter error: missing parameter accesskey"),
        ({"code": None}, "Parameter error: missing parameter code"),
        ({"phone": None}, "Parameter error: missing parameter phone"),
        ({"nationCode": None}, "Parameter error: missing parameter nationCode"),
        ({"phone": "  "}, "Parameter error: missing parameter phone"),
        ({"code": "482"}, "Parameter error: invalid parameter code: must be exactly 4 digits"),
        ({"code": "48213"}, "Parameter error: invalid parameter code: must be exactly 4 digits"),
        ({"code": "48a1"}, "Parameter error: invalid parameter code: must be exactly 4 digits"),
        (
            {"code": "\uff14\uff18\uff12\uff11"},
            "Parameter error: invalid parameter code: must be exactly 4 digits",
        ),
        (
            {"nationCode": "fr"},
            "Parameter error: invalid parameter nationCode: Input should be 'en', 'id' or 'sp'",
        ),
        (
            {"nationCode": "EN"},
            "Parameter error: invalid parameter nationCode: Input should be 'en', 'id' or 'sp'",
        ),
        ({"phone": "12345"}, "Parameter error: invalid phone number"),
        ({"phone": "81234abc89"}, "Parameter error: invalid phone number"),
        ({"phone": "8123456789", "nationCode": "en"}, "Parameter error: invalid phone number"),
        ({"phone": "9" * 40}, "Parameter error: invalid phone number"),
        ({"accesskey": "wrong-key"}, "Parameter error: authentication failed"),
        ({"appid": "nobody"}, "Parameter error: authentication failed"),
    ],
)
async def test_bad_input_gets_its_error_and_places_no_call(
    server: Server, changes: dict[str, Any], msg: str
) -> None:
    fields = server.client.fields(**changes)
    for reply in (
        await server.client.multipart(fields),
        await server.client.json(fields),
    ):
        assert_error(reply, 1001, msg)
    assert server.calls.placed == []
    assert await stored_requests(server.container) == 0


@pytest.mark.parametrize(
    ("content", "content_type", "msg"),
    [
        (
            b"appid=x",
            "text/plain",
            "Parameter error: invalid parameter Content-Type: text/plain "
            "is not supported; send application/x-www-form-urlencoded, multipart/form-data or "
            "application/json",
        ),
        (
            b"",
            None,
            "Parameter error: invalid parameter Content-Type: none is not supported; "
            "send application/x-www-form-urlencoded, multipart/form-data or application/json",
        ),
        (
            b"{not json",
            "application/json",
            "Parameter error: invalid parameter body: malformed JSON",
        ),
        (
            b"[1, 2]",
            "application/json",
            "Parameter error: invalid parameter body: expected a JSON object",
        ),
    ],
)
async def test_unreadable_bodies_are_1001(
    server: Server, content: bytes, content_type: str | None, msg: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await server.client.http.post(PATH, content=content, headers=headers)
    assert response.status_code == 200
    assert_error(response.json(), 1001, msg)
    assert server.calls.placed == []


async def test_a_json_field_of_the_wrong_type_is_1001(server: Server) -> None:
    reply = await server.client.json(server.client.fields(code=["4821"]))
    assert reply["code"] == 1001
    assert reply["msg"].startswith("Parameter error: invalid parameter code")
    assert server.calls.placed == []


async def test_get_is_told_to_post(server: Server) -> None:
    response = await server.client.http.get(PATH)
    assert response.status_code == 200
    assert_error(response.json(), 1001, "Parameter error: use POST with form-data or a JSON object")


@pytest.mark.parametrize(
    ("phone", "language", "e164", "voice"),
    [
        ("8123456789", "id", "628123456789", "id"),
        ("08123456789", "id", "628123456789", "id"),
        ("0062 8123456789", "id", "628123456789", "id"),
        ("628123456789", "id", "628123456789", "id"),
        ("+62 812-3456-789", "en", "628123456789", "en"),
        ("5512345678", "sp", "525512345678", "es"),
        ("+52 55 1234 5678", "sp", "525512345678", "es"),
        ("14155552671", "en", "14155552671", "en"),
        ("+14155552671", "id", "14155552671", "id"),
    ],
)
async def test_phone_numbers_are_normalised_to_e164(
    server: Server, phone: str, language: str, e164: str, voice: str
) -> None:
    assert_success(await server.client.send(phone=phone, nationCode=language))
    assert [(c.phone, c.language) for c in server.calls.placed] == [(e164, voice)]


async def test_default_wording_of_each_language(server: Server) -> None:
    for language in ("en", "id", "sp"):
        assert_success(
            await server.client.send(code="0907", phone="+14155552671", nationCode=language)
        )
    assert [c.text for c in server.calls.placed] == [
        "Your verification code is 0, 9, 0, 7. Again: 0, 9, 0, 7.",
        "Kode verifikasi Anda adalah 0, 9, 0, 7. Sekali lagi: 0, 9, 0, 7.",
        "Su código de verificación es 0, 9, 0, 7. Repito: 0, 9, 0, 7.",
    ]
    assert [c.language for c in server.calls.placed] == ["en", "id", "es"]


async def test_templates_are_per_company_and_language(server: Server) -> None:
    container, client = server.container, server.client
    other = await container.companies.create("globex")
    await container.voice_codes.set_template(
        client.company.companycode, Language.ID, "Kode {digits} dari Acme."
    )
    assert_success(await client.send(code="1234"))
    assert_success(await client.send(code="1234", phone="+14155552671", nationCode="en"))
    other_client = VoiceCodeClient(client.http, other)
    assert_success(await other_client.send(code="1234"))
    assert [c.text for c in server.calls.placed] == [
        "Kode 1, 2, 3, 4 dari Acme.",
        "Your verification code is 1, 2, 3, 4. Again: 1, 2, 3, 4.",
        "Kode verifikasi Anda adalah 1, 2, 3, 4. Sekali lagi: 1, 2, 3, 4.",
    ]
    await container.voice_codes.reset_template(client.company.companycode, Language.ID)
    assert_success(await client.send(code="1234", phone="+6281234567890"))
    assert server.calls.placed[-1].text.startswith("Kode verifikasi Anda adalah 1, 2, 3, 4.")


async def test_numbers_limit_holds_across_a_new_container(
    settings: Settings, clock: ManualClock
) -> None:
    async with serving(settings, clock) as first:
        company = first.client.company
        for _ in range(5):
            assert_success(await first.client.send())
        reply = await first.client.send(phone="08123456789")  # the same number, written so
        assert_error(reply, 1002, "too many requests: at most 5 codes to one number in 600 seconds")
        assert len(first.calls.placed) == 5
        assert_success(await first.client.send(phone="81234567890"))  # another number
    async with serving(settings, clock, company) as second:
        assert_error(
            await second.client.send(),
            1002,
            "too many requests: at most 5 codes to one number in 600 seconds",
        )
        assert second.calls.placed == []
        assert await stored_requests(second.container) == 6  # the refusals were not counted
        clock.advance(600)
        assert_success(await second.client.send())
        assert len(second.calls.placed) == 1


async def test_company_rate_limit(settings: Settings, clock: ManualClock) -> None:
    limited = replace(settings, otp_max_per_company_per_minute=3)
    async with serving(limited, clock) as server:
        phones = ["81234567890", "81234567891", "81234567892", "81234567893"]
        for phone in phones[:3]:
            assert_success(await server.client.send(phone=phone))
        assert_error(
            await server.client.send(phone=phones[3]),
            1002,
            "too many requests: at most 3 codes per minute",
        )
        other = VoiceCodeClient(server.client.http, await server.container.companies.create("b"))
        assert_success(await other.send(phone=phones[3]))  # each company has its own rate
        clock.advance(60)
        assert_success(await server.client.send(phone=phones[3]))
        assert len(server.calls.placed) == 5


async def test_disabled_module_is_1003(server: Server) -> None:
    code = server.client.company.companycode
    await server.container.companies.set_capabilities(code, enable=[], disable=["voice_codes"])
    assert_error(
        await server.client.send(),
        1003,
        "not authorized: voice_codes is not licensed for the company",
    )
    assert server.calls.placed == []


async def test_disallowed_address_is_1003(server: Server) -> None:
    code = server.client.company.companycode
    await server.container.companies.allow_ips(code, ["198.51.100.0/24"], replace=True)
    assert_error(
        await server.client.send(), 1003, "not authorized: IP 203.0.113.7 is not authorized"
    )
    assert server.calls.placed == []


async def test_a_call_that_cannot_be_placed_is_1000_and_not_counted(server: Server) -> None:
    server.calls.failure = BusinessError(Refusal.NO_TRUNK, "The company has no trunk")
    assert_error(await server.client.send(), 1000, "system error: The company has no trunk")
    assert await stored_requests(server.container) == 0


async def test_an_unexpected_failure_is_1000_system_error(server: Server) -> None:
    server.calls.failure = RuntimeError("boom")
    assert_error(await server.client.send(), 1000, "system error")
    assert await stored_requests(server.container) == 0


async def test_the_app_places_calls_through_the_voice_call_service(
    container: Container, http: httpx.AsyncClient
) -> None:
    # The app as served, with its own VoiceCallService: without a running switch the
    # call cannot be placed, which is a system error, and the request is not counted.
    company = await container.companies.create("acme")
    reply = await VoiceCodeClient(http, company).send()
    assert reply["code"] == 1000
    assert reply["msg"].startswith("system error: ")
    assert reply["data"] == {}
    assert await stored_requests(container) == 0
