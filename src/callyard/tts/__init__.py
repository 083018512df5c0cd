"""Spoken prompts: text rendered by a speech engine into files the switch's relay plays.

A prompt is named by its base path; its audio is `<base>.0` (raw μ-law) and `<base>.8`
(raw A-law) at 8 kHz, what `Switch.play` takes. Rendering blocks (a process, then the
conversion), so async code renders in a thread: `await render_prompt(synthesizer, ...)`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol


class SynthesisError(RuntimeError):
    """The speech engine failed (an unknown language, the engine missing, ...)."""


class Synthesizer(Protocol):
    """Renders text into a prompt, cached: the same text and language are spoken once."""

    def render(self, text: str, language: str) -> Path:
        """The base path of the prompt saying `text` in `language` (ValueError for blank
        text or a malformed language, SynthesisError when the engine fails)."""
        ...


async def render_prompt(synthesizer: Synthesizer, text: str, language: str) -> Path:
    """`synthesizer.render` in a worker thread, so the event loop goes on meanwhile."""
    return await asyncio.to_thread(synthesizer.render, text, language)


__all__ = ["SynthesisError", "Synthesizer", "render_prompt"]
