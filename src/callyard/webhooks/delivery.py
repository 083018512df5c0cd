"""The delivery worker: sends due outbox events, signed, and retries with backoff.

One loop claims due events and starts a task per attempt (at most `concurrency` at a
time); each finished attempt's outcome is stored by the loop's next transaction,
together with the next claim. The loop runs at once when an event is committed or an
attempt ends, and at least every `poll_interval` otherwise (events made due by the CLI,
retries coming due, events left by a crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx

from callyard.clock import Clock
from callyard.config import Settings
from callyard.webhooks import signing
from callyard.webhooks.deliveries import AttemptResult, Claimed, clip_error
from callyard.webhooks.outbox import Outbox
from callyard.webhooks.settings import WebhookSettingsService

log = logging.getLogger("callyard.webhooks")

JITTER = (1.0, 1.25)
MAX_RESPONSE_BYTES = 64 * 1024  # read (and ignore) at most this much of an answer


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n (1-based) that fails is retried after min(cap, base * 2^(n-1)) seconds
    times a random factor in [1, 1.25]; the `max_attempts`-th failure is final."""

    max_attempts: int = 12
    base: float = 30.0
    cap: float = 6 * 3600.0

    def delay(self, attempt: int, jitter: float = 1.0) -> float:
        """Seconds to wait after failed attempt number `attempt`."""
        return min(self.cap, self.base * 2.0 ** min(attempt - 1, 64)) * jitter

    def next_delay(self, attempt: int, rng: random.Random) -> float | None:
        """The wait after failed attempt `attempt`, or None when the event is dead."""
        if attempt >= self.max_attempts:
            return None
        return self.delay(attempt, rng.uniform(*JITTER))

    def schedule(self, jitter: float = 1.0) -> list[float]:
        """Every wait between the first and the last attempt."""
        return [self.delay(n, jitter) for n in range(1, self.max_attempts)]


@dataclass(frozen=True)
class DeliveryConfig:
    retry: RetryPolicy = RetryPolicy()
    timeout: float = 10.0  # seconds per attempt, all included
    concurrency: int = 16
    poll_interval: float = 0.5
    lease_margin: float = 5.0  # a claim lasts timeout + this

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        return cls(
            RetryPolicy(
                settings.webhook_max_attempts,
                settings.webhook_backoff_seconds,
                settings.webhook_backoff_cap_seconds,
            ),
            settings.webhook_timeout_seconds,
            settings.webhook_concurrency,
        )


class DeliveryWorker:
    """Sends webhook events from the outbox until stopped."""

    def __init__(
        self,
        outbox: Outbox,
        settings: WebhookSettingsService,
        clock: Clock,
        config: DeliveryConfig,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox = outbox
        self._settings = settings
        self._clock = clock
        self._config = config
        self._rng = rng or random.Random()
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._wake = asyncio.Event()
        self._results: list[AttemptResult] = []
        self._sending: dict[int, tuple[Claimed, asyncio.Task[None]]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._rounds = asyncio.Condition()
        self._begun = 0  # rounds begun so far
        self._idle_since = 0  # the number of the last round that found nothing to do
        outbox.add_listener(self.wake)

    def wake(self) -> None:
        """Look for due events now."""
        self._wake.set()

    def start(self) -> None:
        """Start the loop in the running event loop."""
        if self._loop_task is not None:
            return
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=self._config.timeout,
            limits=httpx.Limits(
                max_connections=self._config.concurrency,
                max_keepalive_connections=self._config.concurrency,
            ),
        )
        self._loop_task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the loop, cut attempts in flight short (their events are due again at
        once, for the next start) and store the outcomes of finished ones."""
        if self._loop_task is None:
            return
        self._loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._loop_task
        self._loop_task = None
        sending = list(self._sending.values())
        for _, task in sending:
            task.cancel()
        await asyncio.gather(*(task for _, task in sending), return_exceptions=True)
        self._sending.clear()
        results, self._results = self._results, []
        finished = {r.id for r in results}
        cut = [claim for claim, _ in sending if claim.id not in finished]
        try:
            now = self._clock.now()
            await self._outbox.settle_and_claim(results, now, 0, now)
            await self._outbox.release(cut, now)
        except Exception:
            log.exception("storing webhook outcomes at shutdown failed")
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def idle(self) -> None:
        """Wait for a round that found nothing due and nothing in flight (tests)."""
        async with self._rounds:
            # A round already under way may have read the clock before the caller moved
            # it: only a round begun from now on counts.
            begun = self._begun
            self.wake()
            await self._rounds.wait_for(lambda: self._idle_since > begun)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                more = await self._round()
            except Exception:
                log.exception("webhook delivery round failed")
                more = False
            if not more:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                # that arrives as the wait ends, and stop() would wait forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._config.poll_interval):
                        await self._wake.wait()

    async def _round(self) -> bool:
        """Store finished attempts, claim due events and start sending them; True when
        every free slot was filled (more may be due)."""
        self._begun += 1
        number = self._begun
        results, self._results = self._results, []
        now = self._clock.now()
        lease = now + timedelta(seconds=self._config.timeout + self._config.lease_margin)
        free = self._config.concurrency - len(self._sending)
        try:
            claimed = await self._outbox.settle_and_claim(
                results, now, free, lease, exclude=self._sending
            )
        except BaseException:
            self._results[:0] = results  # stored by the next round
            raise
        loop = asyncio.get_running_loop()
        for item in claimed:
            self._sending[item.id] = (item, loop.create_task(self._deliver(item)))
        async with self._rounds:
            if not claimed and not self._sending and not self._results:
                self._idle_since = number
            self._rounds.notify_all()
        return free > 0 and len(claimed) == free

    async def _deliver(self, item: Claimed) -> None:
        try:
            async with self._semaphore:
                result = await self._attempt(item)
            self._results.append(result)
        except Exception:
            log.exception("webhook attempt failed", extra={"event_id": item.event_id})
        finally:
            self._sending.pop(item.id, None)
            self.wake()

    async def _attempt(self, item: Claimed) -> AttemptResult:
        """One signed POST of the event; its outcome and, on failure, when to retry."""
        assert self._client is not None, "start() the worker first"
        at = self._clock.now()
        attempts = item.attempts + 1
        status_code: int | None = None
        error: str | None = None
        started = time.perf_counter()
        targets = await self._settings.targets(item.company_id)
        if targets is None:
            error = "the company has no webhook settings"
        else:
            timestamp = int(at.timestamp())
            headers = signing.headers(
                item.event_id, item.kind, timestamp, targets.secret, item.body
            )
            try:
                async with asyncio.timeout(self._config.timeout):
                    status_code = await self._post(item.url, item.body, headers)
            except TimeoutError:
                error = f"timed out after {self._config.timeout:g} s"
            except Exception as exc:  # connection refused, TLS, protocol errors...
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        delivered = status_code is not None and 200 <= status_code < 300
        next_at = None
        if not delivered:
            delay = self._config.retry.next_delay(attempts, self._rng)
            next_at = None if delay is None else at + timedelta(seconds=delay)
            log.info(
                "webhook attempt failed",
                extra={
                    "event_id": item.event_id,
                    "attempt": attempts,
                    "status_code": status_code,
                    "error": error,
                    "dead": next_at is None,
                },
            )
        return AttemptResult(
            id=item.id,
            claimed_until=item.claimed_until,
            attempts=attempts,
            at=at,
            status_code=status_code,
            error=clip_error(error) if error else None,
            elapsed_ms=elapsed_ms,
            delivered=delivered,
            next_attempt_at=next_at,
        )

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        assert self._client is not None
        async with self._client.stream("POST", url, content=body, headers=headers) as response:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > MAX_RESPONSE_BYTES:
                    break
            return response.status_code
