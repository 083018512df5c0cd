"""The browser SDKs callyard serves: built from `web/` (`scripts/install`) into `static/`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).with_name("static")


@dataclass(frozen=True)
class Sdk:
    """One browser SDK: the vendor's name and version (its URL) and the built file."""

    name: str
    version: str

    @property
    def built(self) -> Path:
        return STATIC / f"{self.name}.js"

    @property
    def paths(self) -> tuple[str, str]:
        """Its URL paths: the vendor's versioned one and an unversioned alias."""
        return (
            f"/{self.name}/{self.name}_{self.version}.js",
            f"/{self.name}/{self.name}.js",
        )


AGENT_SDK = Sdk("agent-sdk", "1.1.64")
SOFT_PHONE_SDK = Sdk("soft-phone-sdk", "1.0.19")
SDKS = (AGENT_SDK, SOFT_PHONE_SDK)
