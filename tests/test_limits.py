"""Failure limits: blocks, backoff, forgetting, bounded tables, trusted sources."""

from __future__ import annotations

from callyard.limits import (
    AuthenticationLimits,
    BackoffPolicy,
    Blocks,
    FailureLimiter,
    TrustedSources,
    address_key,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_blocked_after_the_allowed_failures_for_longer_each_time() -> None:
    clock = Clock()
    limiter = FailureLimiter(BackoffPolicy(allowed=3, block=10, max_block=35), clock)
    assert limiter.failed("a") == 0
    assert limiter.failed("a") == 0
    assert limiter.blocked("a") == 0
    assert limiter.failed("a") == 10
    assert limiter.blocked("a") == 10
    assert limiter.blocked("b") == 0
    clock.now += 10
    assert limiter.blocked("a") == 0
    assert limiter.failed("a") == 20
    clock.now += 20
    assert limiter.failed("a") == 35  # 40 capped


def test_slow_failures_are_counted_until_a_quiet_spell() -> None:
    clock = Clock()
    limiter = FailureLimiter(BackoffPolicy(allowed=10, block=300, forget=900), clock)
    for _ in range(9):
        assert limiter.failed("slow") == 0
        clock.now += 60  # 9 guesses a minute would never fill a one-minute window
    assert limiter.failed("slow") == 300
    clock.now += 300 + 901
    assert limiter.failed("slow") == 0  # forgotten after 15 quiet minutes
    assert len(limiter) == 1


def test_entries_expire_and_the_table_is_bounded() -> None:
    clock = Clock()
    limiter = FailureLimiter(BackoffPolicy(allowed=2, block=5, forget=60), clock, max_keys=100)
    for i in range(1000):
        limiter.failed(f"10.0.{i // 250}.{i % 250}")
    assert len(limiter) == 100
    clock.now += 61
    limiter.failed("one more")
    assert len(limiter) == 1
    limiter.failed("blocked")
    limiter.failed("blocked")
    clock.now += 4
    limiter.failed("other")
    assert limiter.blocked("blocked") > 0  # still blocked: kept


def test_forget_starts_a_key_over() -> None:
    limiter = FailureLimiter(BackoffPolicy(allowed=1, block=5), Clock())
    limiter.failed("k")
    limiter.forget("k")
    assert limiter.blocked("k") == 0
    assert len(limiter) == 0


def test_trusted_sources_are_remembered_for_a_while_and_bounded() -> None:
    clock = Clock()
    trusted = TrustedSources(clock, keep=100, per_key=2)
    trusted.remember("1001", "10.0.0.1")
    assert trusted.knows("1001", "10.0.0.1")
    assert not trusted.knows("1001", "10.0.0.2")
    assert not trusted.knows("1002", "10.0.0.1")
    trusted.remember("1001", "10.0.0.2")
    trusted.remember("1001", "10.0.0.3")
    assert not trusted.knows("1001", "10.0.0.1")  # only the last two
    clock.now += 101
    assert not trusted.knows("1001", "10.0.0.3")


def test_address_keys_group_ipv6_by_slash_64() -> None:
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("2001:db8:1:2::7") == address_key("2001:db8:1:2:ffff::1")
    assert address_key("2001:db8:1:2::7") != address_key("2001:db8:1:3::7")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("not an address") == "not an address"


def test_authentication_limits_spare_a_key_where_it_authenticated() -> None:
    clock = Clock()
    limits = AuthenticationLimits(clock, address_failures=10, address_block=300, key_failures=2)
    limits.succeeded("1001", "[2001:db8::1]")  # as SIP stacks write IPv6 addresses
    for n in range(2):
        assert limits.failed("1001", f"192.0.2.{n}").key == (1.0 if n else 0.0)
    assert limits.blocked("1001", "192.0.2.9") == 1.0
    assert limits.blocked("1001", "2001:db8::2") == 0.0  # its own /64
    assert limits.failed("1001", "2001:db8::1") == Blocks(0.0, 0.0)  # not counted for the key
    assert limits.failed(None, "192.0.2.9") == Blocks(0.0, 0.0)
