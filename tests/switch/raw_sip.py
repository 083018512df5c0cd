"""SIP written by hand and sent from a plain UDP socket, from any loopback address (all
of 127/8 is loopback): what a scanner, a password guesser or a forged source sends."""

from __future__ import annotations

import re
import secrets
import socket
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from callyard.testing.sip import digest_response, parse_digest


@dataclass(frozen=True)
class Answer:
    """A response as it came."""

    status: int
    reason: str
    text: str

    def header(self, name: str) -> str | None:
        found = re.search(rf"^{re.escape(name)}:[ \t]*(.*?)\r?$", self.text, re.I | re.M)
        return found.group(1) if found else None


def authorization(user: str, password: str, nonce: str, uri: str, method: str = "REGISTER") -> str:
    """A digest answer (qop=auth) to `nonce` in realm callyard."""
    nc, cnonce = "00000001", secrets.token_hex(4)
    response = digest_response(
        username=user, realm="callyard", password=password, method=method, uri=uri,
        nonce=nonce, qop="auth", nc=nc, cnonce=cnonce,
    )  # fmt: skip
    return (
        f'Digest username="{user}", realm="callyard", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"'
    )


class SipSocket:
    """A UDP socket that sends requests to the switch at `server` from `source`."""

    def __init__(self, server: tuple[str, int], source: tuple[str, int] = ("127.0.0.1", 0)):
        self.server = server
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(source)
        self.address: tuple[str, int] = self._socket.getsockname()

    @property
    def uri(self) -> str:
        """The switch's URI, a REGISTER's Request-URI."""
        return f"sip:{self.server[0]}:{self.server[1]}"

    def request(
        self,
        method: str,
        user: str,
        headers: dict[str, str] | None = None,
        *,
        uri: str | None = None,
        cseq: int = 1,
        call_id: str | None = None,
        body: str = "",
    ) -> str:
        """A request from `user` (To and From name it, as in a REGISTER); `headers`
        add to or replace the usual ones."""
        host, port = self.address
        fields = {
            "Via": f"SIP/2.0/UDP {host}:{port};branch=z9hG4bK{secrets.token_hex(8)}",
            "Max-Forwards": "70",
            "From": f"<sip:{user}@{self.server[0]}>;tag={secrets.token_hex(4)}",
            "To": f"<sip:{user}@{self.server[0]}>",
            "Call-ID": call_id or f"{secrets.token_hex(8)}@{host}",
            "CSeq": f"{cseq} {method}",
            "Contact": f"<sip:{user}@{host}:{port}>",
            "Expires": "600",
            **(headers or {}),
        }
        if body:
            fields["Content-Type"] = "application/sdp"
        lines = [f"{method} {uri or self.uri} SIP/2.0", *(f"{k}: {v}" for k, v in fields.items())]
        return "\r\n".join([*lines, f"Content-Length: {len(body.encode())}", "", body])

    def send(self, datagram: bytes | str) -> None:
        self._socket.sendto(
            datagram.encode() if isinstance(datagram, str) else datagram, self.server
        )

    def ask(self, message: str, timeout: float = 10.0) -> Answer:
        """Send `message` (again each second) until its final response comes."""
        call_id = re.search(r"^Call-ID: *(.*?)\r?$", message, re.M)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.send(message)
            self._socket.settimeout(1.0)
            try:
                while True:
                    text = self._socket.recv(65536).decode(errors="replace")
                    first = text.split("\r\n", 1)[0].split(" ", 2)
                    if call_id and call_id.group(1) not in text:
                        continue  # an answer to an earlier request
                    if len(first) == 3 and first[1].isdigit() and int(first[1]) >= 200:
                        return Answer(int(first[1]), first[2], text)
            except TimeoutError:
                continue
        raise AssertionError(f"no answer from {self.server} to {message.splitlines()[0]}")

    def register(self, user: str, password: str, headers: dict[str, str] | None = None) -> Answer:
        """REGISTER `user`: its challenge, answered with `password`."""
        call_id = f"{secrets.token_hex(8)}@{self.address[0]}"
        challenge = self.ask(self.request("REGISTER", user, headers, call_id=call_id))
        offer = challenge.header("WWW-Authenticate")
        if challenge.status != 401 or offer is None:
            return challenge
        nonce = parse_digest(offer)["nonce"]
        answer = {
            **(headers or {}),
            "Authorization": authorization(user, password, nonce, self.uri),
        }
        return self.ask(self.request("REGISTER", user, answer, call_id=call_id, cseq=2))

    def nonce(self, user: str) -> str:
        """A nonce the switch issues to this socket's address."""
        offer = self.ask(self.request("REGISTER", user)).header("WWW-Authenticate")
        assert offer is not None
        return parse_digest(offer)["nonce"]

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
