"""Digest authentication: client-computed answers, expiring nonces, no replays."""

from __future__ import annotations

import re

from callyard.switch.digest import (
    Credentials,
    DigestAuthority,
    Verdict,
    expected_response,
    parse_authorization,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def answer(
    authority: DigestAuthority, user: str, password: str, nc: int = 1, nonce: str | None = None
) -> Credentials:
    challenge = authority.challenge()
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
    assert authority.verify(creds, "secret", "REGISTER") is Verdict.OK
    assert authority.verify(creds, "secret", "REGISTER") is Verdict.STALE  # replay
    again = answer(authority, "1001", "secret", nc=2, nonce=creds.nonce)
    assert authority.verify(again, "secret", "REGISTER") is Verdict.OK


def test_wrong_password_unknown_user_and_forged_nonce_are_bad() -> None:
    clock = Clock()
    authority = DigestAuthority("callyard", clock)
    assert authority.verify(answer(authority, "1001", "guess"), "secret", "REGISTER") is Verdict.BAD
    assert authority.verify(answer(authority, "1001", "secret"), None, "REGISTER") is Verdict.BAD
    other = DigestAuthority("callyard", clock)
    forged = answer(other, "1001", "secret")
    assert authority.verify(forged, "secret", "REGISTER") is Verdict.BAD


def test_expired_nonce_is_stale() -> None:
    clock = Clock()
    authority = DigestAuthority("callyard", clock, nonce_ttl=300)
    creds = answer(authority, "1001", "secret")
    clock.now += 301
    assert authority.verify(creds, "secret", "REGISTER") is Verdict.STALE


def test_parse_rejects_other_schemes() -> None:
    assert parse_authorization("Basic dXNlcjpwYXNz") is None
    assert parse_authorization('Digest username="a"') is None
