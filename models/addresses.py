"""French postal addresses: the NF Z10-011 block, and what a postcode tells about the debtor.

The block is printed in the window of a DL envelope: at most 6 lines of at most 38 characters,
recipient first, then the street lines, then "POSTCODE LOCALITY", then the country for abroad.
Postal practice (La Poste, after NF Z10-011), applied here:
- everything in capitals, runs of whitespace collapsed, empty lines dropped;
- no comma in the street lines ("12, rue" becomes "12 RUE");
- the locality and country lines carry no accent and no punctuation at all (every sign,
  hyphens included, becomes a space: "AIX EN PROVENCE", as in La Poste's locality labels);
  "CEDEX 08" stays on the locality line;
- a line too long is shortened with the standard abbreviations of street types and titles
  (AVENUE -> AV, SAINT -> ST...), applied one at a time until it fits; recipient lines are
  never abbreviated.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from babel import Locale


class AddressError(ValueError):
    """An address that cannot be printed; messages name lines by position, never content."""


MAX_LINES = 6
MAX_LINE_LENGTH = 38

_POSTCODE = re.compile(r"\d{5}")

# First three digits -> overseas region code; 971 is refined below.
_OVERSEAS_BY_PREFIX = {
    "971": "GP",
    "972": "MQ",
    "973": "GF",
    "974": "RE",
    "975": "PM",
    "976": "YT",
    "986": "WF",
    "987": "PF",
    "988": "NC",
}
# Saint-Barthélemy and Saint-Martin still use Guadeloupe's 971 series.
_SPECIAL_POSTCODES = {"97133": "BL", "97150": "MF"}

# Codes of holidays.France.subdivisions (holidays 0.109): "6AE" is Alsace (67, 68), "57"
# Moselle; overseas departments use their department number, collectivities their ISO code.
_HOLIDAY_SUBDIVISIONS = {
    "GP": "971",
    "MQ": "972",
    "GF": "973",
    "RE": "974",
    "YT": "976",
    "PM": "PM",
    "BL": "BL",
    "MF": "MF",
    "WF": "WF",
    "PF": "PF",
    "NC": "NC",
}

# A short list of the standard abbreviations (NF Z10-011 / La Poste), in the order they are
# tried: street types first, then building parts, then titles and saints.
ABBREVIATIONS = (
    ("BOULEVARD", "BD"),
    ("AVENUE", "AV"),
    ("FAUBOURG", "FG"),
    ("IMPASSE", "IMP"),
    ("LOTISSEMENT", "LOT"),
    ("RESIDENCE", "RES"),
    ("CHEMIN", "CHE"),
    ("ROUTE", "RTE"),
    ("PLACE", "PL"),
    ("ALLEE", "ALL"),
    ("SQUARE", "SQ"),
    ("QUARTIER", "QUA"),
    ("BATIMENT", "BAT"),
    ("APPARTEMENT", "APP"),
    ("ESCALIER", "ESC"),
    ("GENERAL", "GAL"),
    ("MARECHAL", "MAL"),
    ("PRESIDENT", "PDT"),
    ("DOCTEUR", "DR"),
    ("SAINTE", "STE"),
    ("SAINT", "ST"),
)


def _valid_postcode(postcode: str) -> str:
    code = postcode.strip() if isinstance(postcode, str) else ""
    if not _POSTCODE.fullmatch(code):
        raise AddressError("code postal invalide: 5 chiffres attendus")
    return code


# Memoised (lru_cache) where the argument is a postcode, a locality or a country: a portfolio
# repeats a few thousand of them over a million rows.
@lru_cache(maxsize=8192)
def region_for_postcode(postcode: str) -> str:
    """Region code of a French postcode: "FR" for metropolitan France, else the overseas code
    (the same codes as phone regions, see models.phones.REGION_TIMEZONES)."""
    code = _valid_postcode(postcode)
    if code in _SPECIAL_POSTCODES:
        return _SPECIAL_POSTCODES[code]
    return _OVERSEAS_BY_PREFIX.get(code[:3], "FR")


@lru_cache(maxsize=8192)
def holiday_subdivision(postcode: str) -> str | None:
    """The `subdiv` to pass to holidays.France for this postcode, None for the national calendar.

    Alsace-Moselle is found by the department in the first two digits (57, 67, 68).
    """
    code = _valid_postcode(postcode)
    region = region_for_postcode(code)
    if region != "FR":
        return _HOLIDAY_SUBDIVISIONS[region]
    if code[:2] == "57":
        return "57"
    if code[:2] in ("67", "68"):
        return "6AE"
    return None


def address_block(
    recipient_lines: Sequence[str],
    street_lines: Sequence[str],
    postcode: str,
    city: str,
    country: str | None = None,
) -> list[str]:
    """The lines to print in the envelope window, or AddressError saying what is wrong."""
    recipients = [_clean(line) for line in recipient_lines]
    recipients = [line for line in recipients if line]
    if not recipients:
        raise AddressError("destinataire manquant")
    streets = [_clean(line).replace(",", " ") for line in street_lines]
    streets = [" ".join(line.split()) for line in streets]
    streets = [line for line in streets if line]

    abroad = _is_abroad(country)
    locality = _bare(city)
    if not locality:
        raise AddressError("localité manquante")
    if abroad:
        code = _bare(postcode or "")
        last = [f"{code} {locality}".strip(), _bare(_country_name(country))]
    else:
        last = [f"{_valid_postcode(postcode)} {locality}"]

    lines = recipients + streets + last
    if len(lines) > MAX_LINES:
        raise AddressError(f"adresse trop longue: {len(lines)} lignes (max {MAX_LINES})")
    first_abbreviable = len(recipients)
    result = []
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_LENGTH and number > first_abbreviable:
            line = _abbreviate(line)
        if len(line) > MAX_LINE_LENGTH:
            raise AddressError(
                f"ligne {number} trop longue: {len(line)} caractères (max {MAX_LINE_LENGTH})"
            )
        result.append(line)
    return result


def _clean(line: str) -> str:
    return " ".join((line or "").split()).upper()


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=8192)
def _bare(text: str) -> str:
    """Capitals, no accent, no punctuation: the form of the locality and country lines."""
    text = _strip_accents(text).upper()
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", text).split())


def _is_abroad(country: str | None) -> bool:
    return bool(country and country.strip()) and _bare(country) not in ("FR", "FRA", "FRANCE")


def _country_name(country: str) -> str:
    """French name for an ISO 3166 alpha-2 code ("DE" -> "Allemagne"); other text as given."""
    code = country.strip().upper()
    if len(code) == 2:
        return Locale("fr").territories.get(code, country)
    return country


def _abbreviate(line: str) -> str:
    words = line.split(" ")
    plain = [_strip_accents(w) for w in words]
    for long, short in ABBREVIATIONS:
        if long not in plain:
            continue
        words = [short if p == long else w for w, p in zip(words, plain)]
        plain = [short if p == long else p for p in plain]
        if len(" ".join(words)) <= MAX_LINE_LENGTH:
            break
    return " ".join(words)
