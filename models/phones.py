"""Phone numbers: normalisation to E.164, line type, region and time zone.

French overseas numbers are usually written in the national 10-digit form (0692 12 34 56),
which phonenumbers reads as a metropolitan +33 number: invalid for most prefixes, and even
valid-looking for some (0269, Mayotte, reads as +33 2 69...). So, for a French default region,
a 10-digit national form is read first with the overseas region its prefix belongs to (ARCEP
plan), then with the default region, then FR, then each overseas region: the first valid
reading wins. This also reads a metropolitan mobile in the file of a Réunion debtor.

Saint-Pierre-et-Miquelon numbers are 6 digits and never written in the 10-digit form; read them
with default_region="PM" (see `models.addresses.region_for_postcode`).

Error messages never carry the number itself (messages end up in logs), only a masked form.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

from models.enums import LineType


class PhoneError(ValueError):
    """A phone number that cannot be used; the message holds a masked form only."""


@dataclass(frozen=True)
class Phone:
    e164: str
    line_type: LineType
    region: str


OVERSEAS_REGIONS = ("RE", "YT", "GP", "MQ", "GF", "PM", "BL", "MF")
# Regions whose numbers a French file writes in the national 10-digit form.
_FRENCH_REGIONS = frozenset(("FR", *OVERSEAS_REGIONS))

# ARCEP national prefixes of the overseas departments (fixed 0262..., mobile 0692...).
# 0590/0690 also cover Saint-Barthélemy and Saint-Martin: the final region comes from the
# number itself, not from this table.
_OVERSEAS_PREFIXES = {
    "0262": "RE", "0263": "RE", "0692": "RE", "0693": "RE",
    "0269": "YT", "0639": "YT",
    "0590": "GP", "0690": "GP", "0691": "GP",
    "0596": "MQ", "0696": "MQ", "0697": "MQ",
    "0594": "GF", "0694": "GF",
}  # fmt: skip

# FIXED_LINE_OR_MOBILE (whole countries such as the US, never France) counts as FIXED: the
# number may be called, but an SMS is only sent where the line is known to be a mobile.
_LINE_TYPES = {
    PhoneNumberType.MOBILE: LineType.MOBILE,
    PhoneNumberType.FIXED_LINE: LineType.FIXED,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: LineType.FIXED,
    PhoneNumberType.VOIP: LineType.VOIP,
}

_REASONS = {
    ValidationResult.TOO_SHORT: "trop court",
    ValidationResult.TOO_LONG: "trop long",
    ValidationResult.INVALID_LENGTH: "longueur incorrecte",
    ValidationResult.INVALID_COUNTRY_CODE: "indicatif pays inconnu",
}


def mask_phone(raw: str) -> str:
    """First two and last two digits only: "06 12 34 56 78" -> "06******78"."""
    digits = "".join(c for c in raw if c.isdigit())
    if len(digits) <= 4:
        return "*" * len(digits)
    masked = digits[:2] + "*" * (len(digits) - 4) + digits[-2:]
    return "+" + masked if raw.lstrip().startswith("+") else masked


def normalise_phone(raw: str, default_region: str = "FR") -> Phone:
    """Parse and validate a number as written in a file; raise PhoneError if unusable."""
    if not isinstance(raw, str):
        raise PhoneError(f"numéro invalide: texte attendu, reçu {type(raw).__name__}")
    if not raw.strip():
        raise PhoneError("numéro invalide: vide")
    number = None
    if default_region in _FRENCH_REGIONS and _is_national_form(raw):
        # Most numbers in a French file: one parse in the region their prefix names.
        number = _french_national_reading(raw, default_region)
    if number is None:
        try:
            number = phonenumbers.parse(raw, default_region)
        except NumberParseException:
            raise _invalid("illisible", raw) from None
        if not phonenumbers.is_valid_number(number):
            reason = _REASONS.get(
                phonenumbers.is_possible_number_with_reason(number), "hors plan de numérotation"
            )
            raise _invalid(reason, raw)
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        line_type=_LINE_TYPES.get(phonenumbers.number_type(number), LineType.OTHER),
        region=phonenumbers.region_code_for_number(number) or "",
    )


def _invalid(reason: str, raw: str) -> PhoneError:
    masked = mask_phone(raw)
    return PhoneError(f"numéro invalide: {reason}" + (f" ({masked})" if masked else ""))


def _is_national_form(raw: str) -> bool:
    """Ten digits starting with a single 0: the French way of writing any French number."""
    digits = "".join(c for c in raw if c.isdigit())
    return (
        not raw.lstrip().startswith("+")
        and len(digits) == 10
        and digits[0] == "0"
        and digits[1] != "0"
    )


def _french_national_reading(raw: str, default_region: str) -> phonenumbers.PhoneNumber | None:
    """The first valid reading: the prefix's overseas region, the default, FR, the others."""
    digits = "".join(c for c in raw if c.isdigit())
    candidates = [_OVERSEAS_PREFIXES.get(digits[:4]), default_region, "FR", *OVERSEAS_REGIONS]
    for region in dict.fromkeys(r for r in candidates if r):
        try:
            number = phonenumbers.parse(raw, region)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
    return None


class PhoneNormaliser:
    """`normalise_phone` with a bounded LRU cache keyed by the raw text.

    Imports repeat the same numbers many times and a parse costs about 70 µs, so each distinct
    raw text is parsed once. Failures are cached too (as their message) and raised again.
    Thread-safe: the cache sits behind a lock.

    Numbers in the French 10-digit national form are also memoised by block: in phonenumbers'
    patterns for FR and the overseas regions, every number type constrains at most the first
    five digits of the nine-digit national number, then ends in a free \\d{4}; so validity, line
    type and region are fixed by those five digits and a portfolio of a million distinct numbers
    costs a few thousand parses. A unit test checks this block reading against a full
    parse for numbers drawn across every prefix.
    """

    BLOCK_DIGITS = 6  # the trunk 0 plus five digits of the national number

    def __init__(self, default_region: str = "FR", maxsize: int = 200_000) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.default_region = default_region
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._cache: OrderedDict[str, Phone | str] = OrderedDict()
        self._blocks: dict[str, tuple[str, LineType, str] | str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._cache)

    def normalise(self, raw: str) -> Phone:
        if not isinstance(raw, str):  # unhashable or wrong type: let the parser say why
            return normalise_phone(raw, self.default_region)
        with self._lock:
            cached = self._cache.get(raw)
            if cached is not None:
                self._cache.move_to_end(raw)
                self.hits += 1
        if cached is None:
            cached = self._by_block(raw)
            if cached is None:
                try:
                    cached = normalise_phone(raw, self.default_region)
                except PhoneError as exc:
                    cached = str(exc)
            with self._lock:
                self.misses += 1
                self._cache[raw] = cached
                if len(self._cache) > self.maxsize:
                    self._cache.popitem(last=False)
        if isinstance(cached, str):
            # A fresh exception each time: re-raising one instance would grow its traceback.
            raise PhoneError(cached)
        return cached


    def _by_block(self, raw: str) -> Phone | str | None:
        if self.default_region not in _FRENCH_REGIONS or not _is_national_form(raw):
            return None
        digits = "".join(c for c in raw if c.isdigit())
        key = digits[: self.BLOCK_DIGITS]
        block = self._blocks.get(key)
        if block is None:
            try:
                phone = normalise_phone(raw, self.default_region)
            except PhoneError as exc:
                block = str(exc).rsplit(" (", 1)[0]
            else:
                block = (phone.e164[: -(len(digits) - 1)], phone.line_type, phone.region)
            with self._lock:
                self._blocks[key] = block
        if isinstance(block, str):
            return f"{block} ({mask_phone(raw)})"
        prefix, line_type, region = block
        return Phone(prefix + digits[1:], line_type, region)


REGION_TIMEZONES = {
    "FR": "Europe/Paris",
    "RE": "Indian/Reunion",
    "YT": "Indian/Mayotte",
    "GP": "America/Guadeloupe",
    "MQ": "America/Martinique",
    "GF": "America/Cayenne",
    "PM": "America/Miquelon",
    "BL": "America/St_Barthelemy",
    "MF": "America/Marigot",
    "NC": "Pacific/Noumea",
    "PF": "Pacific/Tahiti",
    "WF": "Pacific/Wallis",
}


def timezone_for_region(region: str | None) -> str:
    """IANA zone for a French region code; Europe/Paris for anything else."""
    return REGION_TIMEZONES.get((region or "").upper(), "Europe/Paris")
