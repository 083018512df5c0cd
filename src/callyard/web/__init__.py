"""What callyard serves to browsers, built from `web/` (`scripts/install`) into
`static/`: the vendor's SDKs, and callyard's own pages (each a folder of `static/pages/`)."""

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


@dataclass(frozen=True)
class WebPage:
    """One of callyard's own pages: served at `/<path>/`, its files (`index.html` and
    what it loads) built into `static/pages/<folder>/`."""

    path: str
    folder: str
    title: str

    @property
    def built(self) -> Path:
        return STATIC / "pages" / self.folder


DESKTOP = WebPage("agent", "desktop", "the agent desktop")
WALLBOARD = WebPage("wallboard", "wallboard", "the supervisor wallboard")
PAGES = (DESKTOP, WALLBOARD)
