"""Voice verification codes: validation, phone normalisation, abuse limits, the spoken
message's templates, and handing the call to the voice-call service."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import phonenumbers
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.config import Settings
from callyard.domain.languages import Language
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, CallyardError, InvalidInput
from callyard.phone_numbers import WRITTEN, without_separators
from callyard.services.auth import Caller
from callyard.store.database import Database
from callyard.store.lookups import company_by_code
from callyard.store.models import Company, VoiceCodeRequest, VoiceCodeTemplate

DIGITS = "{digits}"
CODE_LENGTH = 4
MAX_TEMPLATE_CHARS = 500
MAX_PHONE_CHARS = 32
# Accepted requests are kept this long at least (longer if the number window is longer).
REQUEST_RETENTION = timedelta(days=1)
COMPANY_WINDOW = timedelta(minutes=1)

# The espeak-ng voice that speaks each `nationCode`.
VOICES: dict[Language, str] = {
    Language.EN: "en",
    Language.ID: "id",
    Language.SP: "es",
}
# Where a number without country code is read: the seed names Indonesian and Mexican
# numbers; English has no home country, so its numbers must carry their country code.
HOME_REGIONS: dict[Language, str] = {
    Language.ID: "ID",
    Language.SP: "MX",
}
DEFAULT_TEMPLATES: dict[Language, str] = {
    Language.EN: "Your verification code is {digits}. Again: {digits}.",
    Language.ID: "Kode verifikasi Anda adalah {digits}. Sekali lagi: {digits}.",
    Language.SP: "Su código de verificación es {digits}. Repito: {digits}.",
}

_CODE = re.compile(r"[0-9]{4}")


class VoiceCalls(Protocol):
    """What places the call: dials the number and speaks the text when answered."""

    async def place(
        self, caller: Caller, phone: str, language: str, text: str, customuuid: str
    ) -> None: ...


class VoiceCodeRefused(CallyardError):
    """A valid request that is not carried out (a limit, or the call cannot be placed)."""

    def __init__(self, refusal: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.refusal = refusal
        self.detail = detail


@dataclass(frozen=True)
class VoiceCodeLimits:
    """At most `per_number` codes to one number of a company within `number_window`,
    and `per_company_per_minute` codes of a company within a minute."""

    per_number: int
    number_window: timedelta
    per_company_per_minute: int

    @classmethod
    def from_settings(cls, settings: Settings) -> VoiceCodeLimits:
        return cls(
            settings.otp_max_per_number,
            timedelta(seconds=settings.otp_number_window_seconds),
            settings.otp_max_per_company_per_minute,
        )


@dataclass(frozen=True)
class TemplateView:
    """The wording of one language for a company; `custom` when it is the company's own."""

    language: Language
    text: str
    custom: bool


def check_code(value: str) -> str:
    """Exactly four ASCII digits."""
    if not _CODE.fullmatch(value):
        raise InvalidInput("code", f"must be exactly {CODE_LENGTH} digits")
    return value


def check_template(text: str) -> str:
    """A non-blank text of at most 500 characters that says {digits}."""
    text = text.strip()
    if DIGITS not in text:
        raise InvalidInput("text", f"must contain {DIGITS}")
    if len(text) > MAX_TEMPLATE_CHARS:
        raise InvalidInput("text", f"at most {MAX_TEMPLATE_CHARS} characters")
    return text


def spoken_digits(code: str) -> str:
    """The code's digits one by one: `1, 2, 3, 4`."""
    return ", ".join(code)


def render(template: str, code: str) -> str:
    """The message spoken: the template with {digits} replaced (other braces kept as typed)."""
    return template.replace(DIGITS, spoken_digits(code))


def normalise_phone(value: str, language: Language) -> str:
    """E.164 digits without '+' of a valid number. `+` or `00` starts an international
    number; otherwise an Indonesian (`id`) or Mexican (`sp`) national number, with or
    without its leading 0 or country code; for `en` the digits must start with the
    country code."""
    text = value.strip()
    if len(text) > MAX_PHONE_CHARS or not WRITTEN.fullmatch(text):
        raise InvalidInput("phone", "invalid phone number")
    text = without_separators(text)
    if text.startswith("00"):
        text = "+" + text[2:]
    region = HOME_REGIONS.get(language)
    if text.startswith("+") or region is None:
        number = _parse(text if text.startswith("+") else "+" + text, None)
    else:
        number = _parse(text, region)
        if number is None:
            # The digits may already carry the country code (`628123456789`).
            number = _parse("+" + text, None)
            expected = phonenumbers.country_code_for_region(region)
            if number is not None and number.country_code != expected:
                number = None
    if number is not None:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    raise InvalidInput("phone", "invalid phone number")


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """The number if `text` parses to a valid one."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


class VoiceCodeService:
    """Sends voice verification codes within the abuse limits, in each company's wording."""

    def __init__(
        self, db: Database, clock: Clock, calls: VoiceCalls, limits: VoiceCodeLimits
    ) -> None:
        self._db = db
        self._clock = clock
        self._calls = calls
        self._limits = limits

    async def send(self, caller: Caller, code: str, phone: str, language: Language) -> str:
        """Call `phone` and speak `code`; the request's customuuid once the call is handed
        to the switch. InvalidInput for a bad code or number, VoiceCodeRefused over a limit
        (TOO_MANY_REQUESTS) and when the call cannot be placed (CALL_NOT_PLACED): then
        nothing is counted."""
        check_code(code)
        e164 = normalise_phone(phone, language)
        customuuid = str(uuid.uuid4())
        now = self._clock.now()
        async with self._db.writing() as session:
            await self._check_limits(session, caller.company_id, e164, now)
            template = await session.scalar(
                select(VoiceCodeTemplate.text).where(
                    VoiceCodeTemplate.company_id == caller.company_id,
                    VoiceCodeTemplate.language == language.value,
                )
            )
            session.add(
                VoiceCodeRequest(
                    customuuid=customuuid,
                    company_id=caller.company_id,
                    phone=e164,
                    language=language.value,
                    created_at=now,
                )
            )
        text = render(template or DEFAULT_TEMPLATES[language], code)
        try:
            await self._calls.place(caller, e164, VOICES[language], text, customuuid)
        except BusinessError as exc:
            await self._forget(customuuid)
            raise VoiceCodeRefused(Refusal.CALL_NOT_PLACED, exc.desc) from exc
        except Exception:
            await self._forget(customuuid)
            raise
        return customuuid

    async def _check_limits(
        self, session: AsyncSession, company_id: int, phone: str, now: datetime
    ) -> None:
        # Writers run side by side on PostgreSQL: locking the company's row keeps two of
        # its requests from both passing the count (SQLite's writers already queue).
        await session.execute(select(Company.id).where(Company.id == company_id).with_for_update())
        limits = self._limits
        to_number = await session.scalar(
            select(func.count())
            .select_from(VoiceCodeRequest)
            .where(
                VoiceCodeRequest.company_id == company_id,
                VoiceCodeRequest.phone == phone,
                VoiceCodeRequest.created_at > now - limits.number_window,
            )
        )
        if (to_number or 0) >= limits.per_number:
            raise VoiceCodeRefused(
                Refusal.TOO_MANY_REQUESTS,
                f"at most {limits.per_number} codes to one number in "
                f"{int(limits.number_window.total_seconds())} seconds",
            )
        of_company = await session.scalar(
            select(func.count())
            .select_from(VoiceCodeRequest)
            .where(
                VoiceCodeRequest.company_id == company_id,
                VoiceCodeRequest.created_at > now - COMPANY_WINDOW,
            )
        )
        if (of_company or 0) >= limits.per_company_per_minute:
            raise VoiceCodeRefused(
                Refusal.TOO_MANY_REQUESTS,
                f"at most {limits.per_company_per_minute} codes per minute",
            )

    async def _forget(self, customuuid: str) -> None:
        """Uncount a request whose call could not be placed."""
        async with self._db.writing() as session:
            await session.execute(
                delete(VoiceCodeRequest).where(VoiceCodeRequest.customuuid == customuuid)
            )

    async def purge(self) -> int:
        """Delete requests older than a day (or the number window, if longer); how many."""
        keep = max(REQUEST_RETENTION, self._limits.number_window, COMPANY_WINDOW)
        async with self._db.writing() as session:
            result = await session.execute(
                delete(VoiceCodeRequest).where(
                    VoiceCodeRequest.created_at < self._clock.now() - keep
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def templates(self, company_code: int) -> list[TemplateView]:
        """The wording of every language for a company: its own, else the default."""
        async with self._db.transaction() as session:
            company = await company_by_code(session, company_code)
            own = await self._own_templates(session, company.id)
        return [
            TemplateView(language, own.get(language, DEFAULT_TEMPLATES[language]), language in own)
            for language in Language
        ]

    async def set_template(self, company_code: int, language: Language, text: str) -> TemplateView:
        """Make `text` (which must contain {digits}) the company's wording of `language`."""
        text = check_template(text)
        now = self._clock.now()
        async with self._db.writing() as session:
            company = await company_by_code(session, company_code)
            row = await session.scalar(
                select(VoiceCodeTemplate).where(
                    VoiceCodeTemplate.company_id == company.id,
                    VoiceCodeTemplate.language == language.value,
                )
            )
            if row is None:
                session.add(
                    VoiceCodeTemplate(
                        company_id=company.id, language=language.value, text=text, updated_at=now
                    )
                )
            else:
                row.text = text
                row.updated_at = now
        return TemplateView(language, text, True)

    async def reset_template(
        self, company_code: int, language: Language | None = None
    ) -> list[TemplateView]:
        """Back to the default wording for `language` (every language when None)."""
        async with self._db.writing() as session:
            company = await company_by_code(session, company_code)
            statement = delete(VoiceCodeTemplate).where(VoiceCodeTemplate.company_id == company.id)
            if language is not None:
                statement = statement.where(VoiceCodeTemplate.language == language.value)
            await session.execute(statement)
        return await self.templates(company_code)

    @staticmethod
    async def _own_templates(session: AsyncSession, company_id: int) -> dict[Language, str]:
        rows = await session.execute(
            select(VoiceCodeTemplate.language, VoiceCodeTemplate.text).where(
                VoiceCodeTemplate.company_id == company_id
            )
        )
        return {Language(language): text for language, text in rows}
