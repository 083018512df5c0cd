"""The SDP the switch writes and reads: one audio stream, codecs by name, within bounds."""

from __future__ import annotations

import pytest

from callyard.switch import sdp

OFFER = sdp.build("192.0.2.5", 4000)


def test_an_offer_is_read_back() -> None:
    assert sdp.parse(OFFER) == sdp.MediaOffer("192.0.2.5", 4000, sdp.DEFAULT_CODECS)


def test_codecs_are_known_by_name_whatever_their_number() -> None:
    body = (
        "v=0\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0 96 121 13 99\r\n"
        "a=rtpmap:96 PCMA/8000\r\na=rtpmap:121 telephone-event/8000\r\n"
        "a=fmtp:121 0-16\r\na=rtpmap:99 opus/48000/2\r\na=sendonly\r\n"
    )
    offer = sdp.parse(body)
    assert offer is not None
    assert [(c.payload_type, c.key) for c in offer.codecs] == [
        (0, ("pcmu", 8000)),
        (96, ("pcma", 8000)),
        (121, ("telephone-event", 8000)),
        (13, ("cn", 8000)),
        (99, ("opus", 48000)),
    ]
    assert offer.codecs[2].parameters == "0-16"
    assert offer.direction == "sendonly"
    assert offer.on_hold
    assert [c.payload_type for c in sdp.relayed(offer.codecs)] == [0, 96, 121]
    # What the relay gives another leg: that leg's codecs, numbered as this one numbers them.
    assert sdp.shared(offer.codecs, sdp.DEFAULT_CODECS) == (
        offer.codecs[0],
        offer.codecs[1],
        offer.codecs[2],
    )


def test_an_offer_without_a_voice_codec_the_relay_carries_has_none() -> None:
    body = OFFER.replace("RTP/AVP 0 8 101", "RTP/AVP 111 101").replace(
        "a=rtpmap:0 PCMU/8000", "a=rtpmap:111 opus/48000/2"
    )
    offer = sdp.parse(body)
    assert offer is not None
    assert not sdp.has_audio(sdp.relayed(offer.codecs))


def test_old_style_hold_and_answers_to_holds() -> None:
    held = sdp.parse(OFFER.replace("IN IP4 192.0.2.5", "IN IP4 0.0.0.0"))
    assert held is not None
    assert held.on_hold
    assert sdp.answer_direction("sendonly") == "recvonly"
    assert sdp.answer_direction("inactive") == "inactive"
    assert sdp.answer_direction("sendrecv") == "sendrecv"


def test_a_later_body_of_a_session_keeps_its_id_and_raises_its_version() -> None:
    first = sdp.build("192.0.2.5", 4000, origin=(77, 1))
    second = sdp.build("192.0.2.5", 4000, (sdp.PCMU,), "recvonly", origin=(77, 2))
    assert "o=callyard 77 1 IN IP4 192.0.2.5" in first
    assert "o=callyard 77 2 IN IP4 192.0.2.5" in second
    assert "m=audio 4000 RTP/AVP 0\r\n" in second
    assert "a=recvonly" in second


def test_rejected_streams_are_skipped_and_a_media_address_overrides() -> None:
    body = (
        "v=0\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 0 RTP/AVP 0\r\n"
        "m=audio 5000 RTP/AVP 8\r\nc=IN IP6 2001:db8::2\r\n"
    )
    assert sdp.parse(body) == sdp.MediaOffer("2001:db8::2", 5000, (sdp.PCMA,))


@pytest.mark.parametrize(
    "body",
    [
        OFFER.replace("4000", "9" * 5000),  # an int() of that many digits raises
        OFFER.replace("4000", "9" * 900),
        OFFER.replace("4000", "65536"),
        OFFER.replace("4000", "0"),  # the only audio stream is rejected
        OFFER.replace(" 101\r", " 128\r"),
        OFFER.replace(" 101\r", " " + "1" * 900 + "\r"),
        OFFER.replace(" 101\r", " 0" * 33 + "\r"),
        OFFER.replace("s=callyard", "s=" + "x" * 1024),
        OFFER.replace("c=IN IP4 192.0.2.5", "c=IN IP4 ringing.example"),
        "v=0\r\nm=audio 4000 RTP/AVP 0\r\n",  # no address
    ],
)
def test_malformed_or_audioless_bodies_are_none(body: str) -> None:
    assert sdp.parse(body) is None


# A browser's offer, as Chromium writes it (shortened): DTLS-SRTP after ICE, Opus first.
BROWSER_OFFER = (
    "v=0\r\no=- 6895921173566729253 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "m=audio 58608 UDP/TLS/RTP/SAVPF 111 9 0 8 110 126\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=candidate:1 1 udp 2122260223 127.0.0.1 58608 typ host generation 0\r\n"
    "a=candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active\r\n"
    "a=candidate:3 1 udp 2122194687 0b7e1a6c-1b0e-4d7a-9d4e-2f0d0f2c1e55.local 50000 typ host\r\n"
    "a=ice-ufrag:Myou\r\na=ice-pwd:kb4vrCeFXX0Mo8gz6sYJqcbS\r\n"
    "a=fingerprint:sha-256 C7:41:BA:33\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n"
    "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n"
    "a=ssrc:2958546856 cname:A6w4IhaQI5/5L924\r\n"
)


def test_a_browsers_offer_carries_its_dtls_and_ice_and_only_reachable_candidates() -> None:
    offer = sdp.parse(BROWSER_OFFER)
    assert offer is not None
    # No address in c= (candidates not gathered yet): the first candidate's.
    assert (offer.address, offer.port) == ("127.0.0.1", 58608)
    assert offer.secure == sdp.SecureMedia(
        "actpass",
        "sha-256 C7:41:BA:33",
        "Myou",
        "kb4vrCeFXX0Mo8gz6sYJqcbS",
        ("1 1 udp 2122260223 127.0.0.1 58608 typ host generation 0",),
        "2958546856",
    )
    assert not offer.on_hold
    # What the relay carries, numbered as the browser numbers it.
    assert [c.payload_type for c in sdp.relayed(offer.codecs)] == [0, 8, 126]


def test_a_browsers_offer_without_its_fingerprint_is_malformed() -> None:
    assert sdp.parse(BROWSER_OFFER.replace("a=fingerprint:sha-256 C7:41:BA:33\r\n", "")) is None


def test_a_body_for_a_browser_has_the_relays_dtls_and_ice() -> None:
    relay_end = sdp.SecureMedia(
        "actpass",
        "SHA-256 9F:0F",
        "FuIF",
        "kxuZrT8J",
        ("7f000001 1 UDP 2113929471 127.0.0.1 40050 typ host",),
    )
    body = sdp.build("127.0.0.1", 40050, secure=relay_end)
    assert "m=audio 40050 UDP/TLS/RTP/SAVPF 0 8 101\r\n" in body
    for line in (
        "a=rtcp-mux",
        "a=ice-lite",
        "a=ice-ufrag:FuIF",
        "a=ice-pwd:kxuZrT8J",
        "a=candidate:7f000001 1 UDP 2113929471 127.0.0.1 40050 typ host",
        "a=setup:actpass",
        "a=fingerprint:SHA-256 9F:0F",
    ):
        assert f"{line}\r\n" in body
    read = sdp.parse(body)
    assert read is not None
    assert read.secure is not None
    assert read.secure.ice_ufrag == "FuIF"
