"""The browser SDKs' tests: a headless Chromium (`browser`) and, for the end-to-end ones,
a running callyard (`pbx`) with the webhook receiver of the switch's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from callyard.testing.browser import Browser, chromium_unavailable
from callyard.web import SDKS
from tests.switch.pbx import pbx, receiver

__all__ = ["browser", "pbx", "receiver"]


def _unavailable() -> str | None:
    missing = [sdk.name for sdk in SDKS if not sdk.built.is_file()]
    if missing:
        return f"{', '.join(missing)} not built (scripts/install builds web/)"
    return chromium_unavailable()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """A headless Chromium for a module's tests (each opens its own tab); skipped where
    it (or the SDKs' build) is missing, except in CI."""
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    with Browser(tmp_path_factory.mktemp("browser")) as started:
        yield started
