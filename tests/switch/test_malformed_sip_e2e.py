"""Malformed SIP at a running `callyard serve`: answered 400 where it can be, logged as
few JSON lines, and harmless to the phones."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator

import pytest

from callyard.switch.sdp import build
from callyard.switch.sippy_log import DATAGRAM_BYTES, LINES_PER_WINDOW, WINDOW_SECONDS
from callyard.testing.sip import LOOPBACK, running
from tests.switch.pbx import AGENT, SECOND_AGENT, Pbx
from tests.switch.raw_sip import SipSocket, authorization

pytestmark = pytest.mark.sip

DATAGRAMS = 3000


def mutants(sender: SipSocket, rng: random.Random, count: int) -> Iterator[bytes]:
    """Requests and a response as phones send them, each broken a random way."""
    forged = authorization(AGENT, "guess", "18a88.79ddeeafc470.f6a9490e380f64f21e291863", "x")
    templates = [
        sender.request("REGISTER", AGENT, {"Authorization": forged}),
        sender.request(
            "INVITE", AGENT, uri=f"sip:{SECOND_AGENT}@{LOOPBACK}", body=build(LOOPBACK, 4000)
        ),
        sender.request("OPTIONS", AGENT),
        sender.request("BYE", AGENT, {"To": f"<sip:{AGENT}@{LOOPBACK}>;tag=1"}),
        "SIP/2.0 200 OK\r\n" + sender.request("INVITE", AGENT).split("\r\n", 1)[1],
    ]
    junk = [b"", b"\x00", b"\xff\xfe", b"9" * 5000, b":", b";;;", b"<sip:", b'"', b"\r\n "]
    for _ in range(count):
        data = bytearray(rng.choice(templates).encode())
        way = rng.randrange(6)
        if way == 0:  # bytes overwritten
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif way == 1:  # cut short
            del data[rng.randrange(len(data)) :]
        elif way in (2, 3):  # a line dropped, or its value replaced by junk
            lines = bytes(data).split(b"\r\n")
            index = rng.randrange(len(lines))
            if way == 2:
                del lines[index]
            else:
                name = lines[index].split(b":", 1)[0]
                lines[index] = name + b": " + rng.choice(junk)
            data = bytearray(b"\r\n".join(lines))
        elif way == 4:  # junk inserted
            at = rng.randrange(len(data))
            data[at:at] = rng.choice(junk)
        else:  # noise
            data = bytearray(rng.randbytes(rng.randint(1, 1400)))
        yield bytes(data[:8000])


def test_a_flood_of_malformed_sip_is_logged_briefly_and_harms_no_phone(pbx: Pbx) -> None:
    server = (LOOPBACK, pbx.server.sip_port)
    printed = pbx.server.stdout
    started = time.monotonic()
    with SipSocket(server, ("127.0.0.3", 0)) as flood:
        for datagram in mutants(flood, random.Random(5060), DATAGRAMS):
            flood.send(datagram)
    with SipSocket(server, ("127.0.0.4", 0)) as client:
        for name, value in [
            ("From", "<sip:10010001@127.0.0.1;tag=1"),
            ("To", '"unterminated <sip:10010001@127.0.0.1>'),
            ("CSeq", "one REGISTER"),
            ("Expires", "soon"),
        ]:
            answer = client.ask(client.request("REGISTER", AGENT, {name: value}))
            assert (answer.status, answer.reason) == (400, f"Bad Request (bad {name} header)")
    elapsed = time.monotonic() - started
    agent, other = pbx.phone(AGENT), pbx.phone(SECOND_AGENT)
    with running(agent, other):
        agent.wait_registered()
        other.wait_registered()
        pbx.call(agent, other)
    assert pbx.server.stdout == printed  # nothing printed: everything is logged
    logged = [json.loads(line) for line in pbx.server.stderr.splitlines()]
    problems = [entry for entry in logged if entry["logger"] == "callyard.switch.sip"]
    assert 0 < len(problems) <= (elapsed / WINDOW_SECONDS + 2) * (LINES_PER_WINDOW + 1)
    assert not [entry for entry in problems if "exc" in entry]  # parse errors: no traceback
    assert all(len(entry.get("datagram", "")) <= DATAGRAM_BYTES for entry in problems)
