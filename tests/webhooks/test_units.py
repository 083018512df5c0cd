"""Signatures, the retry schedule and the webhook settings read from the environment."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import random

import pytest

from callyard import __version__
from callyard.config import Settings
from callyard.errors import InvalidInput
from callyard.webhooks import signing
from callyard.webhooks.delivery import DeliveryConfig, RetryPolicy
from callyard.webhooks.settings import check_url

SECRET = "whsec_test"
BODY = b'{"uuid":"c-1","status":"ring"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signing.signature(SECRET, 1700000000, BODY) == f"v1={expected}"


def test_headers() -> None:
    headers = signing.headers("ev-1", "call_state", 1700000000, SECRET, BODY)
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": f"callyard/{__version__}",
        "X-Callyard-Event-Id": "ev-1",
        "X-Callyard-Event": "call_state",
        "X-Callyard-Timestamp": "1700000000",
        "X-Callyard-Signature": signing.signature(SECRET, 1700000000, BODY),
    }


def test_verify() -> None:
    sig = signing.signature(SECRET, 1700000000, BODY)
    assert signing.verify(SECRET, "1700000000", sig, BODY, now=1700000100)
    assert not signing.verify("other", "1700000000", sig, BODY, now=1700000100)
    assert not signing.verify(SECRET, "1700000000", sig, BODY + b" ", now=1700000100)
    assert not signing.verify(SECRET, "1700000001", sig, BODY, now=1700000100)
    assert not signing.verify(SECRET, "1700000000", sig, BODY, now=1700000000 + 301)
    assert not signing.verify(SECRET, "1700000000", sig, BODY, now=1700000000 - 301)
    assert not signing.verify(SECRET, "-1", sig, BODY, now=1700000100)
    assert not signing.verify(SECRET, "1700000000", "v1=00", BODY, now=1700000100)


def test_default_schedule_spans_twelve_hours_at_least() -> None:
    policy = DeliveryConfig().retry
    assert policy == RetryPolicy(max_attempts=12, base=30.0, cap=6 * 3600.0)
    waits = policy.schedule(jitter=1.0)  # the smallest jitter
    assert len(waits) + 1 >= 10  # attempts
    assert sum(waits) >= 12 * 3600
    assert waits[:3] == [30.0, 60.0, 120.0]
    assert max(waits) == 6 * 3600.0
    assert all(b >= a for a, b in itertools.pairwise(waits))


def test_jitter_and_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=4, base=10.0, cap=25.0)
    rng = random.Random(7)
    for attempt, base in ((1, 10.0), (2, 20.0), (3, 25.0)):
        for _ in range(50):
            delay = policy.next_delay(attempt, rng)
            assert delay is not None
            assert base <= delay <= base * 1.25
    assert policy.next_delay(4, rng) is None
    assert policy.next_delay(5, rng) is None


def test_settings_from_the_environment() -> None:
    defaults = DeliveryConfig.from_settings(Settings.from_env({}))
    assert defaults == DeliveryConfig()
    env = {
        "CALLYARD_WEBHOOK_MAX_ATTEMPTS": "3",
        "CALLYARD_WEBHOOK_BACKOFF_SECONDS": "0.5",
        "CALLYARD_WEBHOOK_BACKOFF_CAP_SECONDS": "2",
        "CALLYARD_WEBHOOK_TIMEOUT_SECONDS": "1.5",
        "CALLYARD_WEBHOOK_CONCURRENCY": "4",
    }
    config = DeliveryConfig.from_settings(Settings.from_env(env))
    assert config.retry == RetryPolicy(3, 0.5, 2.0)
    assert (config.timeout, config.concurrency) == (1.5, 4)
    for var in env:
        for bad in ("0", "-1", "x", "nan", "inf"):
            with pytest.raises(InvalidInput) as raised:
                Settings.from_env({var: bad})
            assert raised.value.field == var


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "example.com/hook",
        "http://",
        "http:///path",
        "https://example.com:99999/",
        "https://exa mple.com/",
        "https://example.com/" + "x" * 2048,
        "javascript:alert(1)",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_url(url, "cdr_url")


def test_good_urls() -> None:
    assert check_url(" https://crm.example.com/hooks?x=1 ", "u") == (
        "https://crm.example.com/hooks?x=1"
    )
    assert check_url("http://127.0.0.1:8081/h", "u") == "http://127.0.0.1:8081/h"
