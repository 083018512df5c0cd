"""Requests checked as sippy parses them.

sippy parses headers lazily: a header that does not parse raises wherever it is first
read, in the transaction manager (From, CSeq: the request is dropped unanswered) or in
callyard's handling (To, Contact, Expires, credentials: a 500). Here the headers that
either reads are parsed as the request arrives, and a request with one that does not
parse is answered 400 Bad Request naming it, by sippy's transaction manager, which
answers a parse error with the response it carries (an ACK is never answered).
"""

from __future__ import annotations

from typing import Any

# The headers sippy's transaction manager and callyard's handling of requests read.
CHECKED = (
    "via",
    "from",
    "to",
    "call-id",
    "cseq",
    "contact",
    "expires",
    "authorization",
    "proxy-authorization",
)


def check_requests() -> None:
    """Make sippy's transaction manager parse requests with `CheckedRequest` (in the SIP
    thread, once)."""
    import sippy.SipTransactionManager as manager
    from sippy.Exceptions.SipParseError import SipParseError
    from sippy.SipRequest import SipRequest
    from sippy.SipResponse import SipResponse

    class Malformed(SipParseError):  # type: ignore[misc]
        """A request to answer with `sip_response`."""

        def getResponse(self, req: Any = None) -> Any:
            # The transaction manager asks without the request (sippy's own
            # SipParseError then raises).
            return self.sip_response

    class CheckedRequest(SipRequest):  # type: ignore[misc]
        """A request whose headers callyard reads all parse."""

        def __init__(self, buf: str | None = None, *args: Any, **kwargs: Any) -> None:
            try:
                super().__init__(buf, *args, **kwargs)
            except SipParseError as exc:  # a body shorter than its Content-Length
                raise self._refusal(str(exc), exc.sip_response) from exc
            if buf is None:
                return
            for name in CHECKED:
                for header in self.getHFs(name):
                    try:
                        header.getBody()
                    except Exception as exc:
                        raise self._malformed(header.body.getCanName(name)) from exc

        def _malformed(self, name: str) -> Exception:
            problem = f"bad {name} header"
            if not self.countHFs("call-id"):
                return ValueError(problem)  # no response can be formed
            # The headers as they came (a body that did not parse is written as is).
            first = {key: self.getHFs(key)[0].body for key in ("from", "to", "call-id", "cseq")}
            response = SipResponse(
                scode=400,
                reason=f"Bad Request ({problem})",
                sipver="SIP/2.0",
                vias=[header.body for header in self.getHFs("via")],
                fr0m=first["from"],
                to=first["to"],
                callid=first["call-id"],
                cseq=first["cseq"],
            )
            return self._refusal(problem, response)

        def _refusal(self, problem: str, response: Any) -> Exception:
            """What to raise: the response to send, unless there is none or the
            request is an ACK (never answered)."""
            if response is None or self.getMethod() == "ACK":
                return ValueError(problem)
            return Malformed(problem, sip_response=response)

    manager.SipRequest = CheckedRequest
