"""SIP over WebSocket (RFC 7118): the transport of browsers' soft phones.

sippy's own WebSocket server carries the messages into the same transaction manager,
registrar and calls as UDP. It names each connection `<uuid>.invalid`, and puts that
name in the Contact of what comes over it, so a browser's binding points at its
connection; requests to it go out over that connection (`wss` transport, whether or not
it is encrypted). A connection that closes takes its bindings with it (`closed`).
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


class _Connections(dict[str, Any]):
    """The server's open connections, telling `closed` of each one that goes."""

    def __init__(self, closed: Callable[[str], None]) -> None:
        super().__init__()
        self._closed = closed

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
        def connections(self) -> _Connections:
            return self._open

        @connections.setter
        def connections(self, _value: dict[str, Any]) -> None:
            self._open = _Connections(closed)

    chain, key = certificate if certificate is not None else (None, None)
    options = Wss_server_opts(
        address,
        config["_sip_tm"].handleIncoming,
        certfile=None if chain is None else str(chain),
        keyfile=None if key is None else str(key),
    )
    return Server(config, options)
