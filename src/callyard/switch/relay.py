"""The media relay: RTPProxy embedded in the process (rtp.io), driven by its command protocol.

One relay session per call, with two sides named by tags: `customer` (the far end,
treated as the session's originator) and `agent`. Commands whose answer the call needs
(ports, or capture files complete once a session ends) are sent synchronously from the
SIP thread. Starting a recording creates files, which takes the relay a fraction of a
millisecond: that is posted, and its answer read with the next command's.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("callyard.switch.relay")

CUSTOMER = "customer"
AGENT = "agent"

# Prompts are raw G.711 at 8 kHz, one file per RTP payload type (RTPProxy's `P` reads
# `<name>.<payload type>`): one byte per sample.
PCMU, PCMA = 0, 8
PROMPT_CODECS = (PCMU, PCMA)
PROMPT_RATE = 8000


def prompt_file(base: Path, payload_type: int) -> Path:
    """The file of prompt `base` in one codec, as the relay's `P` command names it."""
    return base.with_name(f"{base.name}.{payload_type}")


def prompt_duration(base: Path, payload_type: int = PCMU) -> float:
    """How long prompt `base` plays, in seconds."""
    return prompt_file(base, payload_type).stat().st_size / PROMPT_RATE


MAX_POSTED = 64  # answers left unread at most before a post reads them


class RelayError(RuntimeError):
    """The relay refused a command (for example: no free ports)."""


@dataclass(frozen=True)
class RelayStats:
    ttl: int
    packets_from_customer: int
    packets_from_agent: int
    relayed: int
    dropped: int


def parse_port_range(spec: str) -> tuple[int, int]:
    first, _, last = spec.partition("-")
    low, high = int(first), int(last)
    if not (1024 <= low < high <= 65535):
        raise ValueError(f"bad RTP port range {spec!r}")
    return low, high


class MediaRelay:
    """A running RTPProxy and the sessions callyard asked of it."""

    def __init__(
        self,
        address: str,
        ports: tuple[int, int],
        record_dir: Path,
        advertise: str | None = None,
    ) -> None:
        """Relay on `address` (UDP `ports`); SDP names `advertise` (for NAT) if given."""
        from rtp.io import rtpproxy

        record_dir.mkdir(parents=True, exist_ok=True)
        self.address = advertise or address
        self.record_dir = record_dir
        args = ["-F", "-l", address, "-m", str(ports[0]), "-M", str(ports[1])]
        if advertise and advertise != address:
            args += ["-A", advertise]
        # -R: record RTP only; a call's RTCP would be two more files to create and delete.
        args += ["-r", str(record_dir), "-R", "-P", "-d", "WARN"]
        self._proxy: Any = rtpproxy(extra_args=args, modules=())  # no accounting CSV in the cwd
        self._socket: Any = self._proxy.rtpp_sock
        self._lock = threading.Lock()
        self._received = b""
        self._posted: deque[str] = deque()  # commands whose answers are still unread

    def _command(self, text: str) -> str:
        """Send a command and wait for its answer."""
        with self._lock:
            self._socket.sendall(text.encode() + b"\n")
            self._collect()
            reply = self._answer()
        if reply.startswith("E"):
            raise RelayError(f"relay refused {text.split()[0]}: {reply}")
        return reply

    def _post(self, text: str) -> None:
        """Send a command whose answer is read later; a refusal is only logged."""
        with self._lock:
            self._socket.sendall(text.encode() + b"\n")
            self._posted.append(text)
            if len(self._posted) >= MAX_POSTED:
                self._collect()

    def _collect(self) -> None:
        """Read the answers of the posted commands (the lock held): the relay answers
        in order, so they come before the answer of any command sent after them."""
        while self._posted:
            text = self._posted.popleft()
            reply = self._answer()
            if reply.startswith("E"):
                log.warning("relay refused a command", extra={"command": text, "reply": reply})

    def _answer(self) -> str:
        while b"\n" not in self._received:
            chunk = self._socket.recv(4096)
            if not chunk:
                raise RelayError("the relay closed its control socket")
            self._received += chunk
        line, _, self._received = self._received.partition(b"\n")
        return line.decode().strip()

    def open(self, call_id: str) -> int:
        """Start a session; returns the port to offer to the agent."""
        return int(self._command(f"U {call_id} {self.address} 9 {CUSTOMER}").split()[0])

    def open_from(self, call_id: str, address: str, port: int) -> int:
        """Start a session for a party that offered media at address:port (a phone's
        INVITE); returns the port to offer to the party it calls."""
        return int(self._command(f"U {call_id} {address} {port} {CUSTOMER}").split()[0])

    def agent_answered(self, call_id: str, address: str, port: int) -> int:
        """Tell where the agent receives; returns the port to offer to the customer."""
        return int(self._command(f"L {call_id} {address} {port} {CUSTOMER} {AGENT}").split()[0])

    def customer_answered(self, call_id: str, address: str, port: int) -> None:
        self._command(f"U {call_id} {address} {port} {CUSTOMER} {AGENT}")

    def record(self, call_id: str) -> tuple[Path, Path]:
        """Record both directions; returns the capture files (from customer, from agent),
        which stay missing if the relay refuses."""
        self._post(f"R {call_id} {CUSTOMER} {AGENT}")
        self._post(f"R {call_id} {AGENT} {CUSTOMER}")
        prefix = self.record_dir / f"{call_id}={CUSTOMER}"
        return prefix.with_name(prefix.name + ".o.rtp"), prefix.with_name(prefix.name + ".a.rtp")

    def play(self, call_id: str, prompt: Path, payload_type: int, to: str = AGENT) -> float:
        """Play prompt `prompt` once to the side `to` (its party hears it instead of what
        the other side sends); returns how long it plays, in seconds."""
        if payload_type not in PROMPT_CODECS:
            raise RelayError(f"no prompts in payload type {payload_type}")
        path = prompt_file(prompt, payload_type)
        if any(character.isspace() for character in str(path)):
            raise RelayError(f"the relay's commands cannot name {str(path)!r}: blank in it")
        if not path.is_file():
            raise RelayError(f"no prompt file {path}")
        other = CUSTOMER if to == AGENT else AGENT
        self._command(f"P1 {call_id} {prompt} {payload_type} {to} {other}")
        return path.stat().st_size / PROMPT_RATE

    def stop_playing(self, call_id: str, to: str = AGENT) -> None:
        """Stop a prompt playing to the side `to`; relayed media reaches it again."""
        other = CUSTOMER if to == AGENT else AGENT
        try:
            self._command(f"S {call_id} {to} {other}")
        except RelayError:
            log.debug("no prompt to stop", extra={"call_id": call_id})

    def stats(self, call_id: str) -> RelayStats | None:
        try:
            fields = [int(v) for v in self._command(f"Q {call_id} {CUSTOMER} {AGENT}").split()]
        except (RelayError, ValueError):
            return None
        return RelayStats(*fields[:5]) if len(fields) >= 5 else None

    def close(self, call_id: str) -> None:
        """End a session; once this returns its capture files are complete."""
        try:
            self._command(f"D {call_id} {CUSTOMER} {AGENT}")
        except RelayError:
            log.debug("relay session already gone", extra={"call_id": call_id})

    def shutdown(self) -> None:
        self._proxy = None
