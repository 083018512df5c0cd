"""Phone numbers as people write them."""

from __future__ import annotations

import re

WRITTEN = re.compile(r"\+?[0-9 ().\-]+")
SEPARATORS = re.compile(r"[ ().\-]")


def without_separators(value: str) -> str:
    """`+62 (812) 345-6789` or `0812.345.678` as its digits (and leading `+`); a text that
    is not written that way is returned stripped, for the caller's check to refuse."""
    text = value.strip()
    return SEPARATORS.sub("", text) if WRITTEN.fullmatch(text) else text
