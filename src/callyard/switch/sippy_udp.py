"""sippy's UDP socket with fewer thread hand-offs.

sippy queues every outgoing datagram for a sender thread, which resolves the address
with `getaddrinfo` and sends it, and hands every incoming datagram from a receiver
thread to its event loop one at a time (a signal to the loop's thread each). Each costs
a thread wake-up and a turn of the interpreter lock on both sides: under load, a
sixth of the SIP thread's time went into sending alone.

Here a datagram to an IPv4 address is sent at once from the SIP thread, without
blocking (a name to resolve, an IPv6 socket, a full send buffer or anything queued
before it still goes through the sender thread, in order), and the receiver hands over
every datagram that has arrived together, in one call.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from functools import lru_cache
from typing import Any

BATCH = 64  # datagrams handed to the event loop at most in one call
_RECEIVER_DONE = (errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.EBADF)


@lru_cache(maxsize=4096)
def _is_ipv4_literal(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def send_directly() -> None:
    """Make sippy's Udp_server send IPv4 datagrams from the calling thread."""
    from sippy.Udp_server import Udp_server

    queued = Udp_server.send_to

    def send_to(self: Any, data: bytes | str, address: Any, delayed: bool = False) -> None:
        host, port = address
        if (
            self.uopts.family == socket.AF_INET
            and isinstance(host, str)
            and _is_ipv4_literal(host)
            and not self.sendqueue.queue  # nothing waits for the sender (no lock taken)
        ):
            payload = data if isinstance(data, bytes) else data.encode("utf-8")
            try:
                if self.skt.sendto(payload, socket.MSG_DONTWAIT, (host, int(port))) == len(payload):
                    return
            except OSError:
                pass  # a full buffer or an error: the sender thread retries or gives up
        queued(self, data, address, delayed)

    Udp_server.send_to = send_to


def receive_in_batches() -> None:
    """Make sippy's UDP receiver hand datagrams to its event loop in batches."""
    from sippy.Core.EventDispatcher import ED2
    from sippy.Network_server import Remote_address
    from sippy.Time.MonoTime import MonoTime
    from sippy.Udp_server import AsyncReceiver

    def deliver(server: Any, batch: list[tuple[bytes, Any, Any]]) -> None:
        for data, address, received in batch:
            server.handle_read(data, Remote_address(address, server.transport), received)

    def address_of(server: Any, address: Any) -> Any:
        if server.uopts.family == socket.AF_INET6:
            return (f"[{address[0]}]", address[1])
        return address

    def run(self: Any) -> None:
        server = self.userv
        empty_reads = 0
        while True:
            try:
                data, address = server.skt.recvfrom(8192)
            except InterruptedError:
                continue
            except OSError as why:
                if why.errno in _RECEIVER_DONE:
                    break
                continue
            if not data and address is None:
                # What a socket shut down under the receiver returns (sippy's own test).
                empty_reads += 1
                if empty_reads == 100:
                    break
                continue
            empty_reads = 0
            batch = [(data, address_of(server, address), MonoTime())]
            while len(batch) < BATCH:
                try:
                    data, address = server.skt.recvfrom(8192, socket.MSG_DONTWAIT)
                except OSError:
                    break
                if not data and address is None:
                    break
                batch.append((data, address_of(server, address), MonoTime()))
            ED2.callFromThread(deliver, server, batch)
        self.userv = None

    AsyncReceiver.run = run
