"""The embedded relay carries real RTP both ways, and its captures become a stereo WAV."""

from __future__ import annotations

import audioop
import math
import socket
import struct
import time
import wave
from pathlib import Path

from callyard.switch.recording import captures_to_wav
from callyard.switch.relay import MediaRelay


def tone(frequency: float, packets: int) -> list[bytes]:
    """20 ms μ-law frames of a sine tone."""
    frames = []
    for n in range(packets):
        samples = [
            int(8000 * math.sin(2 * math.pi * frequency * (n * 160 + i) / 8000)) for i in range(160)
        ]
        frames.append(audioop.lin2ulaw(struct.pack(f"<{len(samples)}h", *samples), 2))
    return frames


def rtp(seq: int, payload: bytes, ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc) + payload


def endpoint() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    return sock


def drain(sock: socket.socket) -> int:
    count = 0
    try:
        while True:
            sock.recv(2048)
            count += 1
    except TimeoutError:
        return count


def test_relay_bridges_and_records_both_directions(tmp_path: Path) -> None:
    relay = MediaRelay("127.0.0.1", (31000, 31100), tmp_path / "captures")
    agent, customer = endpoint(), endpoint()
    try:
        to_agent_side = relay.open("call-1")
        to_customer_side = relay.agent_answered("call-1", "127.0.0.1", agent.getsockname()[1])
        relay.customer_answered("call-1", "127.0.0.1", customer.getsockname()[1])
        from_customer, from_agent = relay.record("call-1")
        agent_voice, customer_voice = tone(440, 50), tone(1000, 50)
        for seq in range(50):
            agent.sendto(rtp(seq, agent_voice[seq], 1), ("127.0.0.1", to_agent_side))
            customer.sendto(rtp(seq, customer_voice[seq], 2), ("127.0.0.1", to_customer_side))
            time.sleep(0.02)
        assert drain(customer) == 50
        assert drain(agent) == 50
        stats = relay.stats("call-1")
        assert stats is not None
        assert (stats.relayed, stats.dropped) == (100, 0)
        relay.close("call-1")
        time.sleep(0.2)
        duration = captures_to_wav(from_agent, from_customer, tmp_path / "call-1.wav")
    finally:
        relay.shutdown()
        agent.close()
        customer.close()
    assert 0.9 < duration < 1.3
    with wave.open(str(tmp_path / "call-1.wav")) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        frames = wav.readframes(wav.getnframes())
    left, right = audioop.tomono(frames, 2, 1, 0), audioop.tomono(frames, 2, 0, 1)
    assert audioop.rms(left, 2) > 2000  # the agent's tone
    assert audioop.rms(right, 2) > 2000  # the customer's tone


def test_relay_behind_nat_advertises_another_address(tmp_path: Path) -> None:
    relay = MediaRelay("127.0.0.1", (31200, 31210), tmp_path, advertise="198.51.100.7")
    try:
        assert relay.address == "198.51.100.7"  # what SDP bodies name
        assert 31200 <= relay.open("call-nat") <= 31210  # bound locally all the same
    finally:
        relay.shutdown()
