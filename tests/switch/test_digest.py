"""Digest authentication: client-computed answers, expiring nonces bound to the address
they were issued to, no replays."""

from __future__ import annotations

import re

from callyard.switch.digest import (
    Credentials,
    DigestAuthority,
    Verdict,
    expected_response,
    parse_authorization,
)

PHONE = "192.0.2.10"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def answer(
    authority: DigestAuthority,
    user: str,
    password: str,
    nc: int = 1,
    nonce: str | None = None,
    ip: str = PHONE,
) -> Credentials:
    challenge = authority.challenge(ip)
    found = re.search(r'nonce="([^"]+)"', challenge)
    assert found
    blank = Credentials(
        username=user,
        realm="callyard",
        nonce=nonce or found.group(1),
        uri="sip:127.0.0.1",
        response="",
        qop="auth",
        nc=f"{nc:08x}",
        cnonce="0a4f113b",
    )
    header = (
        f'Digest username="{user}", realm="callyard", nonce="{blank.nonce}", '
        f'uri="sip:127.0.0.1", response="{expected_response(blank, password, "REGISTER")}", '
        f'qop=auth, nc={blank.nc}, cnonce="0a4f113b", algorithm=MD5'
    )
    parsed = parse_authorization(header)
    assert parsed is not None
    return parsed


def test_rfc2617_example_response() -> None:
    # The worked example of RFC 2617 section 3.5.
    creds = Credentials(
        username="Mufasa",
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        uri="/dir/index.html",
        response="",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert expected_response(creds, "Circle Of Life", "GET") == "6629fae49393a05397450978507c4ef1"


def test_good_answer_then_replay_then_higher_count() -> None:
    clock = Clock()
    authority = DigestAuthority("callyard", clock)
    creds = answer(authority, "1001", "secret")
    assert authority.verify(creds, "secret", "REGISTER", PHONE) is Verdict.OK
    assert authority.verify(creds, "secret", "REGISTER", PHONE) is Verdict.STALE  # replay
    again = answer(authority, "1001", "secret", nc=2, nonce=creds.nonce)
    assert authority.verify(again, "secret", "REGISTER", PHONE) is Verdict.OK


def test_wrong_password_and_unknown_user_are_bad() -> None:
    clock = Clock()
    authority = DigestAuthority("callyard", clock)
    guess = answer(authority, "1001", "guess")
    assert authority.verify(guess, "secret", "REGISTER", PHONE) is Verdict.BAD
    unknown = answer(authority, "1001", "secret")
    assert authority.verify(unknown, None, "REGISTER", PHONE) is Verdict.BAD


def test_a_nonce_not_issued_to_the_source_is_unknown_even_with_the_password() -> None:
    clock = Clock()
    authority = DigestAuthority("callyard", clock)
    forged = answer(DigestAuthority("callyard", clock), "1001", "secret")
    assert authority.verify(forged, "secret", "REGISTER", PHONE) is Verdict.UNKNOWN
    elsewhere = answer(authority, "1001", "secret", ip="198.51.100.7")
    assert authority.verify(elsewhere, "secret", "REGISTER", PHONE) is Verdict.UNKNOWN
    assert authority.verify(elsewhere, "secret", "REGISTER", "198.51.100.7") is Verdict.OK


def test_expired_nonce_is_stale_whatever_the_answer() -> None:
    clock = Clock()
    authority = DigestAuthority("callyard", clock, nonce_ttl=300)
    right, wrong = answer(authority, "1001", "secret"), answer(authority, "1001", "guess")
    clock.now += 301
    assert authority.verify(right, "secret", "REGISTER", PHONE) is Verdict.STALE
    assert authority.verify(wrong, "secret", "REGISTER", PHONE) is Verdict.STALE


def test_nonce_counts_are_forgotten_as_their_nonces_expire() -> None:
    clock = Clock()
    authority = DigestAuthority("callyard", clock, nonce_ttl=300)
    for _ in range(1000):
        creds = answer(authority, "1001", "secret")
        assert authority.verify(creds, "secret", "REGISTER", PHONE) is Verdict.OK
    assert authority.nonces_in_use == 1000
    clock.now += 301
    creds = answer(authority, "1001", "secret")
    assert authority.verify(creds, "secret", "REGISTER", PHONE) is Verdict.OK
    assert authority.nonces_in_use == 1


def test_nonce_counts_are_bounded_and_a_forgotten_nonce_is_stale() -> None:
    clock = Clock()
    authority = DigestAuthority("callyard", clock, max_nonces=10)
    first = answer(authority, "1001", "secret")
    assert authority.verify(first, "secret", "REGISTER", PHONE) is Verdict.OK
    for _ in range(50):
        clock.now += 1
        creds = answer(authority, "1001", "secret")
        assert authority.verify(creds, "secret", "REGISTER", PHONE) is Verdict.OK
    assert authority.nonces_in_use == 10
    assert authority.verify(first, "secret", "REGISTER", PHONE) is Verdict.STALE  # no replay


def test_parse_rejects_other_schemes() -> None:
    assert parse_authorization("Basic dXNlcjpwYXNz") is None
    assert parse_authorization('Digest username="a"') is None
