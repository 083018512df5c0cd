"""Routing a registered phone's own call, and a carrier's call to a company's number, by
the table the SIP process holds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason
from callyard.switch.commands import Target
from callyard.switch.registrar import Account, Binding
from callyard.switch.routing import (
    CompanyRoutes,
    NumberRoute,
    PbxRoute,
    Queue,
    Refusal,
    Route,
    Router,
    RoutingTable,
    TrunkRoute,
)

PHONE = ("127.0.0.1", 5062)
ACCOUNTS = {
    number: Account(number, company_id, "secret", enabled)
    for number, company_id, enabled in (
        ("1001", 1, True),
        ("1002", 1, True),
        ("1003", 1, False),
        ("1004", 1, True),  # never registered
        ("2001", 2, True),  # another company's
        ("3001", 3, True),  # a company with neither trunk nor caller ID
    )
}
COMPANIES = {
    1: CompanyRoutes(
        100, "one", TrunkRoute("127.0.0.1", 5080, "user", "pass"), ("622150001", "622150002")
    ),
    2: CompanyRoutes(200, "two", TrunkRoute("127.0.0.1", 5090), ("722150001",)),
    3: CompanyRoutes(300, "three", None, ()),
}


def registered(number: str) -> Binding | None:
    if number == "1004":
        return None
    return Binding(
        number,
        ACCOUNTS[number].company_id,
        f"sip:{number}@127.0.0.1:5062",
        PHONE,
        1e12,
        datetime.now(UTC),
        "phone",
    )


def router(table: RoutingTable | None = None) -> Router:
    return Router(
        table or RoutingTable(ACCOUNTS, COMPANIES),
        registered,
        ring_timeout=60,
        agent_ring_timeout=30,
        choose=lambda pool: pool[-1],
    )


def route(dialed: str, caller: str = "1001", busy: frozenset[str] = frozenset()) -> Route:
    return router().route(ACCOUNTS[caller], dialed, busy.__contains__)


def refusal(status: int, cause: EndReason) -> Refusal:
    reasons = {
        403: "Forbidden",
        404: "Not Found",
        480: "Temporarily Unavailable",
        484: "Address Incomplete",
        486: "Busy Here",
        503: "Service Unavailable",
    }
    return Refusal(status, reasons[status], cause)


def test_an_extension_of_the_company_is_rung_where_it_registered() -> None:
    assert route("1002") == Route(CallKind.INTERNAL, "1001", Target(PHONE, "1002", "1001", 30))


def test_extensions_that_cannot_take_the_call_are_refused_with_their_cause() -> None:
    to_extension = CallKind.INTERNAL
    assert route("1003") == Route(to_extension, "1001", refusal(480, EndReason.NOT_REGISTERED))
    assert route("1004") == Route(to_extension, "1001", refusal(480, EndReason.NOT_REGISTERED))
    assert route("1002", busy=frozenset({"1002"})) == Route(
        to_extension, "1001", refusal(486, EndReason.BUSY)
    )
    assert route("2001") == Route(to_extension, "1001", refusal(404, EndReason.NO_SUCH_EXTENSION))
    # Not an extension and not a phone number either.
    assert route("sales") == Route(to_extension, "1001", refusal(404, EndReason.NO_SUCH_EXTENSION))


def test_a_dialed_string_longer_than_any_number_is_refused_as_incomplete() -> None:
    longest = "+" + "8" * 32
    assert route(longest).destination == Target(
        ("127.0.0.1", 5080), longest, "622150002", 60, "user", "pass"
    )
    assert route(longest + "8") == Route(CallKind.INTERNAL, "1001", refusal(484, EndReason.INVALID))


def test_a_phone_number_goes_out_through_the_company_trunk_showing_a_pool_number() -> None:
    assert route("+8613800000000") == Route(
        CallKind.PHONE_OUTBOUND,
        "622150002",
        Target(("127.0.0.1", 5080), "+8613800000000", "622150002", 60, "user", "pass"),
    )
    assert route("13800000000", caller="2001").destination == Target(
        ("127.0.0.1", 5090), "13800000000", "722150001", 60
    )


def test_a_phone_number_is_refused_without_a_trunk_or_a_caller_id() -> None:
    assert route("13800000000", caller="3001") == Route(
        CallKind.PHONE_OUTBOUND, "", refusal(503, EndReason.LINE_FAILURE)
    )
    no_pool = dict(COMPANIES)
    no_pool[1] = CompanyRoutes(100, "one", TrunkRoute("127.0.0.1", 5080), ())
    routed = router(RoutingTable(ACCOUNTS, no_pool)).route(
        ACCOUNTS["1001"], "13800000000", frozenset[str]().__contains__
    )
    assert routed.destination == refusal(503, EndReason.LINE_FAILURE)


def test_a_caller_whose_company_is_unknown_is_forbidden() -> None:
    table = RoutingTable(ACCOUNTS, {2: COMPANIES[2]})
    for dialed in ("1002", "13800000000"):
        routed = router(table).route(ACCOUNTS["1001"], dialed, frozenset[str]().__contains__)
        assert routed.destination == refusal(403, EndReason.FORBIDDEN)


def test_a_new_table_takes_effect_for_the_next_call() -> None:
    routes = router(RoutingTable(ACCOUNTS, {**COMPANIES, 1: COMPANIES[3]}))
    caller = ACCOUNTS["1001"]
    first = routes.route(caller, "13800000000", frozenset[str]().__contains__)
    assert isinstance(first.destination, Refusal)
    routes.table = RoutingTable(ACCOUNTS, COMPANIES)
    second = routes.route(caller, "13800000000", frozenset[str]().__contains__)
    assert isinstance(second.destination, Target)
    assert routes.account("1002") == ACCOUNTS["1002"]


CARRIER = ("198.51.100.7", 5060)
CARRIED = {
    1: replace(COMPANIES[1], carriers=frozenset({CARRIER})),
    2: replace(COMPANIES[2], carriers=frozenset({("203.0.113.9", 5060)})),
}
NUMBERS = {
    "+622150001": NumberRoute(1, "+622150001", ("1001",), group=False),
    "622150009": NumberRoute(1, "622150009", ("1004", "1002", "1001"), group=True),
    "722150001": NumberRoute(2, "722150001", ("2001",), group=False),
    "+622150010": NumberRoute(1, "+622150010", ("1001", "1002"), group=True, queued=True),
    "622150011": NumberRoute(1, "622150011", (), group=True, queued=True),
}


def carrier_call(
    dialed: str,
    source: tuple[str, int] = CARRIER,
    calling: str = "628111",
    busy: frozenset[str] = frozenset(),
) -> tuple[int, Route] | None:
    table = RoutingTable(ACCOUNTS, {**COMPANIES, **CARRIED}, NUMBERS)
    return router(table).from_carrier(source, dialed, calling, busy.__contains__)


def test_a_carriers_call_goes_where_the_numbers_route_says() -> None:
    # The number as stored with '+', dialed without it (carriers differ).
    company, routed = carrier_call("622150001") or (0, None)
    assert routed is not None
    assert (company, routed.kind, routed.caller_id) == (1, CallKind.INBOUND_EXTENSION, "628111")
    assert isinstance(routed.destination, Target)
    assert (routed.destination.user, routed.then) == ("1001", ())


def test_a_group_rings_its_reachable_idle_members_in_turn() -> None:
    company, routed = carrier_call("622150009", busy=frozenset({"1002"})) or (0, None)
    assert routed is not None
    assert (company, routed.kind) == (1, CallKind.INBOUND_GROUP)
    # 1004 is not registered and 1002 is in a call: 1001 alone is left.
    assert isinstance(routed.destination, Target)
    assert (routed.destination.user, routed.then) == ("1001", ())
    _, everyone = carrier_call("622150009") or (0, None)
    assert everyone is not None
    assert isinstance(everyone.destination, Target)
    assert [t.user for t in (everyone.destination, *everyone.then)] == ["1002", "1001"]
    _, nobody = carrier_call("622150009", busy=frozenset({"1001", "1002"})) or (0, None)
    assert nobody is not None
    assert nobody.destination == refusal(486, EndReason.BUSY)


def test_a_queued_numbers_call_is_held_for_services_whoever_is_free() -> None:
    queued = (1, Route(CallKind.INBOUND_GROUP, "628111", Queue()))
    # Dialed with or without its '+'; members idle, all in a call, or none at all.
    assert carrier_call("622150010") == queued
    assert carrier_call("+622150010", busy=frozenset({"1001", "1002"})) == queued
    assert carrier_call("622150011") == (1, Route(CallKind.INBOUND_GROUP, "628111", Queue()))
    # Still only from the company's own carrier.
    assert carrier_call("622150010", source=("203.0.113.9", 5060)) == (
        0,
        Route(CallKind.INBOUND_EXTENSION, "628111", refusal(404, EndReason.NOT_FOUND)),
    )
    assert carrier_call("622150010", source=("192.0.2.1", 5060)) is None


def test_only_a_companys_own_carrier_reaches_its_numbers() -> None:
    # Company 2's carrier calling company 1's number, an unknown number: 404.
    assert carrier_call("622150001", source=("203.0.113.9", 5060)) == (
        0,
        Route(CallKind.INBOUND_EXTENSION, "628111", refusal(404, EndReason.NOT_FOUND)),
    )
    assert carrier_call("622150404") == (
        0,
        Route(CallKind.INBOUND_EXTENSION, "628111", refusal(404, EndReason.NOT_FOUND)),
    )
    # From anywhere else it is a phone's call, authenticated as one.
    assert carrier_call("622150001", source=("192.0.2.1", 5060)) is None
    # A carrier's host, another port: a carrier's unless the caller is an extension.
    assert carrier_call("622150001", source=(CARRIER[0], 5099)) is not None
    assert carrier_call("622150001", source=(CARRIER[0], 5099), calling="1002") is None


# A company's own PBX: by address, by credentials.
OFFICE = PbxRoute(1, "office", "192.0.2.10", None)
DIALER = PbxRoute(1, "dialer", None, Account("acme-dialer", 1, "dialer-secret", True))
NO_LINE_PBX = PbxRoute(3, "small", "192.0.2.30", None)
WITH_PBXES = RoutingTable(ACCOUNTS, COMPANIES, pbxes=(OFFICE, DIALER, NO_LINE_PBX))


def test_a_pbx_is_known_by_its_address_or_its_username() -> None:
    assert WITH_PBXES.pbx_at("192.0.2.10") == OFFICE
    assert WITH_PBXES.pbx_at("192.0.2.11") is None
    assert WITH_PBXES.pbx_of("acme-dialer") == DIALER
    # Its credentials are an account the registrar checks, besides the extensions'.
    routes = router(WITH_PBXES)
    assert routes.account("acme-dialer") == DIALER.account
    assert routes.account("1001") == ACCOUNTS["1001"]
    assert routes.account("office") is None


def test_a_pbxs_call_goes_out_through_the_companys_trunk() -> None:
    routes = router(WITH_PBXES)
    own = routes.route_pbx(OFFICE, "628123456789", "+622150002")
    assert own.kind is CallKind.PBX_OUTBOUND
    assert own.caller_id == "622150002"  # its caller is the company's: shown
    assert isinstance(own.destination, Target)
    assert own.destination.address == ("127.0.0.1", 5080)
    assert own.destination.user == "628123456789"
    assert own.destination.caller_id == "622150002"
    foreign = routes.route_pbx(DIALER, "628123456789", "02150009999")
    assert foreign.caller_id in COMPANIES[1].caller_ids  # not the company's: one of its


def test_a_pbxs_call_that_cannot_go_out_is_refused() -> None:
    routes = router(WITH_PBXES)
    cases = [
        (OFFICE, "1" * 40, 484),  # too long
        (OFFICE, "sales", 404),
        (NO_LINE_PBX, "628123456789", 503),  # no trunk, no caller ID
        (PbxRoute(9, "gone", None, None), "628123456789", 403),  # no such company
    ]
    for pbx, dialed, status in cases:
        refused = routes.route_pbx(pbx, dialed, "622150001").destination
        assert isinstance(refused, Refusal), (pbx.name, dialed)
        assert refused.status == status, (pbx.name, dialed)
