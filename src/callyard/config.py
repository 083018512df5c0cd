"""Server settings: command-line options over environment variables over defaults."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from callyard.errors import InvalidInput

DEFAULT_HTTP = "127.0.0.1:8080"
DEFAULT_SIP = "127.0.0.1:5060"
DEFAULT_DATA_DIR = "./callyard-data"
ADMIN_KEY_FILE = "admin.key"


def parse_hostport(value: str, option: str) -> tuple[str, int]:
    """Split `HOST:PORT` (IPv6 hosts in brackets) and check the port."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise InvalidInput(option, f"expected HOST:PORT, got {value!r}")
    port = int(port_text)
    if not 0 < port < 65536:
        raise InvalidInput(option, f"port {port} out of range")
    return host.strip("[]"), port


@dataclass(frozen=True)
class Settings:
    """Everything the composition root needs to build a callyard server."""

    http: str = DEFAULT_HTTP
    sip: str = DEFAULT_SIP
    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR))
    db_url: str | None = None
    admin_key: str | None = None
    log_level: str = "info"
    timezone: str = "UTC"
    token_ttl_seconds: int = 12 * 3600

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read `CALLYARD_*` variables, then apply the given non-None overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, var in (
            ("http", "CALLYARD_HTTP"),
            ("sip", "CALLYARD_SIP"),
            ("db_url", "CALLYARD_DB_URL"),
            ("admin_key", "CALLYARD_ADMIN_KEY"),
            ("log_level", "CALLYARD_LOG_LEVEL"),
            ("timezone", "CALLYARD_TIMEZONE"),
        ):
            if env.get(var):
                values[name] = env[var]
        if env.get("CALLYARD_DATA_DIR"):
            values["data_dir"] = Path(env["CALLYARD_DATA_DIR"])
        if env.get("CALLYARD_TOKEN_TTL"):
            values["token_ttl_seconds"] = int(env["CALLYARD_TOKEN_TTL"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values.get("data_dir"), str):
            values["data_dir"] = Path(str(values["data_dir"]))
        settings = replace(cls(), **values)  # type: ignore[arg-type]
        parse_hostport(settings.http, "--http")
        parse_hostport(settings.sip, "--sip")
        return settings

    @property
    def http_address(self) -> tuple[str, int]:
        return parse_hostport(self.http, "--http")

    @property
    def database_url(self) -> str:
        """The configured URL, or a SQLite file in the data directory."""
        if self.db_url:
            return self.db_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'callyard.db').resolve()}"

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def resolve_admin_key(self) -> str:
        """The admin API key: from the environment, else from (or created in) the data dir."""
        if self.admin_key:
            return self.admin_key
        self.ensure_data_dir()
        path = self.data_dir / ADMIN_KEY_FILE
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_hex(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key
