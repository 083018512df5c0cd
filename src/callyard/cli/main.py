"""Entry point of the `callyard` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callyard import logs
from callyard.cli import admin, bench, carriers, otp, queues, records, webhooks
from callyard.cli.common import DataDir, DbUrl, emit, run, settings
from callyard.container import Container
from callyard.store import migrate

app = typer.Typer(
    name="callyard",
    help="callyard: open-source cloud call center.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db = typer.Typer(help="Database schema.")
app.add_typer(admin.companies, name="company")
app.add_typer(admin.extensions, name="extension")
app.add_typer(admin.credentials, name="credential")
app.add_typer(carriers.trunks, name="trunk")
app.add_typer(carriers.pbxes, name="pbx")
app.add_typer(carriers.numbers, name="number")
app.add_typer(queues.queues, name="queue")
app.add_typer(records.cdrs, name="cdr")
app.add_typer(records.recordings, name="recordings")
app.add_typer(webhooks.webhooks, name="webhook")
app.add_typer(otp.otp, name="otp")
app.add_typer(bench.bench, name="bench")
app.add_typer(db, name="db")


@app.command("serve")
def serve_command(
    http: Annotated[
        str | None, typer.Option("--http", help="HOST:PORT [env CALLYARD_HTTP; 127.0.0.1:8080]")
    ] = None,
    sip: Annotated[
        str | None, typer.Option("--sip", help="HOST:PORT [env CALLYARD_SIP; 127.0.0.1:5060]")
    ] = None,
    data_dir: DataDir = None,
    db_url: DbUrl = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Create or refresh a demo company and print its keys")
    ] = False,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="debug, info, warning, error")
    ] = None,
    advertise_ip: Annotated[
        str | None,
        typer.Option(
            "--advertise-ip",
            help="Address for SIP Contact and SDP when it differs from --sip's "
            "[env CALLYARD_ADVERTISE_IP]",
        ),
    ] = None,
    rtp_ports: Annotated[
        str | None,
        typer.Option(
            "--rtp-ports", help="UDP range for media [env CALLYARD_RTP_PORTS; 20000-29999]"
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="IANA zone for API times [env CALLYARD_TIMEZONE; UTC]"),
    ] = None,
    sip_ws_port: Annotated[
        int | None,
        typer.Option(
            "--sip-ws-port",
            help="SIP over WebSocket for browsers, on --sip's host [env CALLYARD_SIP_WS_PORT; off]",
        ),
    ] = None,
    sip_ws_cert: Annotated[
        Path | None,
        typer.Option(
            "--sip-ws-cert", help="PEM certificate chain: wss:// [env CALLYARD_SIP_WS_CERT]"
        ),
    ] = None,
    sip_ws_key: Annotated[
        Path | None,
        typer.Option("--sip-ws-key", help="PEM key of --sip-ws-cert [env CALLYARD_SIP_WS_KEY]"),
    ] = None,
    sip_ws_url: Annotated[
        str | None,
        typer.Option(
            "--sip-ws-url",
            help="Where browsers reach the SIP WebSocket, behind a TLS proxy "
            "[env CALLYARD_SIP_WS_URL; ws(s)://<--sip host>:<--sip-ws-port>]",
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="Base URL of recording download links "
            "[env CALLYARD_PUBLIC_URL; http://<--http address>]",
        ),
    ] = None,
) -> None:
    """Start the HTTP API and the SIP switch."""
    config = settings(
        data_dir,
        db_url,
        http=http,
        sip=sip,
        log_level=log_level,
        timezone=timezone,
        advertise_ip=advertise_ip,
        rtp_ports=rtp_ports,
        sip_ws_port=sip_ws_port,
        sip_ws_cert=sip_ws_cert,
        sip_ws_key=sip_ws_key,
        sip_ws_url=sip_ws_url,
        public_url=public_url,
    )
    logs.configure(config.log_level)
    from callyard.cli.serve import serve  # the web stack loads only for the server

    if not serve(config, demo):
        raise typer.Exit(1)


@db.command("upgrade")
def db_upgrade(data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Apply schema migrations up to the current version."""

    async def op(c: Container) -> dict[str, str | None]:
        return {"revision": await migrate.upgrade(c.db)}

    emit(run(settings(data_dir, db_url), op))


@app.command("admin-key")
def admin_key(data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Print the admin API key (created in the data dir if there is none)."""
    emit({"admin_key": settings(data_dir, db_url).resolve_admin_key()})


def main() -> None:
    app()
