"""`callyard serve`: the server, optionally with a demo company."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import shlex
import signal
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import uvicorn

from callyard.api.app import create_app
from callyard.api.connections import limited_protocol
from callyard.config import Settings
from callyard.container import Container
from callyard.errors import Conflict
from callyard.services.companies import CompanyCredentials

log = logging.getLogger("callyard.serve")

DEMO_COMPANY = "demo"
DEMO_EXTENSIONS = 5
PURGE_INTERVAL = 3600.0


async def ensure_demo(container: Container) -> CompanyCredentials:
    """The demo company with a fresh access key, created with extensions on first use."""
    existing = await container.companies.find_by_name(DEMO_COMPANY)
    if existing is not None:
        return await container.companies.rotate_accesskey(existing.code)
    created = await container.companies.create(DEMO_COMPANY)
    numbers = [f"{created.companycode}{i:04d}" for i in range(1, DEMO_EXTENSIONS + 1)]
    try:
        await container.extensions.create(created.companycode, numbers)
    except Conflict:
        log.warning("demo extensions already taken", extra={"numbers": numbers})
    return created


def demo_banner(credentials: CompanyCredentials, http: str) -> str:
    url = f"http://{http}"
    login = " ".join(
        [
            "curl -s",
            shlex.quote(url),
            "-F service=App.Sip_Auth.Login",
            f"-F appid={shlex.quote(credentials.appid)}",
            f"-F accesskey={shlex.quote(credentials.accesskey)}",
        ]
    )
    return "\n".join(
        [
            "",
            "callyard demo company (the access key is new at every --demo start)",
            f"  companycode: {credentials.companycode}",
            f"  appid:       {credentials.appid}",
            f"  accesskey:   {credentials.accesskey}",
            f"  API:         {url}",
            "  log in:",
            f"    {login}",
            "",
        ]
    )


class _Server(uvicorn.Server):
    """uvicorn's server, but a stop signal ends in a normal exit after shutdown.

    uvicorn re-raises the captured signal once it has drained, which would kill the
    process before callyard closes its store; here the signal only asks to stop.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _stop(self, sig: signal.Signals) -> None:
        log.info("stopping", extra={"signal": sig.name})
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def purge_recordings_periodically(
    container: Container, interval: float = PURGE_INTERVAL
) -> None:
    """Apply the retention of recordings, the webhook log and voice-code requests now,
    then every `interval` seconds, until cancelled."""
    while True:
        try:
            await container.recordings.purge()
        except Exception:
            log.exception("recording purge failed")
        keep = timedelta(days=container.settings.webhook_retention_days)
        try:
            await container.outbox.purge(container.clock.now() - keep)
        except Exception:
            log.exception("webhook log purge failed")
        try:
            await container.voice_codes.purge()
        except Exception:
            log.exception("voice code purge failed")
        await asyncio.sleep(interval)


async def _serve(settings: Settings, demo: bool) -> bool:
    container = await Container.open(settings, with_switch=True)
    purger = asyncio.create_task(purge_recordings_periodically(container))
    switch_ended: asyncio.Task[int | None] | None = None
    sessions_swept: asyncio.Task[None] | None = None
    queues_watched: asyncio.Task[None] | None = None
    container.delivery.start()
    try:
        await container.calls.recover()  # calls a kill cut short, before any new one
        if container.switch is not None:
            await container.switch.start()
        if container.dialer is not None:
            await container.dialer.start()
        await container.sessions.load()
        sessions_swept = asyncio.create_task(container.sessions.run())
        if container.distributor is not None:
            queues_watched = asyncio.create_task(container.distributor.run())
        admin_key = settings.resolve_admin_key()
        if demo:
            print(demo_banner(await ensure_demo(container), settings.http), flush=True)
        host, port = settings.http_address
        config = uvicorn.Config(
            create_app(container, admin_key),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=10,
            server_header=False,
            http=limited_protocol(
                settings.http_header_timeout_seconds, settings.http_max_connections
            ),
            # uvicorn waits with loop.call_later, which takes fractions of a second too.
            timeout_keep_alive=settings.http_idle_timeout_seconds,  # type: ignore[arg-type]
        )
        server = _Server(config)
        if container.switch is not None:
            # Without its SIP process the server cannot place or take calls: stop, and
            # exit non-zero so that a supervisor starts it again.
            switch_ended = asyncio.create_task(container.switch.ended())
            switch_ended.add_done_callback(lambda _: setattr(server, "should_exit", True))
        log.info(
            "callyard listening",
            extra={
                "http": settings.http,
                "data_dir": str(settings.data_dir),
                "db": _safe_url(settings),
            },
        )
        # Everything made at start-up lives as long as the server: moved out of the
        # collector's reach, a full collection no longer walks it (about 80 ms a time on
        # one core, a stall for every request in flight).
        gc.freeze()
        await server.serve()
        if switch_ended is not None and switch_ended.done():
            log.error("stopping: the SIP switch ended", extra={"status": switch_ended.result()})
            return False
        return True
    finally:
        if switch_ended is not None:
            switch_ended.cancel()
        for task in (purger, sessions_swept, queues_watched):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await container.delivery.stop()
        await container.close()
        log.info("callyard stopped")


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def serve(settings: Settings, demo: bool) -> bool:
    """Run until SIGTERM or SIGINT, then finish in-flight requests and close the store;
    False when it stopped because its SIP switch ended."""
    options: dict[str, Any] = {}
    factory = _loop_factory()
    if factory is not None:
        options["loop_factory"] = factory
    with asyncio.Runner(**options) as runner:
        return runner.run(_serve(settings, demo))
