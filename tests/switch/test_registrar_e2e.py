"""The registrar's limits against guessers and forged sources, through `callyard serve`:
raw REGISTERs from several loopback addresses, and baresip as the rightful phone."""

from __future__ import annotations

import contextlib
import itertools
import json

import pytest

from tests.switch.pbx import AGENT, Pbx
from tests.switch.raw_sip import SipSocket, authorization

pytestmark = pytest.mark.sip


def test_forged_sources_cannot_block_an_address(pbx: Pbx) -> None:
    """Answers to nonces never issued to 127.0.0.1, as anyone can send with that source
    address, are challenged again; the phone there still registers."""
    server = ("127.0.0.1", pbx.server.sip_port)
    with SipSocket(server, ("127.0.0.2", 0)) as elsewhere, SipSocket(server) as forger:
        nonces = ["18a88.79ddeeafc470.f6a9490e380f64f21e291863", elsewhere.nonce(AGENT)]
        for nonce in nonces * 10:
            guess = {"Authorization": authorization(AGENT, "guess", nonce, forger.uri)}
            answer = forger.ask(forger.request("REGISTER", AGENT, guess))
            assert answer.status == 401
    phone = pbx.phone(AGENT)
    with phone:
        phone.wait_registered()


def locked_out(guesser: SipSocket) -> bool:
    """Whether the extension is refused from the guesser's address without a challenge."""
    return guesser.ask(guesser.request("REGISTER", AGENT)).status == 403


def test_guessing_from_many_addresses_locks_the_extension_out_but_for_its_phone(
    pbx: Pbx,
) -> None:
    server = ("127.0.0.1", pbx.server.sip_port)
    phone = pbx.phone(AGENT)
    with phone:
        phone.wait_registered()
    with contextlib.ExitStack() as sockets:
        guessers = [
            sockets.enter_context(SipSocket(server, (f"127.0.0.{n}", 0))) for n in range(2, 11)
        ]
        for _ in range(5):
            # Round robin, fewer than ten guesses an address, until the extension is
            # refused from elsewhere.
            for guesser in itertools.islice(itertools.cycle(guessers), 45):
                if locked_out(guesser):
                    break
                assert guesser.register(AGENT, "guess").status == 403
            else:
                pytest.fail("guessing from many addresses never locked the extension out")
            # Its phone registers again, at the address it registered from. No failure is
            # counted meanwhile: refused before and after, it was locked out all along.
            again = pbx.phone(AGENT)
            with again:
                again.wait_registered()
            if locked_out(guessers[0]):
                break
        else:
            pytest.fail("the lockout always ended before the phone registered")
    blocked = [json.loads(line) for line in pbx.server.stderr.splitlines() if "blocked" in line]
    assert {(line["msg"], line["user"]) for line in blocked} == {("SIP extension blocked", AGENT)}
