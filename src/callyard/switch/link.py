"""What the server process and its SIP process say to each other, besides commands and
events: the SIP process's settings, routing tables, bindings and relay queries (the
start and stop handshake is every child's: `callyard.child`).

Messages travel pickled over a Unix socket pair (`multiprocessing.connection`'s framing),
in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from callyard.switch.registrar import Binding, SipLimits
from callyard.switch.relay import RelayStats
from callyard.switch.routing import RoutingTable
from callyard.switch.websocket import WebSocketSettings


@dataclass(frozen=True)
class SipSettings:
    """How the SIP process listens and relays media; its first message."""

    host: str
    port: int
    advertise: str
    rtp_ports: tuple[int, int]
    capture_dir: Path
    routes: RoutingTable
    ring_timeout: float  # seconds a phone number called through a trunk may ring
    agent_ring_timeout: float  # seconds an extension may ring
    log_level: str
    limits: SipLimits = field(default_factory=SipLimits)  # on failed authentication
    # What a customer hears while nobody is with it mid-call (a phone's transfer under
    # way): this prompt if its files exist, else silence.
    hold_music: Path | None = None
    websocket: WebSocketSettings | None = None


@dataclass(frozen=True)
class RoutesChanged:
    """A new routing table (extensions, trunks, caller-ID pools), replacing the last."""

    routes: RoutingTable


@dataclass(frozen=True)
class BindingMade:
    """A REGISTER made or renewed this binding (its removal comes as Unregistered)."""

    binding: Binding


@dataclass(frozen=True)
class StatsQuery:
    query_id: int
    call_id: str


@dataclass(frozen=True)
class StatsAnswer:
    query_id: int
    stats: RelayStats | None


@dataclass(frozen=True)
class ProbeQuery:
    """Send OPTIONS to a SIP peer (a carrier trunk) to learn whether it answers."""

    query_id: int
    address: tuple[str, int]


@dataclass(frozen=True)
class ProbeAnswer:
    query_id: int
    status: int | None  # the peer's response, whatever it is; None when it sent none
