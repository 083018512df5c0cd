"""The media relay: RTPProxy embedded in the process (rtp.io), driven by its command protocol.

One relay session per call, with two sides named by neutral tags: `a`, the side that
opened the session (the relay protocol's originator), and `b`; each call says which of
its legs receives on which side. The relay answers its commands in
order, one line each, on its control socket; a reader thread takes the answers, so the
SIP thread never waits for one on a call's way: commands whose answer a call needs
(the ports of U and L, the end of D, after which the capture files are complete) take
a callback, run on the SIP thread (`schedule`); commands whose answer only reports a
refusal (recording, a second U, stopping a prompt) are posted, and a refusal logged.
Playing a prompt and packet counts wait for their answer.

A browser's side is encrypted (DTLS-SRTP) and reached after ICE checks: the relay's
`dtls_gw` and `ice_lite` modules terminate both, driven by subcommands after a U or L
(`&& M4:1 ...`, `&& M5:1 ...`). A command carrying a browser's own media tells the
relay its fingerprint, ICE credentials and candidates; a command whose port is offered
to a browser asks for the relay's (kept per side of a session: `secure`). Recordings and
prompts stay plain RTP.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from callyard.switch.sdp import MediaOffer, SecureMedia

log = logging.getLogger("callyard.switch.relay")

SIDE_A = "a"  # the side that opened the session
SIDE_B = "b"


def other_side(side: str) -> str:
    """The other side of a relay session."""
    return SIDE_B if side == SIDE_A else SIDE_A


# Prompts are raw G.711 at 8 kHz, one file per RTP payload type (RTPProxy's `P` reads
# `<name>.<payload type>`): one byte per sample.
PCMU, PCMA = 0, 8
PROMPT_CODECS = (PCMU, PCMA)
PROMPT_RATE = 8000
# `P`'s count of plays that never runs out: the relay reads the file from its start
# again each time it ends, until `S` or another `P` (RTPProxy's rtp_server loops while
# the count is negative).
PLAY_FOREVER = -1


def prompt_file(base: Path, payload_type: int) -> Path:
    """The file of prompt `base` in one codec, as the relay's `P` command names it."""
    return base.with_name(f"{base.name}.{payload_type}")


# One second of silence in each prompt codec (μ-law's and A-law's codes for zero).
_SILENCE = {PCMU: b"\xff" * PROMPT_RATE, PCMA: b"\xd5" * PROMPT_RATE}


def write_silence(base: Path) -> Path:
    """Write the prompt `base` of a second of silence (what a muted party is replaced
    with); returns `base`."""
    for payload_type, samples in _SILENCE.items():
        prompt_file(base, payload_type).write_bytes(samples)
    return base


def prompt_duration(base: Path, payload_type: int = PCMU) -> float:
    """How long prompt `base` plays, in seconds."""
    return prompt_file(base, payload_type).stat().st_size / PROMPT_RATE


ANSWER_SECONDS = 10.0  # how long a command that waits for its answer may take

# The relay's modules, as its subcommands number them whatever else is loaded.
DTLS_MODULE, ICE_MODULE = "M4:1", "M5:1"

# `then` of a command that opens or updates a session: the port the relay allocated,
# or None when it refused (logged) or has no such session.
PortThen = Callable[[int | None], None]
Schedule = Callable[[Callable[[], None]], None]


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


def _run_now(work: Callable[[], None]) -> None:
    work()


class MediaRelay:
    """A running RTPProxy and the sessions callyard asked of it."""

    def __init__(
        self,
        address: str,
        ports: tuple[int, int],
        record_dir: Path,
        advertise: str | None = None,
        schedule: Schedule = _run_now,
    ) -> None:
        """Relay on `address` (UDP `ports`); SDP names `advertise` (for NAT) if given.
        `schedule` runs the callbacks of commands on the thread that drives the calls
        (by default, on the relay's reader thread)."""
        from rtp.io import rtpproxy

        record_dir.mkdir(parents=True, exist_ok=True)
        self.address = advertise or address
        self.local = address  # what parties on this host (its other sessions, the mixer) use
        self.record_dir = record_dir
        # Not among the captures, which hold only what calls left.
        self._prompts = Path(tempfile.mkdtemp(prefix="callyard-relay-"))
        self.silence = write_silence(self._prompts / "silence")
        args = ["-F", "-l", address, "-m", str(ports[0]), "-M", str(ports[1])]
        if advertise and advertise != address:
            args += ["-A", advertise]
        # -R: record RTP only; a call's RTCP would be two more files to create and delete.
        args += ["-r", str(record_dir), "-R", "-P", "-d", "WARN"]
        # Only these modules: the default set also writes an accounting CSV in the cwd.
        self._proxy: Any = rtpproxy(extra_args=args, modules=("dtls_gw", "ice_lite"))
        self._socket: Any = self._proxy.rtpp_sock
        self._schedule = schedule
        self._sending = threading.Lock()
        # What to do with each answer still to come, in the order the commands went.
        self._pending: deque[Callable[[str | None], None]] = deque()
        self._gone = False  # the reader has ended: no answer will come any more
        self._stopping = False
        self._due_lock = threading.Lock()
        self._due: list[tuple[Callable[[str | None], None], str | None]] = []
        self._due_scheduled = False
        # The relay's DTLS and ICE for a browser, by session and the browser's side.
        self._secure: dict[str, dict[str, SecureMedia]] = {}
        # Where each side's party receives, by session and side, as last told.
        self._at: dict[str, dict[str, tuple[str, int]]] = {}
        # The sides whose party is another session of the relay or the mixer, by session.
        self._internal: dict[str, set[str]] = {}
        self._reader = threading.Thread(target=self._read, name="callyard-relay", daemon=True)
        self._reader.start()

    # -- the control socket ------------------------------------------------------------

    def _send(self, text: str, on_answer: Callable[[str | None], None]) -> None:
        """Send a command; `on_answer` gets its answer on the reader thread (None: the
        relay is gone)."""
        with self._sending:
            if not self._gone:
                self._pending.append(on_answer)
                self._socket.sendall(text.encode() + b"\n")
                return
        on_answer(None)

    def _read(self) -> None:
        received = b""
        while True:
            try:
                chunk = self._socket.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            received += chunk
            while (end := received.find(b"\n")) >= 0:
                line, received = received[:end].decode().strip(), received[end + 1 :]
                self._answered(line)
            if self._stopping:
                break
        with self._sending:
            self._gone = True
            left = list(self._pending)
            self._pending.clear()
        for on_answer in left:
            on_answer(None)

    def _stop_reading(self, _reply: str | None) -> None:
        self._stopping = True

    def _answered(self, line: str) -> None:
        try:
            on_answer = self._pending.popleft()
        except IndexError:
            log.error("relay answer to no command", extra={"reply": line})
            return
        try:
            on_answer(line)
        except Exception:
            log.exception("relay answer not handled", extra={"reply": line})

    def _command(self, text: str) -> str:
        """Send a command and wait for its answer (not on the reader thread)."""
        answered = threading.Event()
        answer: list[str | None] = []

        def take(reply: str | None) -> None:
            answer.append(reply)
            answered.set()

        self._send(text, take)
        if not answered.wait(ANSWER_SECONDS) or answer[0] is None:
            raise RelayError(f"no answer from the relay to {text.split()[0]}")
        reply = answer[0]
        if reply.startswith("E"):
            raise RelayError(f"relay refused {text.split()[0]}: {reply}")
        return reply

    def _post(self, text: str, refused: int = logging.WARNING) -> None:
        """Send a command whose answer only matters if it is a refusal (logged)."""

        def check(reply: str | None) -> None:
            if reply is None or reply.startswith("E"):
                log.log(refused, "relay refused a command", extra={"command": text, "reply": reply})

        self._send(text, check)

    def _ask(
        self, text: str, then: Callable[[str | None], None], refused: int = logging.WARNING
    ) -> None:
        """Send a command; `then` gets its answer (None when refused, logged) through
        `schedule`."""

        def due(reply: str | None) -> None:
            if reply is None or reply.startswith("E"):
                log.log(refused, "relay refused a command", extra={"command": text, "reply": reply})
                reply = None
            with self._due_lock:
                self._due.append((then, reply))
                if self._due_scheduled:
                    return
                self._due_scheduled = True
            self._schedule(self._run_due)

        self._send(text, due)

    def _run_due(self) -> None:
        """Run the callbacks whose answers came (one scheduled call for all of them)."""
        with self._due_lock:
            due, self._due = self._due, []
            self._due_scheduled = False
        for then, reply in due:
            try:
                then(reply)
            except Exception:
                log.exception("relay callback failed", extra={"reply": reply})

    def flush(self) -> None:
        """Wait for the answers of every command sent, and run their callbacks here (on
        the thread `schedule` runs them on)."""
        try:
            self._command("V")
        except RelayError:
            log.warning("the relay did not answer", exc_info=True)
        self._run_due()

    # -- sessions ------------------------------------------------------------------------

    def open(self, call_id: str, then: PortThen, for_browser: bool = False) -> None:
        """Start a session; `then` gets the port to offer to the party on side b (a
        browser, if `for_browser`)."""
        self._open(call_id, SIDE_A, (self.address, 9, None), then, for_browser)

    def open_from(
        self, call_id: str, media: MediaAt, then: PortThen, for_browser: bool = False
    ) -> None:
        """Start a session for a party that offered `media` (a phone's INVITE), on side
        a; `then` gets the port to offer to the party it calls (a browser, if
        `for_browser`)."""
        self._open(call_id, SIDE_A, media, then, for_browser)

    def side_b_at(
        self, call_id: str, media: MediaAt, then: PortThen, for_browser: bool = False
    ) -> None:
        """Tell where side b's party receives; `then` gets the port to offer to side a's
        (a browser, if `for_browser`)."""
        self._open(call_id, SIDE_B, media, then, for_browser)

    def side_a_at(self, call_id: str, media: MediaAt) -> None:
        """Tell where side a's party receives."""
        self.update(call_id, SIDE_A, media)

    def update(self, call_id: str, side: str, media: MediaAt) -> None:
        """Tell that side `side` of a session now receives at `media` (a party's new
        offer in the middle of a call)."""
        self._post(_with_secure(self._side_command(call_id, side, media), media[2]))

    def _side_command(self, call_id: str, side: str, media: MediaAt) -> str:
        """The command telling where side `side`'s party receives (kept as the side's
        address): U for side a (naming side a's tag only until side b is known), L for
        side b."""
        address, port, _own = media
        known = self._at.setdefault(call_id, {})
        known[side] = (address, port)
        internal = "A" if side in self._internal.get(call_id, ()) else ""
        if side == SIDE_B:
            return f"L{internal} {call_id} {address} {port} {SIDE_A} {SIDE_B}"
        if SIDE_B not in known:
            return f"U{internal} {call_id} {address} {port} {SIDE_A}"
        return f"U{internal} {call_id} {address} {port} {SIDE_A} {SIDE_B}"

    def internal(self, call_id: str, side: str, internal: bool = True) -> None:
        """Whether side `side`'s party is on this host (another session, the mixer): the
        relay then sends it to where it is told at once, and takes its packets from any
        port of that host, latching nothing (its commands carry the A modifier). Its
        sources change as the call moves it; a stray packet from the last one must not
        latch the side back there."""
        if internal:
            self._internal.setdefault(call_id, set()).add(side)
        elif call_id in self._internal:
            self._internal[call_id].discard(side)

    def secure(self, call_id: str, side: str) -> SecureMedia | None:
        """The relay's DTLS and ICE for the browser on side `side` of a session, if one
        was offered its port."""
        return self._secure.get(call_id, {}).get(side)

    def secure_side(
        self, call_id: str, side: str, then: Callable[[SecureMedia | None], None]
    ) -> None:
        """Make the relay's end of side `side` ready for a new browser: fresh DTLS and
        ICE (any earlier browser's are dropped, the relay's end being one per side);
        `then` gets them (None if the relay refused), on the thread `schedule` runs
        callbacks on. The command is the other side's, with its party's address as it
        stands: its answer is this side's port."""
        other = other_side(side)
        address, port = self._at.get(call_id, {}).get(other, (self.address, 9))

        def asked(_port: int | None) -> None:
            then(self._secure.get(call_id, {}).get(side))

        self._open(call_id, other, (address, port, None), asked, True)

    def _open(
        self,
        call_id: str,
        side: str,
        media: MediaAt,
        then: PortThen,
        for_browser: bool,
    ) -> None:
        """Send the U or L of side `side`'s party at `media`; `then` gets the port it
        returns, the other side's. `for_browser`: that port is offered to a browser,
        with the relay's DTLS and ICE (made anew)."""
        other = other_side(side)
        command = _with_secure(self._side_command(call_id, side, media), media[2])
        if for_browser:
            if other in self._secure.get(call_id, {}):
                command += f" && {DTLS_MODULE} U && {ICE_MODULE} U"
            command += f" && {DTLS_MODULE} S && {ICE_MODULE} S"

        def answered(reply: str | None) -> None:
            results = [part.strip() for part in (reply or "").split("&&")]
            allocated = _allocated(results[0])
            if allocated is not None and for_browser:
                secure = _relay_secure(results[-2:]) if len(results) >= 3 else None
                if secure is None:
                    log.error("relay gave no DTLS or ICE for a browser", extra={"reply": reply})
                    allocated = None
                else:
                    self._secure.setdefault(call_id, {})[other] = secure
            then(allocated)

        self._ask(command, answered)

    def record(self, call_id: str) -> tuple[Path, Path]:
        """Record both directions; returns the capture files (from side a, from side b),
        which stay missing if the relay refuses."""
        self._post(f"R {call_id} {SIDE_A} {SIDE_B}")
        self._post(f"R {call_id} {SIDE_B} {SIDE_A}")
        prefix = self.record_dir / f"{call_id}={SIDE_A}"
        return prefix.with_name(prefix.name + ".o.rtp"), prefix.with_name(prefix.name + ".a.rtp")

    def play(
        self, call_id: str, prompt: Path, payload_type: int, to: str, repeat: bool = False
    ) -> float:
        """Play prompt `prompt` to the side `to` (its party hears it instead of what the
        other side sends), once or, with `repeat`, over and over until stopped or
        replaced; returns how long it plays once, in seconds."""
        if payload_type not in PROMPT_CODECS:
            raise RelayError(f"no prompts in payload type {payload_type}")
        path = prompt_file(prompt, payload_type)
        if any(character.isspace() for character in str(path)):
            raise RelayError(f"the relay's commands cannot name {str(path)!r}: blank in it")
        if not path.is_file():
            raise RelayError(f"no prompt file {path}")
        other = other_side(to)
        times = PLAY_FOREVER if repeat else 1
        self._command(f"P{times} {call_id} {prompt} {payload_type} {to} {other}")
        return path.stat().st_size / PROMPT_RATE

    def stop_playing(self, call_id: str, to: str) -> None:
        """Stop a prompt playing to the side `to`; relayed media reaches it again."""
        other = other_side(to)
        self._post(f"S {call_id} {to} {other}", refused=logging.DEBUG)  # none playing

    def stats(self, call_id: str) -> RelayStats | None:
        try:
            fields = [int(v) for v in self._command(f"Q {call_id} {SIDE_A} {SIDE_B}").split()]
        except (RelayError, ValueError):
            return None
        return RelayStats(*fields[:5]) if len(fields) >= 5 else None

    def close(self, call_id: str, then: Callable[[], None]) -> None:
        """End a session; `then` runs once it has ended and its capture files are
        complete (also when there was no such session)."""
        self._secure.pop(call_id, None)
        self._at.pop(call_id, None)
        self._internal.pop(call_id, None)
        self._ask(f"D {call_id} {SIDE_A} {SIDE_B}", lambda _reply: then(), logging.DEBUG)

    def shutdown(self) -> None:
        """Take every answer still to come (running its callback here), then stop."""
        if self._proxy is None:
            return
        self.flush()
        self._send("V", self._stop_reading)  # the last answer the reader takes
        self._reader.join(ANSWER_SECONDS)
        self._proxy = None
        shutil.rmtree(self._prompts, ignore_errors=True)


# Where a party receives: address, port, and a browser's DTLS and ICE.
MediaAt = tuple[str, int, SecureMedia | None]


def media_at(media: MediaOffer) -> MediaAt:
    """A party's `sdp.MediaOffer` as the relay's commands take it."""
    return media.address, media.port, media.secure


def _with_secure(command: str, own: SecureMedia | None) -> str:
    """`command` with the subcommands that tell the relay a browser's own DTLS and ICE
    (its role, fingerprint and SSRC; its credentials and candidates)."""
    if own is None:
        return command
    role = "P" if own.setup == "passive" else "A"  # "active" or "actpass": it may connect
    dtls = f"{DTLS_MODULE} {role} {own.fingerprint}" + (f" {own.ssrc}" if own.ssrc else "")
    parts = [command, dtls, f"{ICE_MODULE} A {own.ice_ufrag} {own.ice_pwd}"]
    parts += [f"{ICE_MODULE} C {candidate}" for candidate in own.candidates]
    return " && ".join(parts)


def _relay_secure(results: list[str]) -> SecureMedia | None:
    """The relay's DTLS (`setup fingerprint`) and ICE (`ufrag pwd c:candidate...`) from
    the answers to `M4:1 S` and `M5:1 S`."""
    dtls, ice = results[0].split(None, 1), results[1].split()
    if len(dtls) != 2 or len(ice) < 3 or not all(c.startswith("c:") for c in ice[2:]):
        return None
    candidates = tuple(unquote(c[2:]) for c in ice[2:])
    return SecureMedia(dtls[0], dtls[1], ice[0], ice[1], candidates)


def _allocated(reply: str | None) -> int | None:
    """The port of a U or L answer; None (logged) when there is none."""
    if not reply:
        return None
    try:
        allocated = int(reply.split()[0]) or None
    except ValueError:
        log.error("relay answer without a port", extra={"reply": reply})
        return None
    if allocated is None:  # an L or U for a session the relay does not have
        log.warning("relay has no such session", extra={"reply": reply})
    return allocated
