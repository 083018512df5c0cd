"""The registrar's decisions, with the digest computed as a phone would."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from callyard.switch.digest import Credentials, DigestAuthority, expected_response
from callyard.switch.events import Registered, SwitchEvent, Unregistered
from callyard.switch.registrar import Account, RegisterRequest, Registrar, Reply, uri_key
from callyard.switch.websocket import Connections

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


def attempt(registrar: Registrar, user: str, source: tuple[str, int]) -> Reply:
    """A REGISTER without credentials: challenged, or refused while blocked."""
    return registrar.register(RegisterRequest(user, f"sip:{user}@x", 600, None, source))


def address(n: int) -> tuple[str, int]:
    return (f"198.51.100.{n}", 5060)


def test_an_address_is_blocked_after_its_failures_even_with_the_right_password(
    registrar: Registrar, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    attacker = address(9)
    for n in range(10):  # one guess at each of ten usernames
        assert register(registrar, f"40{n}", "guess", source=attacker).status == 403
    # Refused without a challenge (the digest is not looked at), and not counted...
    for _ in range(50):
        assert attempt(registrar, "1001", attacker) == Reply(403, "Forbidden")
    # ...while other addresses are unaffected.
    assert register(registrar, "1001", "secret-1").status == 200
    clock.now += 300
    assert attempt(registrar, "1001", attacker).status == 401
    blocks = [r for r in caplog.records if r.getMessage() == "SIP address blocked"]
    assert [(r.__dict__["ip"], r.__dict__["seconds"]) for r in blocks] == [("198.51.100.9", 300)]


def test_slow_guessing_from_one_address_is_blocked(registrar: Registrar, clock: Clock) -> None:
    attacker = address(9)
    for _ in range(10):  # one guess a minute
        clock.now += 60
        assert register(registrar, "1001", "guess", source=attacker).status == 403
    clock.now += 299
    assert attempt(registrar, "1001", attacker).status == 403
    clock.now += 2
    assert register(registrar, "1001", "guess", source=attacker).status == 403
    clock.now += 301  # a failure after a block doubles the next one
    assert attempt(registrar, "1001", attacker).status == 403


def test_an_extension_guessed_from_many_addresses_is_locked_out_but_for_its_phone(
    registrar: Registrar, clock: Clock
) -> None:
    assert register(registrar, "1001", "secret-1").status == 200  # its phone, at SOURCE
    for n in range(5):
        assert register(registrar, "1001", "guess", source=address(n)).status == 403
    # Refused from any other address, even with the right password...
    for n in range(5, 9):
        assert attempt(registrar, "1001", address(n)) == Reply(403, "Forbidden")
    # ...but not from where the extension registered, nor for other extensions.
    assert register(registrar, "1001", "secret-1").status == 200
    assert attempt(registrar, "1002", address(5)).status == 401
    # The block grows with each failure after it: 1 s, then 2 s.
    clock.now += 1
    assert register(registrar, "1001", "guess", source=address(5)).status == 403
    clock.now += 1
    assert attempt(registrar, "1001", address(6)).status == 403
    clock.now += 1
    assert register(registrar, "1001", "secret-1", source=address(6)).status == 200


@pytest.mark.parametrize("user", ["1001", "4040"])
def test_unknown_users_are_answered_and_limited_like_extensions(
    registrar: Registrar, clock: Clock, user: str
) -> None:
    replies = [register(registrar, user, "guess", source=address(n)) for n in range(5)]
    replies += [attempt(registrar, user, address(n)) for n in range(5, 8)]
    clock.now += 1
    replies += [attempt(registrar, user, address(8))]
    assert [(r.status, r.reason, [name for name, _ in r.headers]) for r in replies] == [
        *[(403, "Forbidden", [])] * 8,
        (401, "Unauthorized", ["WWW-Authenticate"]),
    ]


def forged(registrar: Registrar, user: str, source: tuple[str, int], nonce: str) -> Reply:
    """A REGISTER answering a challenge it was never given."""
    header = (
        f'Digest username="{user}",realm="callyard",nonce="{nonce}",uri="sip:127.0.0.1",'
        'response="00000000000000000000000000000000",qop=auth,nc=00000001,cnonce="c0ffee"'
    )
    return registrar.register(RegisterRequest(user, f"sip:{user}@x", 600, header, source))


def nonce_of(reply: Reply) -> str:
    found = re.search(r'nonce="([^"]+)"', dict(reply.headers)["WWW-Authenticate"])
    assert found
    return found.group(1)


def test_answers_to_nonces_not_issued_to_the_source_are_challenged_not_counted(
    registrar: Registrar,
) -> None:
    """What a forged source address can send: it never sees the nonces issued to it."""
    elsewhere = nonce_of(attempt(registrar, "1001", address(7)))
    for nonce in ["18a88.79ddeeafc470.f6a9490e380f64f21e291863", "x", elsewhere] * 10:
        reply = forged(registrar, "1001", SOURCE, nonce)
        assert (reply.status, "WWW-Authenticate" in dict(reply.headers)) == (401, True)
    assert register(registrar, "1001", "secret-1").status == 200


def test_limits_forget_failing_sources_after_a_quiet_spell(
    registrar: Registrar, clock: Clock
) -> None:
    for n in range(3000):
        source = (f"10.{n // 250}.{n % 250}.1", 5060)
        assert register(registrar, f"9{n}", "guess", source=source).status == 403
    assert (len(registrar.limits.by_address), len(registrar.limits.by_key)) == (3000, 3000)
    clock.now += 901
    assert register(registrar, "1001", "guess", source=address(1)).status == 403
    assert (len(registrar.limits.by_address), len(registrar.limits.by_key)) == (1, 1)


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


def test_a_browsers_binding_points_at_its_connection_and_goes_with_it(
    registrar: Registrar, events: list[SwitchEvent]
) -> None:
    connection = "6f1c2a8e-0b7d-4a57-9a43-5d1e2f3a4b5c.invalid"
    contact = f"sip:k3j2h1@{connection};transport=ws"
    assert register(registrar, "1001", "secret-1", contact=contact).status == 200
    binding = registrar.binding("1001")
    assert binding is not None
    assert binding.target == (connection, 0)
    registrar.connection_closed("another.invalid")  # someone else's tab
    assert registrar.binding("1001") is not None
    registrar.connection_closed(connection)
    assert registrar.binding("1001") is None
    assert isinstance(events[-1], Unregistered)
    assert events[-1].reason == "closed"


def test_a_browser_that_registers_from_a_new_connection_takes_what_went_to_its_old_one(
    registrar: Registrar,
) -> None:
    moves: list[tuple[str, str]] = []
    registrar.reconnected = lambda old, new: moves.append((old, new))
    old, new = "old-tab.invalid", "new-tab.invalid"
    assert (
        register(registrar, "1001", "secret-1", contact=f"sip:a@{old};transport=ws").status == 200
    )
    registrar.connection_closed(old)
    assert (
        register(registrar, "1001", "secret-1", contact=f"sip:b@{new};transport=ws").status == 200
    )
    assert moves == [(old, new)]
    # A phone on UDP later is not a browser's new connection.
    registrar.connection_closed(new)
    assert register(registrar, "1001", "secret-1").status == 200
    assert moves == [(old, new)]


def test_a_closed_connections_name_finds_the_one_that_took_its_place() -> None:
    closed: list[str] = []
    connections = Connections(closed.append)
    connections["b.invalid"] = "socket b"
    connections.moved.update({"a.invalid": "b.invalid"})
    assert "a.invalid" in connections
    assert connections["a.invalid"] == "socket b"
    del connections["b.invalid"]
    assert closed == ["b.invalid"]
    assert "a.invalid" not in connections
