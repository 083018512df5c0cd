"""Voice code calls: dial a phone, speak a short message the moment it answers, hang up.

The message is rendered before the call is placed (cached by text and language), so
that on the answer the switch is told to play it at once, in the event handler itself:
nothing is awaited between the customer's 200 OK and the prompt starting. The switch
hangs up shortly after the prompt ends (SERVER_HANGUP). The call is followed by the
CallService like every other call (a voice message): its call-state webhooks, its
record.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from callyard.domain.calls import CallKind
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, InvalidInput
from callyard.services.auth import Caller
from callyard.services.calls import (
    CallService,
    CustomFields,
    check_phone_number,
    running_switch,
)
from callyard.services.numbers import NumberService
from callyard.services.outbound import OutboundLines
from callyard.services.trunks import TrunkService
from callyard.switch.commands import CallStateError, Dial
from callyard.switch.events import CUSTOMER_LEG, CallEnded, LegAnswered, SwitchEvent
from callyard.switch.port import SwitchPort
from callyard.tts import SynthesisError, Synthesizer, render_prompt

log = logging.getLogger("callyard.voice_calls")


class VoiceCallService:
    """Places voice code calls and plays their message on the answer."""

    def __init__(
        self,
        switch: SwitchPort | None,
        calls: CallService,
        trunks: TrunkService,
        numbers: NumberService,
        synthesizer: Synthesizer,
        ring_timeout: float = 60.0,
    ) -> None:
        self._switch = switch
        self._calls = calls
        self._lines = OutboundLines(trunks, numbers)
        self._synthesizer = synthesizer
        self._ring_timeout = ring_timeout
        # Calls placed and not yet ended -> the prompt each plays on its answer.
        self.prompts: dict[str, Path] = {}
        if switch is not None:
            switch.subscribe(self._on_event)

    def _running_switch(self) -> SwitchPort:
        return running_switch(self._switch)

    async def place(
        self, caller: Caller, phone: str, language: str, text: str, customuuid: str
    ) -> None:
        """Call `phone` (E.164 digits, no '+') through the company's trunk and speak
        `text` in `language` (an espeak-ng voice) once it answers, then hang up.

        Fails with InvalidInput for a malformed phone, language or text, and with
        BusinessError when the message cannot be rendered (MESSAGE_UNSPEAKABLE), the
        company has no trunk (NO_TRUNK) or no caller ID (NO_NUMBER), or the switch is not
        running (SWITCH_DOWN).
        """
        phone = check_phone_number(phone, "phone").lstrip("+")
        switch = self._running_switch()
        prompt = await self._render(text, language)
        line = await self._lines.line(caller)
        shown = line.caller_id
        call_id = str(uuid.uuid4())
        self._calls.track_outbound(
            call_id,
            caller,
            CallKind.VOICE_MESSAGE,
            phone,
            shown,
            CustomFields(customuuid=customuuid),
        )
        self.prompts[call_id] = prompt
        target = line.to(phone, self._ring_timeout)
        try:
            switch.dial(Dial(call_id, target, record=False))
        except BaseException:
            self.prompts.pop(call_id, None)
            self._calls.live.pop(call_id, None)
            raise

    async def _render(self, text: str, language: str) -> Path:
        try:
            return await render_prompt(self._synthesizer, text, language)
        except ValueError as exc:
            field = "language" if "language" in str(exc) else "text"
            raise InvalidInput(field, str(exc)) from exc
        except SynthesisError as exc:
            raise BusinessError(
                Refusal.MESSAGE_UNSPEAKABLE, f"The message cannot be spoken: {exc}"
            ) from exc

    def _on_event(self, event: SwitchEvent) -> None:
        if isinstance(event, LegAnswered) and event.leg == CUSTOMER_LEG:
            prompt = self.prompts.get(event.call_id)
            if prompt is not None:
                self._play(event.call_id, prompt)
        elif isinstance(event, CallEnded):
            self.prompts.pop(event.call_id, None)

    def _play(self, call_id: str, prompt: Path) -> None:
        """Start the message now; a call whose message cannot play is hung up rather
        than left held in silence."""
        switch = self._running_switch()
        try:
            switch.play(call_id, prompt, hangup_after=True)
        except (CallStateError, OSError, ValueError):
            log.exception("voice code not played", extra={"call_id": call_id})
            switch.hangup(call_id)
