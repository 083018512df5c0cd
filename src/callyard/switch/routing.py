"""Where a call that reaches the switch goes, decided in the SIP process.

The server hands the SIP process a routing table (every extension's credentials, every
company's trunks and caller-ID pool, the routes of its numbers) whenever the store
changes, so that an INVITE is routed where it arrives, with no round trip to the server
before the far end rings. A registered phone's call goes to another extension of its
company (an internal call), or to a phone number through the company's trunk showing a
caller ID of its pool. A carrier's call to one of a company's numbers goes where that
number's route says: an extension, or the extensions checked in to a group, rung in
turn; a queued number's call is held by the switch for services to distribute. A
company's own PBX (known by the address it sends from, or by digest credentials,
or both) sends calls out through the company's trunk, showing its caller ID when it is
one of the company's numbers, else one of them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol, TypeVar

from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason
from callyard.switch.commands import Target
from callyard.switch.registrar import Account, Binding

PHONE_NUMBER = re.compile(r"^\+?[0-9]{3,32}$")
# The longest string a phone may dial: a phone number, "+" and 32 digits (an extension
# has at most 20). A longer one is refused (484) before anything else is looked at.
MAX_DIALED = 33
T = TypeVar("T")


class RoutesSource(Protocol):
    """Where the switch gets its routing table: the latest one, read again on demand and
    whenever the store changes, announced to subscribers when it differs."""

    table: RoutingTable

    def subscribe(self, listener: Callable[[RoutingTable], None]) -> None: ...

    async def reload(self) -> None: ...

    async def watch(self) -> None: ...


class TrunkAddress(Protocol):
    """Where a trunk is and how to authenticate to it."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...


@dataclass(frozen=True)
class TrunkRoute:
    host: str
    port: int
    username: str | None = None
    password: str | None = None


# The routing policy of outbound calls, for the switch (phones' own calls, from the
# routing table) and for services (the API's calls, the dialer, voice codes) alike.


def outbound_trunk(trunks: Iterable[T], trunk_id: Callable[[T], int]) -> T | None:
    """The trunk that carries a company's outbound calls: its first, by id."""
    return min(trunks, key=trunk_id, default=None)


def pick_caller_id(
    pool: Sequence[str], choose: Callable[[Sequence[str]], str] = random.choice
) -> str:
    """The caller ID shown when none is asked for: one of the company's enabled numbers,
    at random."""
    return choose(pool)


def via_trunk(trunk: TrunkAddress, number: str, caller_id: str, ring_timeout: float) -> Target:
    """Whom to INVITE to reach `number` through `trunk`, showing `caller_id`."""
    return Target(
        (trunk.host, trunk.port), number, caller_id, ring_timeout, trunk.username, trunk.password
    )


@dataclass(frozen=True)
class CompanyRoutes:
    """What a company's phones' calls need: its trunk (the first, by id) and its enabled
    caller-ID numbers; with its code and name, for the call records. `carriers`: where
    all its trunks are, the only sources its numbers' calls are taken from."""

    code: int
    name: str
    trunk: TrunkRoute | None
    caller_ids: tuple[str, ...]
    carriers: frozenset[tuple[str, int]] = frozenset()


@dataclass(frozen=True)
class NumberRoute:
    """Where calls to a company's number go: its extensions, tried in this order (one
    extension, or a group's enabled members checked in and idle there); or, for a
    group's `queued` number, to services, which choose whom to offer each call."""

    company_id: int
    number: str
    extensions: tuple[str, ...]
    group: bool  # a group's members, or one extension
    queued: bool = False  # a group's number whose calls services distribute


@dataclass(frozen=True)
class PbxRoute:
    """A company's own PBX: the address it must send from (None: any), and its digest
    credentials (`account`: its username as the account's number; None: the address
    alone says it is the PBX)."""

    company_id: int
    name: str
    host: str | None
    account: Account | None


@dataclass(frozen=True)
class RoutingTable:
    """Every extension's credentials and every company's routes, replaced whole."""

    accounts: dict[str, Account] = field(default_factory=dict)
    companies: dict[int, CompanyRoutes] = field(default_factory=dict)
    numbers: dict[str, NumberRoute] = field(default_factory=dict)  # by number, as stored
    pbxes: tuple[PbxRoute, ...] = ()

    @cached_property
    def _pbx_by_host(self) -> dict[str, PbxRoute]:
        return {p.host: p for p in self.pbxes if p.host is not None and p.account is None}

    @cached_property
    def _pbx_by_user(self) -> dict[str, PbxRoute]:
        return {p.account.number: p for p in self.pbxes if p.account is not None}

    def pbx_at(self, host: str) -> PbxRoute | None:
        """The PBX known by its address alone that sends from `host`."""
        return self._pbx_by_host.get(host)

    def pbx_of(self, username: str) -> PbxRoute | None:
        """The PBX whose digest username this is."""
        return self._pbx_by_user.get(username)

    @cached_property
    def _carriers(self) -> frozenset[tuple[str, int]]:
        """Where every company's trunks are: worked out once per table, not per INVITE."""
        return frozenset(a for company in self.companies.values() for a in company.carriers)

    @cached_property
    def _carrier_hosts(self) -> frozenset[str]:
        return frozenset(host for host, _ in self._carriers)

    def from_carrier(self, source: tuple[str, int], calling: str) -> bool:
        """Whether a call from `source` (by `calling`) is a carrier's: it comes from
        where a trunk is, or from a trunk's host (carriers may send from another port)
        by a caller that is not an extension (phones may share a carrier's host)."""
        if source in self._carriers:
            return True
        return source[0] in self._carrier_hosts and calling not in self.accounts

    def number(self, dialed: str) -> NumberRoute | None:
        """The route of a number as a carrier sends it: with or without its '+'."""
        bare = dialed.removeprefix("+")
        return self.numbers.get(dialed) or self.numbers.get(bare) or self.numbers.get("+" + bare)


@dataclass(frozen=True)
class Refusal:
    """The SIP final response that refuses a phone's call, and the record's cause."""

    status: int
    reason: str
    cause: EndReason


@dataclass(frozen=True)
class Queue:
    """Where a queued number's call goes: nowhere yet. The switch holds the caller and
    services decide (answer it, play to it, offer it to agents, refuse it)."""


@dataclass(frozen=True)
class Route:
    """A call: how it is recorded (its kind, the caller ID shown) and where it goes; `then`,
    the parties to try in turn if the destination fails or does not answer."""

    kind: CallKind
    caller_id: str
    destination: Target | Refusal | Queue
    then: tuple[Target, ...] = ()


class Router:
    """Routes phones' calls by the latest table (SIP thread, and the link's reader that
    replaces the table)."""

    def __init__(
        self,
        table: RoutingTable,
        binding: Callable[[str], Binding | None],
        ring_timeout: float,
        agent_ring_timeout: float,
        choose: Callable[[Sequence[str]], str] = random.choice,
    ) -> None:
        self.table = table
        self._binding = binding
        self._ring_timeout = ring_timeout
        self._agent_ring_timeout = agent_ring_timeout
        self._choose = choose

    def account(self, number: str) -> Account | None:
        """The extension, or the PBX whose digest username `number` is."""
        table = self.table
        found = table.accounts.get(number)
        if found is None and (pbx := table.pbx_of(number)) is not None:
            found = pbx.account
        return found

    def route_pbx(self, pbx: PbxRoute, dialed: str, calling: str) -> Route:
        """Where a company's PBX's call from `calling` to `dialed` goes: out through the
        company's trunk, showing `calling` when it is one of the company's numbers."""
        kind = CallKind.PBX_OUTBOUND
        if len(dialed) > MAX_DIALED:
            return Route(kind, "", _TOO_LONG)
        if not PHONE_NUMBER.match(dialed):
            return Route(kind, "", _NO_NUMBER)
        company = self.table.companies.get(pbx.company_id)
        if company is None:
            return Route(kind, "", _FORBIDDEN)
        if company.trunk is None or not company.caller_ids:
            return Route(kind, "", _NO_LINE)
        bare = calling.removeprefix("+")
        own = next((n for n in company.caller_ids if n.removeprefix("+") == bare), None)
        shown = own or pick_caller_id(company.caller_ids, self._choose)
        return Route(kind, shown, via_trunk(company.trunk, dialed, shown, self._ring_timeout))

    def route(self, caller: Account, dialed: str, in_call: Callable[[str], bool]) -> Route:
        """Where `caller`'s call to `dialed` goes; `in_call` tells the numbers in a call."""
        if len(dialed) > MAX_DIALED:
            return Route(CallKind.INTERNAL, caller.number, _TOO_LONG)
        table = self.table  # one table for the whole decision
        company = table.companies.get(caller.company_id)
        extension = table.accounts.get(dialed)
        if extension is not None or not PHONE_NUMBER.match(dialed):
            return Route(
                CallKind.INTERNAL,
                caller.number,
                self._to_extension(caller, company, extension, in_call),
            )
        if company is None:
            return Route(CallKind.PHONE_OUTBOUND, "", _FORBIDDEN)
        if company.trunk is None or not company.caller_ids:
            # No trunk, or no caller ID to show: the call cannot go out.
            return Route(CallKind.PHONE_OUTBOUND, "", _NO_LINE)
        shown = pick_caller_id(company.caller_ids, self._choose)
        return Route(
            CallKind.PHONE_OUTBOUND,
            shown,
            via_trunk(company.trunk, dialed, shown, self._ring_timeout),
        )

    def from_carrier(
        self,
        source: tuple[str, int],
        dialed: str,
        calling: str,
        in_call: Callable[[str], bool],
    ) -> tuple[int, Route] | None:
        """The company (0 if none) and route of a call from `source` to `dialed` (from
        `calling`), or None when it is no carrier's (a phone's call, then). A carrier's
        call to a number that is not a routed number of a company whose trunk is at that
        host is refused (404); one to a queued number is held, whoever is free."""
        table = self.table
        if not table.from_carrier(source, calling):
            return None
        route = table.number(dialed) if len(dialed) <= MAX_DIALED else None
        company = table.companies.get(route.company_id) if route is not None else None
        hosts = {host for host, _ in company.carriers} if company is not None else set()
        if route is None or source[0] not in hosts:
            return 0, Route(CallKind.INBOUND_EXTENSION, calling, _NO_NUMBER)
        if route.queued:
            return route.company_id, Route(CallKind.INBOUND_GROUP, calling, Queue())
        kind = CallKind.INBOUND_GROUP if route.group else CallKind.INBOUND_EXTENSION
        targets: list[Target] = []
        busy = False
        for number in route.extensions:
            account = table.accounts.get(number)
            binding = self._binding(number) if account and account.enabled else None
            if binding is None:
                continue
            if in_call(number):
                busy = True
                continue
            targets.append(Target(binding.target, number, calling, self._agent_ring_timeout))
        if not targets:
            return route.company_id, Route(kind, calling, _ALL_BUSY if busy else _NOBODY)
        return route.company_id, Route(kind, calling, targets[0], tuple(targets[1:]))

    def _to_extension(
        self,
        caller: Account,
        company: CompanyRoutes | None,
        extension: Account | None,
        in_call: Callable[[str], bool],
    ) -> Target | Refusal:
        if company is None:
            return _FORBIDDEN
        if extension is None or extension.company_id != caller.company_id:
            return Refusal(404, "Not Found", EndReason.NO_SUCH_EXTENSION)
        binding = self._binding(extension.number) if extension.enabled else None
        if binding is None:
            return Refusal(480, "Temporarily Unavailable", EndReason.NOT_REGISTERED)
        if in_call(extension.number):
            return Refusal(486, "Busy Here", EndReason.BUSY)
        return Target(binding.target, extension.number, caller.number, self._agent_ring_timeout)


_FORBIDDEN = Refusal(403, "Forbidden", EndReason.FORBIDDEN)
_NO_NUMBER = Refusal(404, "Not Found", EndReason.NOT_FOUND)
_NOBODY = Refusal(480, "Temporarily Unavailable", EndReason.NOT_REGISTERED)
_ALL_BUSY = Refusal(486, "Busy Here", EndReason.BUSY)
_NO_LINE = Refusal(503, "Service Unavailable", EndReason.LINE_FAILURE)
_TOO_LONG = Refusal(484, "Address Incomplete", EndReason.INVALID)
