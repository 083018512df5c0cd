"""Header names as the standards spell them, going out and coming in.

Header names are case-insensitive, but some phones only recognise the canonical
spelling (one did not register with `Www-authenticate`): sippy spells the headers it has
no class for by capitalising the first letter only. Here every such header goes out as
the RFCs spell it (a table for those with a spelling of their own, else each word
capitalised: `Min-Expires`, `Session-Expires`). Coming in, compact forms (RFC 3261 7.3.3
and the extensions that define one) are read as their full names, for sippy's classes
and callyard's look-ups alike.
"""

from __future__ import annotations

from typing import Any

# Names whose canonical spelling is not each word capitalised.
SPELLINGS = {
    "www-authenticate": "WWW-Authenticate",
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "rseq": "RSeq",
    "rack": "RAck",
    "min-se": "Min-SE",
    "mime-version": "MIME-Version",
    "sip-etag": "SIP-ETag",
    "sip-if-match": "SIP-If-Match",
    "p-asserted-identity": "P-Asserted-Identity",
    "p-preferred-identity": "P-Preferred-Identity",
    "alert-info": "Alert-Info",
    "call-info": "Call-Info",
}
# Compact forms and the names they stand for.
COMPACT = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "n": "identity-info",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}


def canonical_name(name: str) -> str:
    """`name` spelled as the standards spell it."""
    lowered = name.lower()
    return SPELLINGS.get(lowered) or "-".join(word.capitalize() for word in lowered.split("-"))


def spell_headers_canonically() -> None:
    """Make sippy spell header names canonically and read compact forms (once, in the
    SIP thread, before any message)."""
    from sippy.SipGenericHF import SipGenericHF
    from sippy.SipHeader import SipHeader

    def spelled(self: Any, name: str, compact: bool = False) -> str:
        return canonical_name(name)

    SipGenericHF.getCanName = spelled
    parse = SipHeader.__init__

    def expanded(
        self: Any,
        s: str | None = None,
        name: str | None = None,
        body: Any = None,
        bodys: Any = None,
        fixname: bool = False,
    ) -> None:
        if s is not None:
            name, bodys = (part.strip() for part in s.split(":", 1))
            s = None
        if name is not None:
            name = COMPACT.get(name.lower(), name)
        parse(self, s, name, body, bodys, fixname)

    SipHeader.__init__ = expanded
