"""The registrar: digest-authenticated REGISTER, bindings that expire, limits on failures.

Pure logic over plain values; `sip_stack` adapts sippy's messages to it. An unknown
extension, a disabled one and a wrong password all get the same 401-then-403 answer,
computed the same way and limited the same way, so that a scanner cannot tell them
apart.

A failure counts only when it answers a nonce issued to its own source address and
still valid: a forged source address cannot block anyone. Failures are limited per
address (its /64 for IPv6) and per username; the limit per username spares the
addresses it authenticated from lately, so that its rightful phone keeps registering
while someone elsewhere guesses. Attempts made while blocked get 403 unchecked.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from callyard.limits import MAX_KEY, AuthenticationLimits
from callyard.switch.digest import DigestAuthority, Verdict, parse_authorization
from callyard.switch.events import Registered, SwitchEvent, Unregistered
from callyard.switch.websocket import is_websocket

log = logging.getLogger("callyard.switch.registrar")

Address = tuple[str, int]


@dataclass(frozen=True)
class Account:
    """What the registrar needs to know of an extension."""

    number: str
    company_id: int
    password: str
    enabled: bool


AccountLookup = Callable[[str], Account | None]


@dataclass(frozen=True)
class Registration:
    """A live SIP registration of an extension, as services see it."""

    client_ip: str
    client_port: int
    server_ip: str
    user_agent: str
    registered_at: datetime


@dataclass(frozen=True)
class RegisterRequest:
    """The parts of a REGISTER the registrar looks at."""

    user: str
    contact: str | None  # the first Contact URI, "*", or None for a query
    expires: int | None  # Contact's expires parameter, else the Expires header
    authorization: str | None
    source: Address
    user_agent: str = ""
    request_uri: str | None = None


def uri_key(uri: str) -> tuple[str, str, str, int]:
    """What makes two spellings of a SIP URI the same for the digest check: scheme, user,
    host (case-insensitive) and port (5060 or 5061 when absent); not parameters."""
    text = uri.strip().strip("<>")
    scheme, _, rest = text.partition(":")
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    user, _, hostport = rest.rpartition("@")
    host, port = hostport, ""
    if hostport.startswith("["):  # an IPv6 reference
        host, _, after = hostport.partition("]")
        host, port = host + "]", after.removeprefix(":")
    elif hostport.count(":") == 1:
        host, port = hostport.split(":")
    scheme = scheme.lower()
    default = 5061 if scheme == "sips" else 5060
    return scheme, user, host.lower(), int(port) if port.isdigit() else default


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Binding:
    """A live registration."""

    number: str
    company_id: int
    contact: str
    source: Address
    expires_at: float  # monotonic
    registered_at: datetime
    user_agent: str

    @property
    def target(self) -> Address:
        """Where to send requests: the Contact when it names the address the REGISTER came
        from (the phone is reachable as it says), else that source address (NAT)."""
        found = _CONTACT_HOSTPORT.match(self.contact)
        if found and is_websocket((found.group(1), 0)):
            return (found.group(1), 0)  # the browser's connection
        if found and found.group(1) == self.source[0]:
            return (found.group(1), int(found.group(2) or 5060))
        return self.source


_CONTACT_HOSTPORT = re.compile(r"^sips?:(?:[^@;>]*@)?([^:;>]+)(?::(\d+))?")


@dataclass(frozen=True)
class SipLimits:
    """How many failed authentications are allowed (the `sip_*` settings)."""

    failures_per_address: int = 10
    failures_per_extension: int = 5
    block_seconds: float = 300.0  # an address's first block; it doubles, up to an hour


FORBIDDEN = Reply(403, "Forbidden")


class Registrar:
    """REGISTER handling and the table of bindings (one contact per extension)."""

    def __init__(
        self,
        accounts: AccountLookup,
        authority: DigestAuthority,
        monotonic: Callable[[], float],
        wall: Callable[[], datetime],
        emit: Callable[[SwitchEvent], None],
        *,
        on_binding: Callable[[Binding], None] | None = None,
        limits: SipLimits = SipLimits(),
        min_expires: int = 60,
        max_expires: int = 3600,
        default_expires: int = 3600,
    ) -> None:
        self._accounts = accounts
        self._authority = authority
        self._monotonic = monotonic
        self._wall = wall
        self._emit = emit
        self._on_binding = on_binding
        self.limits = AuthenticationLimits(
            monotonic,
            address_failures=limits.failures_per_address,
            address_block=limits.block_seconds,
            key_failures=limits.failures_per_extension,
        )
        self._min = min_expires
        self._max = max_expires
        self._default = default_expires
        self._bindings: dict[str, Binding] = {}
        self._lock = threading.Lock()
        # Each extension's browser connection that closed last, and who is told when the
        # browser registers from another one (in-dialog requests follow it there).
        self._closed_connections: dict[str, str] = {}
        self.reconnected: Callable[[str, str], None] | None = None

    def _challenge(self, method: str, ip: str, stale: bool = False) -> Reply:
        challenge = self._authority.challenge(ip, stale)
        if method == "REGISTER":
            return Reply(401, "Unauthorized", (("WWW-Authenticate", challenge),))
        return Reply(407, "Proxy Authentication Required", (("Proxy-Authenticate", challenge),))

    def authenticate(
        self,
        user: str,
        authorization: str | None,
        source: Address,
        method: str,
        request_uri: str | None = None,
        speaks_for_others: Callable[[str], bool] | None = None,
    ) -> Account | Reply:
        """The extension a request comes from, or the challenge or refusal to send back.
        With `request_uri`, the credentials must have been computed for that URI (RFC
        2617 3.2.2.5), so that they cannot be carried over to another request. A user
        `speaks_for_others` names (a PBX's username) authenticates as itself whoever the
        request is from."""
        creds = parse_authorization(authorization) if authorization else None
        if (
            creds is not None
            and speaks_for_others is not None
            and creds.username != user
            and speaks_for_others(creds.username)
        ):
            user = creds.username
        ip = source[0]
        if self.limits.blocked(user, ip):
            return FORBIDDEN
        if creds is None:
            return self._challenge(method, ip)
        if request_uri is not None and uri_key(creds.uri) != uri_key(request_uri):
            # A client's mistake, not a guess at a password: not counted, which would
            # block every phone behind the same address.
            return Reply(400, "Bad Request (digest uri is not the Request-URI)")
        account = self._accounts(user)
        usable = account is not None and account.enabled and creds.username == user
        verdict = self._authority.verify(
            creds, account.password if usable and account else None, method, ip
        )
        if verdict is Verdict.UNKNOWN:
            return self._challenge(method, ip)
        if verdict is Verdict.STALE:
            return self._challenge(method, ip, stale=True)
        if verdict is Verdict.BAD or account is None:
            blocks = self.limits.failed(user, ip)
            user = user[:MAX_KEY]  # what a guesser names goes to the log within bounds
            if blocks.address:
                log.warning("SIP address blocked", extra={"ip": ip, "seconds": blocks.address})
            if blocks.key:
                log.warning("SIP extension blocked", extra={"user": user, "seconds": blocks.key})
            log.info("authentication refused", extra={"user": user, "ip": ip, "method": method})
            return FORBIDDEN
        self.limits.succeeded(user, ip)
        return account

    def register(self, request: RegisterRequest) -> Reply:
        """Answer one REGISTER."""
        checked = self.authenticate(
            request.user, request.authorization, request.source, "REGISTER", request.request_uri
        )
        if isinstance(checked, Reply):
            return checked
        return self._update(checked, request)

    def _update(self, account: Account, request: RegisterRequest) -> Reply:
        number = account.number
        if request.contact is None:
            current = self.binding(number)
            if current is None:
                return Reply(200, "OK")
            left = int(current.expires_at - self._monotonic())
            return Reply(200, "OK", (("Contact", f"<{current.contact}>;expires={left}"),))
        expires = self._default if request.expires is None else request.expires
        if request.contact == "*" or expires == 0:
            if request.contact == "*" and expires != 0:
                return Reply(400, "Bad Request")
            self._remove(number, "unregistered")
            return Reply(200, "OK")
        if expires < self._min:
            return Reply(423, "Interval Too Brief", (("Min-Expires", str(self._min)),))
        expires = min(expires, self._max)
        binding = Binding(
            number=number,
            company_id=account.company_id,
            contact=request.contact,
            source=request.source,
            expires_at=self._monotonic() + expires,
            registered_at=self._wall(),
            user_agent=request.user_agent,
        )
        with self._lock:
            renewed = number in self._bindings
            self._bindings[number] = binding
            closed = self._closed_connections.pop(number, None)
        moved = closed is not None and closed != binding.target[0]
        if moved and self.reconnected is not None and is_websocket(binding.target):
            self.reconnected(str(closed), binding.target[0])
        if self._on_binding is not None:
            self._on_binding(binding)
        if not renewed:
            self._emit(Registered(self._monotonic(), number, account.company_id, request.source))
        return Reply(200, "OK", (("Contact", f"<{request.contact}>;expires={expires}"),))

    def binding(self, number: str) -> Binding | None:
        """The live binding of an extension, if any."""
        binding = self._bindings.get(number)
        if binding is None:
            return None
        if binding.expires_at <= self._monotonic():
            self._remove(number, "expired")
            return None
        account = self._accounts(number)
        if account is None or not account.enabled:
            self._remove(number, "disabled")
            return None
        return binding

    def expire(self) -> None:
        """Drop bindings that ran out (called periodically)."""
        for number in list(self._bindings):
            self.binding(number)

    def connection_closed(self, connection: str) -> None:
        """A browser's WebSocket connection closed: its bindings are gone."""
        for number, binding in list(self._bindings.items()):
            if binding.target == (connection, 0):
                self._closed_connections[number] = connection
                self._remove(number, "closed")

    def _remove(self, number: str, reason: str) -> None:
        with self._lock:
            binding = self._bindings.pop(number, None)
        if binding is not None:
            self._emit(Unregistered(self._monotonic(), number, binding.company_id, reason))
