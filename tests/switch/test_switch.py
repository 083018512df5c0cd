"""The server's side of the switch without its SIP process: what it keeps from events."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime

import pytest

from callyard.container import Container
from callyard.switch.accounts import AccountBook
from callyard.switch.commands import Target
from callyard.switch.events import CallEnded, IncomingCall, Unregistered
from callyard.switch.link import BindingMade
from callyard.switch.registrar import Account, Binding
from callyard.switch.switch import Switch
from tests.sip.harness import free_udp_port


def switch_of(container: Container) -> Switch:
    return Switch(
        container.db,
        container.directory,
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


async def test_a_phone_that_hangs_up_while_routed_is_not_left_in_a_call(
    container: Container,
) -> None:
    switch = switch_of(container)
    switch._received(IncomingCall(time.monotonic(), "call-1", 1, "1001", "1002"))
    assert switch.in_call("1001")
    switch._received(CallEnded(time.monotonic(), "call-1", 10002, 10040, None, None))
    # Services' answer comes after the call ended: nothing to connect, nobody busy.
    switch.connect("call-1", Target(("127.0.0.1", 5062), "1002", "622150001", 10))
    assert not switch.in_call("1001")
    assert not switch.in_call("1002")


async def test_bindings_are_kept_as_reported_until_unregistered_or_expired(
    container: Container,
) -> None:
    switch = switch_of(container)
    switch.accounts._accounts = {
        "1001": Account("1001", 1, "secret", True),
        "1002": Account("1002", 1, "secret", False),
        "1003": Account("1003", 1, "secret", True),
    }
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


async def test_only_a_change_of_the_extensions_reaches_the_sip_process(
    container: Container,
) -> None:
    sent: list[dict[str, Account]] = []
    book = AccountBook(container.db, container.directory, sent.append)
    await book.reload()
    company = await container.companies.create("book")
    await book.reload()
    assert sent == []  # a company alone changes no extension
    await container.extensions.create(company.companycode, ["70020001"], "secret-pass-1")
    await book.reload()
    await book.reload()
    assert [set(snapshot) for snapshot in sent] == [{"70020001"}]
    account = book.lookup("70020001")
    assert account is not None
    assert (account.password, account.enabled) == ("secret-pass-1", True)
