"""The registrar's decisions, with the digest computed as a phone would."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from callyard.switch.digest import Credentials, DigestAuthority, expected_response
from callyard.switch.events import Registered, SwitchEvent, Unregistered
from callyard.switch.registrar import Account, RegisterRequest, Registrar, Reply, uri_key

SOURCE = ("127.0.0.1", 5070)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def events() -> list[SwitchEvent]:
    return []


@pytest.fixture
def accounts() -> dict[str, Account]:
    return {
        "1001": Account("1001", 7, "secret-1", True),
        "1002": Account("1002", 7, "secret-2", False),
    }


@pytest.fixture
def registrar(clock: Clock, events: list[SwitchEvent], accounts: dict[str, Account]) -> Registrar:
    return Registrar(
        accounts.get,
        DigestAuthority("callyard", clock),
        clock,
        lambda: datetime(2026, 1, 1, tzinfo=UTC),
        events.append,
    )


def register(
    registrar: Registrar,
    user: str,
    password: str,
    *,
    expires: int | None = 600,
    contact: str | None = "sip:{user}@127.0.0.1:5070",
    source: tuple[str, int] = SOURCE,
    request_uri: str | None = None,
) -> Reply:
    """A REGISTER, its 401, and the authenticated REGISTER, as a phone sends them."""
    contact = contact.format(user=user) if contact else None
    first = registrar.register(RegisterRequest(user, contact, expires, None, source))
    assert first.status == 401
    challenge = dict(first.headers)["WWW-Authenticate"]
    nonce = re.search(r'nonce="([^"]+)"', challenge)
    assert nonce
    creds = Credentials(
        user, "callyard", nonce.group(1), "sip:127.0.0.1", "", "MD5", "auth", "00000001", "c0ffee"
    )
    digest = expected_response(creds, password, "REGISTER")
    header = (
        f'Digest username="{user}",realm="callyard",nonce="{creds.nonce}",uri="sip:127.0.0.1",'
        f'response="{digest}",qop=auth,nc=00000001,cnonce="c0ffee"'
    )
    return registrar.register(
        RegisterRequest(user, contact, expires, header, source, request_uri=request_uri)
    )


def test_register_binds_until_expiry(
    registrar: Registrar, clock: Clock, events: list[SwitchEvent]
) -> None:
    reply = register(registrar, "1001", "secret-1")
    assert reply.status == 200
    assert dict(reply.headers)["Contact"] == "<sip:1001@127.0.0.1:5070>;expires=600"
    binding = registrar.binding("1001")
    assert binding is not None
    assert binding.source == SOURCE
    assert binding.company_id == 7
    assert isinstance(events[0], Registered)
    clock.now += 599
    assert registrar.binding("1001") is not None
    clock.now += 1
    registrar.expire()
    assert registrar.binding("1001") is None
    assert isinstance(events[-1], Unregistered)
    assert events[-1].reason == "expired"


def test_unknown_disabled_and_wrong_password_look_the_same(registrar: Registrar) -> None:
    replies = [
        register(registrar, "1001", "wrong"),
        register(registrar, "1002", "secret-2"),  # disabled
        register(registrar, "4040", "anything"),  # no such extension
    ]
    assert {(r.status, r.reason, r.headers) for r in replies} == {(403, "Forbidden", ())}
    assert registrar.binding("1002") is None


def test_expires_zero_unregisters(registrar: Registrar, events: list[SwitchEvent]) -> None:
    assert register(registrar, "1001", "secret-1").status == 200
    assert register(registrar, "1001", "secret-1", expires=0).status == 200
    assert registrar.binding("1001") is None
    assert isinstance(events[-1], Unregistered)


def test_too_brief_and_too_long_intervals(registrar: Registrar) -> None:
    brief = register(registrar, "1001", "secret-1", expires=30)
    assert brief.status == 423
    assert dict(brief.headers)["Min-Expires"] == "60"
    long = register(registrar, "1001", "secret-1", expires=86400)
    assert dict(long.headers)["Contact"].endswith(";expires=3600")


def test_repeated_failures_from_one_address_are_throttled(registrar: Registrar) -> None:
    attacker = ("198.51.100.9", 5060)
    for _ in range(10):
        assert register(registrar, "1001", "guess", source=attacker).status == 403
    # Even the right password is refused from that address now, without a challenge...
    blocked = registrar.register(RegisterRequest("1001", "sip:1001@x", 600, None, attacker))
    assert blocked.status == 403
    # ...while other addresses are unaffected.
    assert register(registrar, "1001", "secret-1").status == 200


def test_disabling_drops_the_binding(registrar: Registrar, accounts: dict[str, Account]) -> None:
    assert register(registrar, "1001", "secret-1").status == 200
    accounts["1001"] = Account("1001", 7, "secret-1", False)
    assert registrar.binding("1001") is None


def test_credentials_must_be_for_the_request_uri(registrar: Registrar) -> None:
    """The digest's uri (here sip:127.0.0.1) must name the request's own URI."""
    ok = register(registrar, "1001", "secret-1", request_uri="sip:127.0.0.1:5060;transport=udp")
    assert ok.status == 200
    refused = register(registrar, "1001", "secret-1", request_uri="sip:192.0.2.7")
    assert refused.status == 400
    assert "Request-URI" in refused.reason
    for _ in range(12):  # a misconfigured phone does not get its address blocked
        register(registrar, "1001", "secret-1", request_uri="sip:192.0.2.7")
    assert register(registrar, "1001", "secret-1", request_uri="sip:127.0.0.1").status == 200


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("sip:1001@Example.com", "sip:1001@example.com:5060", True),
        ("<sip:1001@10.0.0.1;transport=udp>", "sip:1001@10.0.0.1", True),
        ("sips:[2001:db8::1]", "sips:[2001:db8::1]:5061", True),
        ("sip:1001@10.0.0.1", "sip:1002@10.0.0.1", False),
        ("sip:1001@10.0.0.1:5070", "sip:1001@10.0.0.1", False),
        ("sip:10.0.0.1", "sips:10.0.0.1", False),
    ],
)
def test_uri_spellings(one: str, other: str, same: bool) -> None:
    assert (uri_key(one) == uri_key(other)) is same
