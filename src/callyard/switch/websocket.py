"""SIP over WebSocket (RFC 7118): the transport of browsers' soft phones.

sippy's own WebSocket server carries the messages into the same transaction manager,
registrar and calls as UDP. It names each connection `<uuid>.invalid`, and puts that
name in the Contact of what comes over it, so a browser's binding points at its
connection; requests to it go out over that connection (`wss` transport, whether or not
it is encrypted). A connection that closes takes its bindings with it (`closed`); a
browser that connects again and registers anew gets what was still sent to its old
connection (the BYE of a call whose media went on meanwhile): `moved`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Address = tuple[str, int]

CONNECTION_SUFFIX = ".invalid"
TRANSPORT = "wss"


@dataclass(frozen=True)
class WebSocketSettings:
    """SIP over WebSocket for browsers: the port (on the SIP host), and TLS (`wss`) with
    a certificate chain and key when both are given."""

    port: int
    certificate: tuple[Path, Path] | None = None


def is_websocket(address: Address) -> bool:
    """Whether `address` names a WebSocket connection (a browser), not a UDP peer."""
    return address[0].endswith(CONNECTION_SUFFIX)


def transport_of(address: Address) -> str:
    """The sippy transport requests to `address` go over."""
    return TRANSPORT if is_websocket(address) else "udp"


class Connections(dict[str, Any]):
    """The server's open connections, telling `closed` of each one that goes; a name of
    a closed connection that `moved` finds the connection that took its place."""

    def __init__(self, closed: Callable[[str], None]) -> None:
        super().__init__()
        self._closed = closed
        self.moved: dict[str, str] = {}  # a closed connection -> the one after it

    def _current(self, key: object) -> object:
        seen = set()
        while not super().__contains__(key) and key in self.moved and key not in seen:
            seen.add(key)
            key = self.moved[str(key)]
        return key

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._current(key))

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(self._current(key))  # type: ignore[index]

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._closed(key)


def start_server(
    config: dict[str, Any],
    address: Address,
    closed: Callable[[str], None],
    certificate: tuple[Path, Path] | None = None,
) -> Any:
    """Listen for SIP over WebSocket at `address` (TLS with `certificate`, a (chain,
    key) pair of PEM files); `closed` gets the name of each connection that closes, on
    the server's own thread. Call in the SIP thread."""
    from sippy.Wss_server import Wss_server, Wss_server_opts

    class Server(Wss_server):  # type: ignore[misc]
        @property
        def connections(self) -> Connections:
            return self._open

        @connections.setter
        def connections(self, _value: dict[str, Any]) -> None:
            self._open = Connections(closed)

        def moved(self, old: str, new: str) -> None:
            """What is sent to connection `old` (closed) goes to `new`."""
            self._open.moved[old] = new

    chain, key = certificate if certificate is not None else (None, None)
    options = Wss_server_opts(
        address,
        config["_sip_tm"].handleIncoming,
        certfile=None if chain is None else str(chain),
        keyfile=None if key is None else str(key),
    )
    return Server(config, options)
