"""The SDP the switch reads: one audio stream, within bounds."""

from __future__ import annotations

import pytest

from callyard.switch import sdp

OFFER = sdp.build("192.0.2.5", 4000)


def test_an_offer_is_read_back() -> None:
    assert sdp.parse(OFFER) == sdp.MediaOffer("192.0.2.5", 4000, (0, 8, 101))


def test_rejected_streams_are_skipped_and_a_media_address_overrides() -> None:
    body = (
        "v=0\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 0 RTP/AVP 0\r\n"
        "m=audio 5000 RTP/AVP 8\r\nc=IN IP6 2001:db8::2\r\n"
    )
    assert sdp.parse(body) == sdp.MediaOffer("2001:db8::2", 5000, (8,))


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
