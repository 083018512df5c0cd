"""Limits on failed authentication, shared by the SIP registrar and the API's logins.

A key (an address, an extension, an appid) that fails `allowed` times is blocked for
`block` seconds, and for twice as long with each further failure, up to `max_block`;
a key with no failure for `forget` seconds starts over, so slow guessing is caught as
well as fast guessing. Attempts made while blocked are refused without being checked
and are not counted. Entries expire, and the table holds at most `max_keys` keys.

`TrustedSources` remembers where each extension or appid last authenticated
successfully, so that a limit on the key itself can spare its rightful user while an
attacker elsewhere guesses; `AuthenticationLimits` puts the two together, as the SIP
registrar and the API's logins both limit.

Not thread-safe: each owner uses one from one thread (the SIP thread, the event loop).
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffPolicy:
    """When a key is blocked and for how long."""

    allowed: int = 10  # failures before the first block
    block: float = 300.0  # seconds of the first block
    max_block: float = 3600.0  # each further failure doubles the block, up to this
    forget: float = 900.0  # a key without failures for this long starts over

    def block_after(self, failures: int) -> float:
        """Seconds blocked after the `failures`-th failure (0 before `allowed`)."""
        if failures < self.allowed:
            return 0.0
        doublings = min(failures - self.allowed, 63)
        return float(min(self.max_block, self.block * 2**doublings))


@dataclass
class _Entry:
    failures: int
    last: float
    until: float


class FailureLimiter:
    """Counts failures per key and blocks keys by a :class:`BackoffPolicy`."""

    def __init__(
        self,
        policy: BackoffPolicy,
        clock: Callable[[], float],
        *,
        max_keys: int = 100_000,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._max_keys = max_keys
        # Ordered by last failure, oldest first: expired entries are at the front.
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def blocked(self, key: Hashable) -> float:
        """Seconds `key` stays blocked (0.0 when it is not)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.until - self._clock())

    def failed(self, key: Hashable) -> float:
        """Count a failure of `key`; the seconds it is now blocked (0.0 if not)."""
        now = self._clock()
        self._expire(now)
        entry = self._entries.pop(key, None)
        if entry is None or now - entry.last > self.policy.forget:
            entry = _Entry(0, now, 0.0)
        entry.failures += 1
        entry.last = now
        seconds = self.policy.block_after(entry.failures)
        if seconds:
            entry.until = now + seconds
        self._entries[key] = entry
        while len(self._entries) > self._max_keys:
            self._entries.popitem(last=False)
        return seconds

    def forget(self, key: Hashable) -> None:
        """Start `key` over (its owner proved who it is)."""
        self._entries.pop(key, None)

    def _expire(self, now: float) -> None:
        while self._entries:
            entry = next(iter(self._entries.values()))
            if now - entry.last <= self.policy.forget or entry.until > now:
                return
            self._entries.popitem(last=False)


class TrustedSources:
    """For each key, the few addresses it authenticated from lately."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        keep: float = 86400.0,
        per_key: int = 8,
        max_keys: int = 100_000,
    ) -> None:
        self._clock = clock
        self._keep = keep
        self._per_key = per_key
        self._max_keys = max_keys
        self._sources: OrderedDict[Hashable, OrderedDict[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sources)

    def remember(self, key: Hashable, address: str) -> None:
        """`key` authenticated from `address` just now."""
        sources = self._sources.pop(key, None) or OrderedDict()
        sources.pop(address, None)
        sources[address] = self._clock()
        while len(sources) > self._per_key:
            sources.popitem(last=False)
        self._sources[key] = sources
        while len(self._sources) > self._max_keys:
            self._sources.popitem(last=False)

    def knows(self, key: Hashable, address: str) -> bool:
        """Whether `key` authenticated from `address` within the last `keep` seconds."""
        sources = self._sources.get(key)
        seen = sources.get(address) if sources else None
        return seen is not None and self._clock() - seen <= self._keep


FORGET_SECONDS = 900.0  # a key without failures for this long starts over
MAX_ADDRESS_BLOCK = 3600.0
# A key's first block is short (a user's typos from a new address cost a second), and
# doubles with each failure after it (a guesser soon gets one try in five minutes).
FIRST_KEY_BLOCK, MAX_KEY_BLOCK = 1.0, 300.0
MAX_KEY = 64  # characters of a key its limit counts by


@dataclass(frozen=True)
class Blocks:
    """The blocks a failure started, in seconds (0.0: none)."""

    address: float
    key: float


class AuthenticationLimits:
    """Failed authentication limited per address (its /64 for IPv6) and per key (an
    extension, an appid, known or not); the limit per key spares the addresses the key
    authenticated from lately, so that its rightful user is not locked out by a guesser
    elsewhere."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        address_failures: int,
        address_block: float,
        key_failures: int,
    ) -> None:
        self.by_address = FailureLimiter(
            BackoffPolicy(
                address_failures,
                address_block,
                max(MAX_ADDRESS_BLOCK, address_block),
                FORGET_SECONDS,
            ),
            clock,
        )
        self.by_key = FailureLimiter(
            BackoffPolicy(key_failures, FIRST_KEY_BLOCK, MAX_KEY_BLOCK, FORGET_SECONDS), clock
        )
        self.trusted = TrustedSources(clock)

    def blocked(self, key: str, ip: str) -> float:
        """Seconds attempts of `key` from `ip` stay refused unchecked (0.0: not blocked)."""
        address, key = address_key(ip), key[:MAX_KEY]
        seconds = self.by_address.blocked(address)
        if not self.trusted.knows(key, address):
            seconds = max(seconds, self.by_key.blocked(key))
        return seconds

    def failed(self, key: str | None, ip: str) -> Blocks:
        """Count a failure from `ip`, of `key` if one was named."""
        address = address_key(ip)
        blocked_address = self.by_address.failed(address)
        if key is None or self.trusted.knows(key[:MAX_KEY], address):
            return Blocks(blocked_address, 0.0)
        return Blocks(blocked_address, self.by_key.failed(key[:MAX_KEY]))

    def succeeded(self, key: str, ip: str) -> None:
        """`key` authenticated from `ip`: that address is trusted for it from now on."""
        self.trusted.remember(key[:MAX_KEY], address_key(ip))


def address_key(ip: str) -> str:
    """What a limit per address counts by: the address, or its /64 for IPv6 (one host
    there commonly holds a whole /64)."""
    ip = ip.removeprefix("[").removesuffix("]")  # as SIP stacks write IPv6 addresses
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)
