"""sippy's user agent as callyard's calls use it (UPDATE and REFER answered)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

_UA_CLASS: Any = None


def answer_updates() -> None:
    """Make an established dialog answer UPDATE (RFC 3311; session refreshes, RFC 4028)
    with its UA's `update_handler`; sippy leaves it unanswered."""
    from sippy.MsgBody import MsgBody
    from sippy.SipGenericHF import SipGenericHF
    from sippy.SipHeader import SipHeader
    from sippy.UaStateConnected import UaStateConnected

    def update(state: Any, request: Any) -> None:
        ua = state.ua
        handler = getattr(ua, "update_handler", None)
        code, reason, body = handler(request.getBody()) if handler else (200, "OK", None)
        if isinstance(body, str):
            body = MsgBody(body)
        response = request.genResponse(code, reason, body, server=ua.local_ua)
        if code < 300 and ua.lContact is not None:
            response.appendHeader(SipHeader(name="contact", body=ua.lContact))
        ua.global_config["_sip_tm"].sendResponse(response)

    def refer(state: Any, request: Any) -> None:
        ua = state.ua
        if request.countHFs("refer-to") == 0:
            request.sendResponse(400, "Bad Request (no Refer-To)")
            return
        target = request.getHFBody("refer-to").getUrl()
        dialed = str(target.username or "")
        # An attended transfer names the dialog the target is to replace (RFC 3891).
        headers = {name.lower(): value for name, value in (target.headers or {}).items()}
        replaces = headers.get("replaces")
        handler = getattr(ua, "refer_handler", None)
        if handler is None:
            code, reason, then = 501, "Not Implemented", None
        else:
            code, reason, then = handler(dialed, replaces)
        request.sendResponse(code, reason)
        if then is None:
            return
        # RFC 3515: the referrer learns how the REFER went, then this dialog ends.
        notify = ua.genRequest(
            "NOTIFY",
            body=MsgBody("SIP/2.0 200 OK\r\n", mtype="message/sipfrag"),
            extra_headers=(
                SipHeader(name="event", body=SipGenericHF("refer")),
                SipHeader(
                    name="subscription-state", body=SipGenericHF("terminated;reason=noresource")
                ),
            ),
        )
        ua.newTransaction(notify)
        then()

    UaStateConnected.recv_request_handlers = {
        **UaStateConnected.recv_request_handlers,
        "UPDATE": update,
        "REFER": refer,
    }


def _when_final(then: Callable[[], None], resp: Any, *_: Any) -> None:
    if resp.getSCode()[0] >= 200:
        then()


def user_agent_class() -> Any:
    """sippy's UA, except that a final error answer to an INVITE reaches the UA only after
    the transaction has sent its ACK.

    sippy hands the response to the UA first; on a 401/407 the UA then sends the
    authenticated INVITE before the ACK of the challenge, which strict carriers reject.
    Deferring to the next turn of the event loop puts the ACK first.
    """
    global _UA_CLASS
    if _UA_CLASS is None:
        from sippy.Core.EventDispatcher import ED2
        from sippy.UA import UA

        class OrderedUA(UA):  # type: ignore[misc]
            # Answers an UPDATE's offer: (status, reason, SDP body or None).
            update_handler: Callable[[Any], tuple[int, str, Any]] | None = None
            # Answers a REFER to a user (and the dialog it replaces, if it names one):
            # (status, reason, what to do once answered).
            refer_handler: Callable[[str, str | None], tuple[int, str, Any]] | None = None

            # Called once, when the BYE this UA sends next is answered or times out.
            on_hung_up: Callable[[], None] | None = None

            def newTransaction(self, req: Any, req_extra_headers: Any = None, **kwa: Any) -> Any:
                then = self.on_hung_up
                if then is not None and req.getMethod() == "BYE" and "resp_cb" not in kwa:
                    self.on_hung_up = None
                    kwa["resp_cb"] = partial(_when_final, then)
                return super().newTransaction(req, req_extra_headers, **kwa)

            def recvResponse(self, resp: Any, tr: Any) -> None:
                if resp.getSCode()[0] >= 300:
                    ED2.callFromThread(super().recvResponse, resp, tr)
                    return
                super().recvResponse(resp, tr)

        answer_updates()

        _UA_CLASS = OrderedUA
    return _UA_CLASS
