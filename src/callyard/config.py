"""Server settings: command-line options over environment variables over defaults."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from callyard.errors import InvalidInput
from callyard.switch.websocket import WebSocketSettings

DEFAULT_HTTP = "127.0.0.1:8080"
DEFAULT_SIP = "127.0.0.1:5060"
DEFAULT_DATA_DIR = "./callyard-data"
ADMIN_KEY_FILE = "admin.key"
RECORDING_KEY_FILE = "recording.key"
CREDENTIALS_KEY_FILE = "credentials.key"
DEFAULT_RETENTION_DAYS = 90


def parse_hostport(value: str, option: str) -> tuple[str, int]:
    """Split `HOST:PORT` (IPv6 hosts in brackets) and check the port."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise InvalidInput(option, f"expected HOST:PORT, got {value!r}")
    port = int(port_text)
    if not 0 < port < 65536:
        raise InvalidInput(option, f"port {port} out of range")
    return host.strip("[]"), port


def check_public_url(value: str) -> str:
    """An absolute http(s) URL without query or fragment; no trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidInput("--public-url", f"expected http(s)://HOST[:PORT][/PATH], got {value!r}")
    return value.rstrip("/")


WEBHOOK_ENV: tuple[tuple[str, str, type[int] | type[float]], ...] = (
    ("webhook_max_attempts", "CALLYARD_WEBHOOK_MAX_ATTEMPTS", int),
    ("webhook_backoff_seconds", "CALLYARD_WEBHOOK_BACKOFF_SECONDS", float),
    ("webhook_backoff_cap_seconds", "CALLYARD_WEBHOOK_BACKOFF_CAP_SECONDS", float),
    ("webhook_timeout_seconds", "CALLYARD_WEBHOOK_TIMEOUT_SECONDS", float),
    ("webhook_concurrency", "CALLYARD_WEBHOOK_CONCURRENCY", int),
    ("webhook_retention_days", "CALLYARD_WEBHOOK_RETENTION_DAYS", int),
)


OTP_ENV: tuple[tuple[str, str, type[int] | type[float]], ...] = (
    ("otp_max_per_number", "CALLYARD_OTP_MAX_PER_NUMBER", int),
    ("otp_number_window_seconds", "CALLYARD_OTP_NUMBER_WINDOW_SECONDS", int),
    ("otp_max_per_company_per_minute", "CALLYARD_OTP_MAX_PER_COMPANY_PER_MINUTE", int),
)


LIMIT_ENV: tuple[tuple[str, str, type[int] | type[float]], ...] = (
    ("http_max_body_bytes", "CALLYARD_HTTP_MAX_BODY_BYTES", int),
    ("http_header_timeout_seconds", "CALLYARD_HTTP_HEADER_TIMEOUT_SECONDS", float),
    ("http_body_timeout_seconds", "CALLYARD_HTTP_BODY_TIMEOUT_SECONDS", float),
    ("http_idle_timeout_seconds", "CALLYARD_HTTP_IDLE_TIMEOUT_SECONDS", float),
    ("http_max_connections", "CALLYARD_HTTP_MAX_CONNECTIONS", int),
    ("sip_failures_per_address", "CALLYARD_SIP_FAILURES_PER_ADDRESS", int),
    ("sip_failures_per_extension", "CALLYARD_SIP_FAILURES_PER_EXTENSION", int),
    ("sip_block_seconds", "CALLYARD_SIP_BLOCK_SECONDS", float),
    ("login_failures_per_address", "CALLYARD_LOGIN_FAILURES_PER_ADDRESS", int),
    ("login_failures_per_appid", "CALLYARD_LOGIN_FAILURES_PER_APPID", int),
    ("login_block_seconds", "CALLYARD_LOGIN_BLOCK_SECONDS", float),
    ("login_failure_delay_seconds", "CALLYARD_LOGIN_FAILURE_DELAY_SECONDS", float),
    ("agent_session_grace_seconds", "CALLYARD_AGENT_SESSION_GRACE_SECONDS", float),
)

OPERATIONS_ACCESS = ("auto", "open", "key")


def _positive(var: str, text: str, kind: type[int] | type[float]) -> int | float:
    try:
        value = kind(text.strip())
    except ValueError:
        raise InvalidInput(var, f"{text!r} is not a number") from None
    if not 0 < value < math.inf:
        raise InvalidInput(var, "must be a number greater than 0")
    return value


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
    # Tokens of API credentials (the vcall API's POST /api/token): the seed leaves it open.
    credential_token_ttl_seconds: int = 2 * 3600
    public_url: str | None = None
    recording_retention_days: int = DEFAULT_RETENTION_DAYS
    recording_secret: str | None = None
    credentials_key: str | None = None  # seals API secrets at rest (else credentials.key)
    advertise_ip: str | None = None
    rtp_ports: str = "20000-29999"
    # SIP over WebSocket for browsers' soft phones: off unless a port is given; `wss`
    # when a certificate chain and its key are given too.
    sip_ws_port: int | None = None
    sip_ws_cert: Path | None = None
    sip_ws_key: Path | None = None
    # Where browsers reach it when that is not the switch's own address (a TLS proxy).
    sip_ws_url: str | None = None
    ring_timeout_seconds: float = 60.0  # a customer (or a mobile) that does not answer
    agent_ring_timeout_seconds: float = 30.0  # an agent's phone that does not answer
    # Webhook delivery: 12 attempts, 30 s doubling to 6 h apart (about 14.5 h in all).
    webhook_max_attempts: int = 12
    webhook_backoff_seconds: float = 30.0
    webhook_backoff_cap_seconds: float = 6 * 3600.0
    webhook_timeout_seconds: float = 10.0
    webhook_concurrency: int = 16
    webhook_retention_days: int = 30  # delivered and dead events are then forgotten
    # What a predictive call's customer hears when no agent is free (spoken by espeak-ng).
    dialer_abandon_message: str = (
        "Sorry, all of our agents are busy right now. We will call you again soon. Goodbye."
    )
    dialer_abandon_language: str = "en"
    # Voice verification codes: per phone number (of a company) per window, and per
    # company per minute.
    otp_max_per_number: int = 5
    otp_number_window_seconds: int = 600
    otp_max_per_company_per_minute: int = 600
    # The HTTP server's limits on each request and connection.
    http_max_body_bytes: int = 16 * 1024 * 1024  # a task's 10,000 numbers fit
    http_header_timeout_seconds: float = 10.0  # from connection (or last request) to headers
    http_body_timeout_seconds: float = 60.0  # from headers to the whole body
    http_idle_timeout_seconds: float = 5.0  # keep-alive between requests
    http_max_connections: int = 1000
    # /metrics, /docs and /openapi.json: "open", "key" (the admin key), or "auto" (open
    # when the HTTP server listens on a loopback address only, else "key").
    operations_access: str = "auto"
    # Failed authentication: an address (or an extension, an appid, from addresses it
    # has not authenticated from lately) is blocked after this many failures.
    sip_failures_per_address: int = 10
    sip_failures_per_extension: int = 5
    sip_block_seconds: float = 300.0  # an address's first block; doubles, up to an hour
    login_failures_per_address: int = 10
    login_failures_per_appid: int = 10
    login_block_seconds: float = 300.0
    login_failure_delay_seconds: float = 1.0  # a failed login is answered this late
    # An agent's session with no socket open, no phone registered and no request for
    # this long ends (its desktop is gone).
    agent_session_grace_seconds: float = 60.0

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
            ("advertise_ip", "CALLYARD_ADVERTISE_IP"),
            ("rtp_ports", "CALLYARD_RTP_PORTS"),
            ("sip_ws_url", "CALLYARD_SIP_WS_URL"),
            ("public_url", "CALLYARD_PUBLIC_URL"),
            ("recording_secret", "CALLYARD_RECORDING_SECRET"),
            ("credentials_key", "CALLYARD_CREDENTIALS_KEY"),
            ("dialer_abandon_message", "CALLYARD_DIALER_ABANDON_MESSAGE"),
            ("dialer_abandon_language", "CALLYARD_DIALER_ABANDON_LANGUAGE"),
        ):
            if env.get(var):
                values[name] = env[var]
        if env.get("CALLYARD_DATA_DIR"):
            values["data_dir"] = Path(env["CALLYARD_DATA_DIR"])
        if env.get("CALLYARD_SIP_WS_PORT"):
            values["sip_ws_port"] = _positive(
                "CALLYARD_SIP_WS_PORT", env["CALLYARD_SIP_WS_PORT"], int
            )
        for name, var in (
            ("sip_ws_cert", "CALLYARD_SIP_WS_CERT"),
            ("sip_ws_key", "CALLYARD_SIP_WS_KEY"),
        ):
            if env.get(var):
                values[name] = Path(env[var])
        if env.get("CALLYARD_TOKEN_TTL"):
            values["token_ttl_seconds"] = int(env["CALLYARD_TOKEN_TTL"])
        if env.get("CALLYARD_CREDENTIAL_TOKEN_TTL"):
            values["credential_token_ttl_seconds"] = int(env["CALLYARD_CREDENTIAL_TOKEN_TTL"])
        if env.get("CALLYARD_RING_TIMEOUT"):
            values["ring_timeout_seconds"] = float(env["CALLYARD_RING_TIMEOUT"])
        if env.get("CALLYARD_AGENT_RING_TIMEOUT"):
            values["agent_ring_timeout_seconds"] = float(env["CALLYARD_AGENT_RING_TIMEOUT"])
        if env.get("CALLYARD_RECORDING_RETENTION_DAYS"):
            text = env["CALLYARD_RECORDING_RETENTION_DAYS"]
            if not text.strip().isdigit():
                raise InvalidInput("CALLYARD_RECORDING_RETENTION_DAYS", f"{text!r} is not a number")
            values["recording_retention_days"] = int(text)
        if env.get("CALLYARD_OPERATIONS_ACCESS"):
            values["operations_access"] = env["CALLYARD_OPERATIONS_ACCESS"].strip().lower()
        for name, var, kind in WEBHOOK_ENV + OTP_ENV + LIMIT_ENV:
            if env.get(var):
                values[name] = _positive(var, env[var], kind)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values.get("data_dir"), str):
            values["data_dir"] = Path(str(values["data_dir"]))
        settings = replace(cls(), **values)  # type: ignore[arg-type]
        parse_hostport(settings.http, "--http")
        parse_hostport(settings.sip, "--sip")
        if settings.public_url is not None:
            settings = replace(settings, public_url=check_public_url(settings.public_url))
        access = settings.operations_access
        if access not in OPERATIONS_ACCESS:
            expected = ", ".join(OPERATIONS_ACCESS)
            raise InvalidInput(
                "CALLYARD_OPERATIONS_ACCESS", f"expected one of {expected}, got {access!r}"
            )
        if (settings.sip_ws_cert is None) != (settings.sip_ws_key is None):
            raise InvalidInput("--sip-ws-cert", "a certificate needs its key (--sip-ws-key)")
        if settings.sip_ws_port is not None and not 0 < settings.sip_ws_port < 65536:
            raise InvalidInput("--sip-ws-port", f"{settings.sip_ws_port} is not a port")
        if settings.recording_retention_days < 1:
            raise InvalidInput("CALLYARD_RECORDING_RETENTION_DAYS", "must be at least 1 day")
        return settings

    @property
    def websocket(self) -> WebSocketSettings | None:
        """SIP over WebSocket, if a port is set."""
        if self.sip_ws_port is None:
            return None
        certificate = None
        if self.sip_ws_cert is not None and self.sip_ws_key is not None:
            certificate = (self.sip_ws_cert, self.sip_ws_key)
        return WebSocketSettings(self.sip_ws_port, certificate)

    @property
    def http_address(self) -> tuple[str, int]:
        return parse_hostport(self.http, "--http")

    @property
    def sip_address(self) -> tuple[str, int]:
        return parse_hostport(self.sip, "--sip")

    @property
    def sip_websocket_url(self) -> str | None:
        """Where browsers' soft phones register: the given URL, else the switch's own
        WebSocket (`wss` with a certificate); None without one."""
        if self.sip_ws_url:
            return self.sip_ws_url
        if self.sip_ws_port is None:
            return None
        scheme = "ws" if self.sip_ws_cert is None else "wss"
        return f"{scheme}://{self.advertise_ip or self.sip_address[0]}:{self.sip_ws_port}"

    @property
    def sip_domain(self) -> str:
        """Where phones register: the advertised address (else the SIP address) and port."""
        host, port = self.sip_address
        return f"{self.advertise_ip or host}:{port}"

    @property
    def recording_url(self) -> str:
        """Base of recording download links: the public URL, else the HTTP address."""
        return self.public_url or f"http://{self.http}"

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
        return self.admin_key or self._key_file(ADMIN_KEY_FILE)

    def resolve_recording_secret(self) -> str:
        """The HMAC key of recording links: from the environment, else from (or created
        in) the data dir, so that links stay valid across restarts."""
        return self.recording_secret or self._key_file(RECORDING_KEY_FILE)

    def resolve_credentials_key(self) -> str:
        """The server key that seals API secrets callyard must read back: from the
        environment, else from (or created in) the data dir. Losing it loses them."""
        return self.credentials_key or self._key_file(CREDENTIALS_KEY_FILE)

    def _key_file(self, name: str) -> str:
        """A secret kept in the data dir (mode 0600), created on first use."""
        self.ensure_data_dir()
        path = self.data_dir / name
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_hex(24)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key
