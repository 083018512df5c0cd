"""VoiceCodeService on a real database with a recording stand-in for the call, and the
pure rules: codes, phone numbers, templates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from callyard.container import Container
from callyard.domain.languages import Language
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, InvalidInput, NotFound
from callyard.services.auth import Caller
from callyard.services.otp import (
    DEFAULT_TEMPLATES,
    TemplateView,
    VoiceCodeLimits,
    VoiceCodeRefused,
    VoiceCodeService,
    check_code,
    check_template,
    normalise_phone,
    render,
    spoken_digits,
)
from callyard.store.models import VoiceCodeRequest
from callyard.testing.clock import ManualClock
from tests.factories import FakeVoiceCalls, PlacedCall, caller_of

ID = Language.ID
EN = Language.EN
SP = Language.SP


@pytest.mark.parametrize("code", ["0000", "4821", " 1234"[1:]])
def test_four_ascii_digits_are_a_code(code: str) -> None:
    assert check_code(code) == code


@pytest.mark.parametrize("code", ["", "123", "12345", "12a4", "１２３４", "12 4", "-123"])
def test_anything_else_is_not_a_code(code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_code(code)
    assert raised.value.field == "code"


@pytest.mark.parametrize(
    ("phone", "language", "e164"),
    [
        ("8123456789", ID, "628123456789"),
        ("08123456789", ID, "628123456789"),
        ("0062 8123456789", ID, "628123456789"),
        ("00628123456789", EN, "628123456789"),
        ("628123456789", ID, "628123456789"),
        ("+62 (812) 3456-789", SP, "628123456789"),
        ("5512345678", SP, "525512345678"),
        ("525512345678", SP, "525512345678"),
        ("0052 55 1234 5678", SP, "525512345678"),
        ("14155552671", EN, "14155552671"),
        ("+1 415 555 2671", EN, "14155552671"),
    ],
)
def test_phone_numbers_normalise_to_e164_digits(phone: str, language: Language, e164: str) -> None:
    assert normalise_phone(phone, language) == e164


@pytest.mark.parametrize(
    ("phone", "language"),
    [
        ("8123456789", EN),  # English numbers need their country code
        ("4155552671", EN),
        ("12345", ID),
        ("8123", SP),
        ("+62", ID),
        ("81234x6789", ID),
        ("+62 8123456789 ext 1", ID),
        ("++628123456789", ID),
        ("1" * 33, ID),
    ],
)
def test_invalid_numbers_are_refused(phone: str, language: Language) -> None:
    with pytest.raises(InvalidInput) as raised:
        normalise_phone(phone, language)
    assert (raised.value.field, raised.value.reason) == ("phone", "invalid phone number")


def test_a_national_number_is_never_read_as_another_country_s() -> None:
    # Not an Indonesian or Mexican number; with a '+' it would be a US one.
    for language in (ID, SP):
        with pytest.raises(InvalidInput):
            normalise_phone("14155552671", language)
    assert normalise_phone("+14155552671", ID) == "14155552671"


def test_digits_are_spoken_one_by_one() -> None:
    assert spoken_digits("0907") == "0, 9, 0, 7"
    assert render("Code {digits}; again {digits} {other}", "1234") == (
        "Code 1, 2, 3, 4; again 1, 2, 3, 4 {other}"
    )
    assert render(DEFAULT_TEMPLATES[SP], "1234") == (
        "Su código de verificación es 1, 2, 3, 4. Repito: 1, 2, 3, 4."
    )


def test_a_template_must_say_the_digits() -> None:
    assert check_template("  Code {digits}.  ") == "Code {digits}."
    for text in ("Code", "Code {digit}", "", "{digits}" + "x" * 500):
        with pytest.raises(InvalidInput):
            check_template(text)


LIMITS = VoiceCodeLimits(
    per_number=2, number_window=timedelta(seconds=600), per_company_per_minute=4
)


@pytest.fixture
async def caller(container: Container) -> Caller:
    created = await container.companies.create("acme")
    return await caller_of(container, created.companycode)


@pytest.fixture
def calls() -> FakeVoiceCalls:
    return FakeVoiceCalls()


@pytest.fixture
def service(container: Container, clock: ManualClock, calls: FakeVoiceCalls) -> VoiceCodeService:
    return VoiceCodeService(container.db, clock, calls, LIMITS)


async def rows(container: Container) -> int:
    async with container.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(VoiceCodeRequest)) or 0)


async def test_send_places_the_call_and_returns_its_customuuid(
    service: VoiceCodeService, calls: FakeVoiceCalls, caller: Caller
) -> None:
    customuuid = await service.send(caller, "4821", "08123456789", ID)
    assert calls.placed == [
        PlacedCall(
            caller,
            "628123456789",
            "id",
            "Kode verifikasi Anda adalah 4, 8, 2, 1. Sekali lagi: 4, 8, 2, 1.",
            customuuid,
        )
    ]


async def test_limit_per_number_within_the_window(
    service: VoiceCodeService, calls: FakeVoiceCalls, caller: Caller, clock: ManualClock
) -> None:
    await service.send(caller, "1111", "8123456789", ID)
    clock.advance(300)
    await service.send(caller, "2222", "+628123456789", EN)  # the same number
    with pytest.raises(VoiceCodeRefused) as refused:
        await service.send(caller, "3333", "8123456789", ID)
    assert refused.value.refusal is Refusal.TOO_MANY_REQUESTS
    assert len(calls.placed) == 2
    clock.advance(300)  # the first left the window
    await service.send(caller, "4444", "8123456789", ID)
    assert len(calls.placed) == 3


async def test_limit_per_company_per_minute(
    service: VoiceCodeService,
    calls: FakeVoiceCalls,
    caller: Caller,
    clock: ManualClock,
    container: Container,
) -> None:
    for n in range(4):
        await service.send(caller, "1234", f"812345678{n}", ID)
    with pytest.raises(VoiceCodeRefused) as refused:
        await service.send(caller, "1234", "8123456785", ID)
    assert refused.value.refusal is Refusal.TOO_MANY_REQUESTS
    other = await caller_of(container, (await container.companies.create("b")).companycode)
    await service.send(other, "1234", "8123456785", ID)
    clock.advance(60)
    await service.send(caller, "1234", "8123456785", ID)
    assert len(calls.placed) == 6


async def test_a_call_that_fails_is_not_counted(
    service: VoiceCodeService, calls: FakeVoiceCalls, caller: Caller, container: Container
) -> None:
    calls.failure = BusinessError(Refusal.NO_TRUNK, "no trunk")
    for _ in range(3):
        with pytest.raises(VoiceCodeRefused) as refused:
            await service.send(caller, "1234", "8123456789", ID)
        assert refused.value.refusal is Refusal.CALL_NOT_PLACED
        assert refused.value.detail == "no trunk"
    calls.failure = RuntimeError("switch gone")
    with pytest.raises(RuntimeError):
        await service.send(caller, "1234", "8123456789", ID)
    assert await rows(container) == 0
    calls.failure = None
    await service.send(caller, "1234", "8123456789", ID)
    assert await rows(container) == 1


async def test_bad_input_is_refused_before_anything_is_stored(
    service: VoiceCodeService, calls: FakeVoiceCalls, caller: Caller, container: Container
) -> None:
    with pytest.raises(InvalidInput):
        await service.send(caller, "123", "8123456789", ID)
    with pytest.raises(InvalidInput):
        await service.send(caller, "1234", "8123456789", EN)
    assert calls.placed == []
    assert await rows(container) == 0


async def test_purge_deletes_requests_older_than_a_day(
    service: VoiceCodeService, caller: Caller, clock: ManualClock, container: Container
) -> None:
    await service.send(caller, "1234", "8123456789", ID)
    clock.advance(23 * 3600)
    await service.send(caller, "1234", "8123456780", ID)
    assert await service.purge() == 0
    clock.advance(3600 + 1)
    assert await service.purge() == 1
    assert await rows(container) == 1


async def test_templates_set_show_reset(
    service: VoiceCodeService, calls: FakeVoiceCalls, caller: Caller
) -> None:
    code = caller.company_code
    assert await service.templates(code) == [
        TemplateView(language, DEFAULT_TEMPLATES[language], False) for language in (EN, ID, SP)
    ]
    assert await service.set_template(code, SP, "Código {digits}") == TemplateView(
        SP, "Código {digits}", True
    )
    await service.set_template(code, SP, "Su código: {digits}")  # replaces
    await service.set_template(code, EN, "Code {digits}")
    shown = {view.language: view for view in await service.templates(code)}
    assert shown[SP] == TemplateView(SP, "Su código: {digits}", True)
    assert shown[ID].custom is False
    await service.send(caller, "1234", "5512345678", SP)
    last = calls.placed[-1]
    assert (last.language, last.text) == ("es", "Su código: 1, 2, 3, 4")
    after = await service.reset_template(code, SP)
    assert [view.custom for view in after] == [True, False, False]
    after = await service.reset_template(code)
    assert [view.custom for view in after] == [False, False, False]
    with pytest.raises(InvalidInput):
        await service.set_template(code, EN, "no digits")
    with pytest.raises(NotFound):
        await service.templates(9999)
