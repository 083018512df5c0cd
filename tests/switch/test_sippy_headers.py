"""Header names go out as the standards spell them; compact forms are read."""

from __future__ import annotations

import re

import pytest

from callyard.switch.sippy_headers import canonical_name, spell_headers_canonically
from tests.switch.pbx import AGENT, Pbx
from tests.switch.raw_sip import SipSocket, authorization


@pytest.mark.parametrize(
    ("name", "spelled"),
    [
        ("www-authenticate", "WWW-Authenticate"),
        ("proxy-authenticate", "Proxy-Authenticate"),
        ("min-expires", "Min-Expires"),
        ("session-expires", "Session-Expires"),
        ("min-se", "Min-SE"),
        ("call-id", "Call-ID"),
        ("cseq", "CSeq"),
        ("x-callyard-thing", "X-Callyard-Thing"),
    ],
)
def test_names_are_spelled_canonically(name: str, spelled: str) -> None:
    assert canonical_name(name) == spelled


def test_sippy_writes_canonical_names_and_reads_compact_forms() -> None:
    from sippy.SipGenericHF import SipGenericHF
    from sippy.SipHeader import SipHeader
    from sippy.SipRequest import SipRequest

    spell_headers_canonically()
    header = SipHeader(name="www-authenticate", body=SipGenericHF('Digest realm="x"'))
    assert str(header) == 'WWW-Authenticate: Digest realm="x"'
    request = SipRequest(
        "INVITE sip:1002@127.0.0.1 SIP/2.0\r\n"
        "v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
        "f: <sip:1001@127.0.0.1>;tag=1\r\nt: <sip:1002@127.0.0.1>\r\ni: abc@127.0.0.1\r\n"
        "CSeq: 1 INVITE\r\nm: <sip:1001@127.0.0.1:5070>\r\nk: timer\r\nx: 1800;refresher=uac\r\n"
        "l: 0\r\n\r\n"
    )
    assert str(request.getHFBody("from").getUrl().username) == "1001"
    assert str(request.getHFBody("call-id")) == "abc@127.0.0.1"
    assert str(request.getHFBody("supported")) == "timer"
    assert str(request.getHFBody("session-expires")) == "1800;refresher=uac"
    assert "Session-Expires: 1800;refresher=uac\r\n" in str(request)


_COMPACT = {"Via": "v", "From": "f", "To": "t", "Call-ID": "i", "Contact": "m"}


def compact(message: str) -> str:
    """`message` with the headers that have a compact form written in it."""
    for name, short in _COMPACT.items():
        message = re.sub(rf"^{name}:", f"{short}:", message, flags=re.M)
    return message


@pytest.mark.sip
def test_challenges_are_spelled_canonically_and_compact_requests_register(pbx: Pbx) -> None:
    with SipSocket(("127.0.0.1", pbx.server.sip_port)) as phone:
        challenge = phone.ask(compact(phone.request("REGISTER", AGENT)))
        assert challenge.status == 401
        assert re.search(r"\r\nWWW-Authenticate: Digest ", challenge.text), challenge.text
        nonce = re.search(r'nonce="([^"]+)"', challenge.text)
        assert nonce is not None
        answer = authorization(AGENT, pbx.password(AGENT), nonce.group(1), phone.uri)
        registered = phone.ask(compact(phone.request("REGISTER", AGENT, {"Authorization": answer})))
        assert registered.status == 200, registered.text
        options = phone.ask(phone.request("OPTIONS", AGENT))
        assert "UPDATE" in (options.header("Allow") or "")
