"""SMS length arithmetic: GSM 03.38 (GSM-7) or UCS-2, and the number of segments billed.

A message is GSM-7 when every character is in the default alphabet or its extension table;
extension characters (^ { } \\ [ ~ ] | € and form feed) take an escape septet, so they count 2.
GSM-7: 160 septets in a single SMS, 153 per segment once split (the user data header takes 7).
UCS-2: 70 UTF-16 code units single, 67 per segment. Neither an escape pair nor a surrogate pair
is ever split across two segments, so a segment may carry one unit less than its capacity.

One character outside GSM-7 (a curly apostrophe, a "ê", the narrow no-break space that Babel puts
in "1 234,56 €") switches the WHOLE message to UCS-2: a 160-character relance then costs 3 segments
instead of 1. `to_gsm7()` replaces such characters by their closest GSM-7 spelling; it is applied to
every SMS by default (see `channels.templating`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GSM7",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "UCS2",
    "SmsLength",
    "is_gsm7",
    "measure",
    "septet_count",
    "to_gsm7",
]

GSM7: Literal["GSM-7"] = "GSM-7"
UCS2: Literal["UCS-2"] = "UCS-2"
Encoding = Literal["GSM-7", "UCS-2"]

# 3GPP TS 23.038 default alphabet, in code order 0x00-0x7F. 0x1B is the escape to the extension
# table, not a character of its own, so it is left out (as "\x00" never appears in text either way).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# Extension table: each costs the escape septet plus its own.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_CAPACITY = {GSM7: 160, UCS2: 70}
MULTIPART_CAPACITY = {GSM7: 153, UCS2: 67}

# Explicit replacements first; anything else falls back to dropping accents (NFKD).
_REPLACEMENTS = {
    "\u2019": "'", "\u2018": "'", "\u201a": "'", "\u2032": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "«": '"', "»": '"',
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "\u2008": " ", "\u200a": " ",
    "\u2002": " ", "\u2003": " ", "\t": " ",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...",
    "œ": "oe", "Œ": "OE",
    "ç": "c",  # only the capital Ç is in the default alphabet
    "\u200b": "", "\ufeff": "", "\u00ad": "",
    "\u2022": "-", "°": "o",
}


def septet_count(text: str) -> int | None:
    """Septets needed in GSM-7, or None when the text cannot be written in GSM-7."""
    total = 0
    for char in text:
        if char in GSM7_BASIC:
            total += 1
        elif char in GSM7_EXTENSION:
            total += 2
        else:
            return None
    return total


def is_gsm7(text: str) -> bool:
    return septet_count(text) is not None


def _units(text: str, encoding: Encoding) -> list[int]:
    """Cost of each character, in septets (GSM-7) or UTF-16 code units (UCS-2)."""
    if encoding == GSM7:
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


@dataclass(frozen=True)
class SmsLength:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def measure(text: str) -> SmsLength:
    """Encoding, length and number of segments of `text`, as a carrier would bill it."""
    encoding: Encoding = GSM7 if is_gsm7(text) else UCS2
    units = _units(text, encoding)
    total = sum(units)
    if total <= SINGLE_CAPACITY[encoding]:
        return SmsLength(encoding, total, 1)
    capacity = MULTIPART_CAPACITY[encoding]
    segments, used = 1, 0
    for cost in units:
        if used + cost > capacity:  # never split an escape or surrogate pair
            segments, used = segments + 1, 0
        used += cost
    return SmsLength(encoding, total, segments)


def _closest_gsm7(char: str) -> str:
    if char in GSM7_BASIC or char in GSM7_EXTENSION:
        return char
    if char in _REPLACEMENTS:
        return _REPLACEMENTS[char]
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
    )
    if stripped and is_gsm7(stripped):
        return stripped
    return char  # no honest GSM-7 spelling (emoji, CJK...): the message stays UCS-2


# French guillemets carry their own inner spaces: « Cœur » becomes "Coeur", not " Coeur ".
_GUILLEMET_OPEN = re.compile("«[ \u00a0\u202f]*")
_GUILLEMET_CLOSE = re.compile("[ \u00a0\u202f]*»")


class _Gsm7Table(dict):
    """code point -> closest GSM-7 spelling, worked out the first time a character is seen, for
    `str.translate` (a Python call per character cost 50 us an SMS)."""

    def __missing__(self, code: int) -> str:
        spelling = self[code] = _closest_gsm7(chr(code))
        return spelling


_GSM7_TABLE = _Gsm7Table()


def to_gsm7(text: str) -> str:
    """Replace characters outside GSM-7 by their closest GSM-7 spelling where one exists.

    "ê" -> "e", "ç" -> "c", "’" -> "'", "œ" -> "oe", "« »" -> '"', no-break spaces -> " ".
    Characters of the default alphabet are kept as they are ("é", "è", "à", "ù" stay).
    """
    text = _GUILLEMET_CLOSE.sub('"', _GUILLEMET_OPEN.sub('"', text))
    return text.translate(_GSM7_TABLE)
