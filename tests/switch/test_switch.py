"""The server's side of the switch without its SIP process: what it keeps from events."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime

import pytest

from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party
from callyard.services.routing_book import RoutingBook
from callyard.switch.events import CallEnded, IncomingCall, Unregistered
from callyard.switch.link import BindingMade
from callyard.switch.registrar import Account, Binding
from callyard.switch.routing import CompanyRoutes, RoutingTable, TrunkRoute
from callyard.switch.switch import Switch
from callyard.testing.sip import free_udp_port


def switch_of(container: Container) -> Switch:
    return Switch(
        RoutingBook(container.db, container.directory),
        ("127.0.0.1", free_udp_port()),
    )


def binding(number: str, seconds: float = 60) -> Binding:
    return Binding(
        number=number,
        company_id=1,
        contact=f"sip:{number}@127.0.0.1:5062",
        source=("127.0.0.1", 5062),
        expires_at=time.monotonic() + seconds,
        registered_at=datetime.now(UTC),
        user_agent="phone",
    )


async def test_a_phones_call_keeps_both_extensions_in_a_call_until_it_ends(
    container: Container,
) -> None:
    switch = switch_of(container)
    method = CallKind.INTERNAL
    switch._received(IncomingCall(time.monotonic(), "call-1", 1, "1001", "1002", method, "1001"))
    assert switch.in_call("1001")
    assert switch.in_call("1002")
    switch._received(
        CallEnded(time.monotonic(), "call-1", EndReason.CANCELLED, Party.CALLER, None, None)
    )
    assert not switch.in_call("1001")
    assert not switch.in_call("1002")


async def test_bindings_are_kept_as_reported_until_unregistered_or_expired(
    container: Container,
) -> None:
    switch = switch_of(container)
    switch.routing.table = RoutingTable(
        accounts={
            "1001": Account("1001", 1, "secret", True),
            "1002": Account("1002", 1, "secret", False),
            "1003": Account("1003", 1, "secret", True),
        }
    )
    for number, seconds in (("1001", 60), ("1002", 60), ("1003", -1)):
        switch._received(BindingMade(binding(number, seconds)))
    assert switch.binding("1001") is not None
    assert switch.binding("1002") is None  # disabled since
    assert switch.binding("1003") is None  # expired
    registration = switch.registration("1001")
    assert registration is not None
    assert (registration.client_ip, registration.user_agent) == ("127.0.0.1", "phone")
    switch._received(Unregistered(time.monotonic(), "1001", 1, "unregistered"))
    assert switch.binding("1001") is None


async def test_relay_stats_of_a_stopped_switch_are_none(container: Container) -> None:
    assert await switch_of(container).media_stats("call-1") is None


async def test_a_switch_whose_port_is_taken_does_not_start(container: Container) -> None:
    switch = switch_of(container)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(switch.sip_address)
        with pytest.raises(RuntimeError, match="is in use"):
            await switch.start()
    assert switch.sip_pid is not None
    with pytest.raises(ProcessLookupError):  # ended and reaped
        os.kill(switch.sip_pid, 0)
    assert await switch.media_stats("call-1") is None


async def test_the_sip_process_gets_a_new_routing_table_only_when_routes_change(
    container: Container,
) -> None:
    sent: list[RoutingTable] = []
    followed: list[int] = []
    book = RoutingBook(container.db, container.directory, sent.append, followed.append)
    await book.reload()
    sent.clear()
    company = await container.companies.create("book")
    await book.reload()
    assert len(sent) == 1
    company_id = next(
        id_ for id_, routes in book.table.companies.items() if routes.code == company.companycode
    )
    await container.extensions.create(company.companycode, ["70020001"], "secret-pass-1")
    await container.trunks.add(company.companycode, "main", "127.0.0.1", 5080, "user", "pass")
    await container.trunks.add(company.companycode, "spare", "127.0.0.2", 5080)
    await container.numbers.add(company.companycode, "622150001")
    await container.numbers.add(company.companycode, "622150002", enabled=False)
    await book.reload()
    await container.auth.login(company.appid, company.accesskey, "127.0.0.1")
    await book.reload()  # a login moves the store's revision, not the routes
    assert len(sent) == 2  # the company, then its routes
    # Every reload says which revision of the store the table follows (for /metrics).
    assert len(followed) == 4
    assert followed == sorted(followed)
    assert followed[-1] == await container.directory.revision()
    account = book.account("70020001")
    assert account is not None
    assert (account.company_id, account.password, account.enabled) == (
        company_id,
        "secret-pass-1",
        True,
    )
    assert book.company(company_id) == CompanyRoutes(
        company.companycode,
        "book",
        TrunkRoute("127.0.0.1", 5080, "user", "pass"),  # the first trunk carries calls
        ("622150001",),  # enabled numbers only
        # Carriers' calls are taken from where any of its trunks is.
        frozenset({("127.0.0.1", 5080), ("127.0.0.2", 5080)}),
    )
