"""Money: one constructor, one rounding point, one French-aware parser, one formatter.

Amounts are `Decimal` quantized to the cent, never float: a float has already lost the
exact value by the time it reaches us, so `money(0.1)` is refused rather than guessed.

Rounding is ROUND_HALF_UP (0.125 -> 0.13), the mode French statements and courts use;
`round_cents` is the one named place where it happens.
"""

from __future__ import annotations

import re
from functools import lru_cache
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel import Locale
from babel.numbers import format_currency

_FR = Locale.parse("fr_FR")

__all__ = [
    "CENT",
    "MAX_AMOUNT",
    "MoneyError",
    "format_money",
    "money",
    "parse_money",
    "round_cents",
]

CENT = Decimal("0.01")
# Exclusive bound: Numeric(14, 2) holds 12 integer digits.
MAX_AMOUNT = Decimal(10) ** 12


class MoneyError(ValueError):
    """An amount that cannot be read, or lies outside the bounds."""


def _show(text: str) -> str:
    """The offending text for an error message, cut so a huge cell cannot flood a report."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


def round_cents(d: Decimal) -> Decimal:
    """Round to the cent, half up. Negative zero becomes zero so it never prints "-0,00"."""
    rounded = d.quantize(CENT, rounding=ROUND_HALF_UP)
    return rounded if rounded else abs(rounded)


def _checked(d: Decimal, shown: str) -> Decimal:
    if not d.is_finite():
        raise MoneyError(f"montant invalide (not a finite number): {shown}")
    # Bound before quantizing: quantize would raise InvalidOperation on huge exponents.
    if abs(d) >= MAX_AMOUNT:
        raise MoneyError(f"montant hors bornes (abs must be < 10^12): {shown}")
    rounded = round_cents(d)
    if abs(rounded) >= MAX_AMOUNT:  # 999999999999.995 rounds up to the bound
        raise MoneyError(f"montant hors bornes (abs must be < 10^12): {shown}")
    return rounded


def money(value: Decimal | int | str) -> Decimal:
    """Build an amount from a Decimal, an int or a canonical string ("1234.56").

    Strings here are program-made (Decimal syntax); text typed by people goes through
    `parse_money`. Floats and bools raise TypeError: both are bugs at the call site.
    """
    if isinstance(value, (float, bool)) or not isinstance(value, (Decimal, int, str)):
        raise TypeError(f"money needs a Decimal, int or str, not {type(value).__name__}")
    if isinstance(value, str):
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise MoneyError(f"montant illisible (not a decimal number): {_show(value)}") from None
        return _checked(d, _show(value))
    return _checked(Decimal(value), _show(str(value)))


# Spaces people and spreadsheets put between thousands: space, no-break space (U+00A0),
# narrow no-break space (U+202F, Babel's fr_FR group separator), thin space (U+2009).
_SPACES = " \u00a0\u202f\u2009"
_SPACE_RUN = re.compile(f"[{_SPACES}]+")
_MINUS = ("-", "\u2212")  # hyphen-minus and the typographic minus sign
_CURRENCY = re.compile(r"^(?:€|EUR)|(?:€|EUR)$", re.IGNORECASE)
_BODY = re.compile(r"[0-9., ]+", re.ASCII)


def _integer_digits(part: str, group: str | None, shown: str) -> str:
    """The digits of the integer part, checking thousands groups when a separator is used."""
    if group is None:
        if not part.isdigit():
            raise MoneyError(f"montant illisible: {shown}")
        return part
    groups = part.split(group)
    first, rest = groups[0], groups[1:]
    # Strict grouping (1-3 digits then groups of exactly 3) is what makes "1.234.567" or
    # "1 234" safe to read as thousands; anything looser is more likely a typo.
    if not (1 <= len(first) <= 3 and first.isdigit()) or any(
        len(g) != 3 or not g.isdigit() for g in rest
    ):
        raise MoneyError(f"séparateur de milliers mal placé (bad thousands grouping): {shown}")
    return "".join(groups)


def parse_money(text: str) -> Decimal:
    """Read an amount as found in French and international files; raise MoneyError otherwise.

    Accepted: "1 234,56 €" (plain, no-break or narrow no-break spaces), "1.234,56",
    "1,234.56", "1234.56", "1234", "0,5", "-12,5", "12,5 EUR", "€12", "-12 €".

    Rules, chosen so that an ambiguous amount is refused rather than guessed:
    - the currency, if any, is "€" or "EUR", once, at the start or the end;
    - a sign is a leading "-" (or U+2212) or "+"; accounting parentheses "(12,50)" are refused;
    - spaces between digits are always thousands separators, never the decimal one;
    - if both "." and "," appear, the last one is the decimal separator and the other one
      groups thousands ("1.234,56" and "1,234.56");
    - if only one of them appears: once, it is the decimal separator ("12,5", "1234.56");
      several times, it groups thousands ("1.234.567" -> 1234567);
    - thousands groups must be strict: 1 to 3 digits, then groups of exactly 3;
    - the decimal part has 1 or 2 digits. So "1.234" and "12,345" raise MoneyError: they are
      either 1 234 with grouping or 1.234 with three decimals, and we do not guess;
    - the result must satisfy abs(amount) < 10^12.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_money reads text, not {type(text).__name__}")
    shown = _show(text)
    s = text.strip()
    if not s:
        raise MoneyError(f"montant vide (empty amount): {shown}")

    negative = False
    if s[0] in _MINUS or s[0] == "+":
        negative, s = s[0] in _MINUS, s[1:].strip()
    s, found = _CURRENCY.subn("", s, count=1)
    s = s.strip()
    if found and s and (s[0] in _MINUS or s[0] == "+"):  # "€-12"
        if negative:
            raise MoneyError(f"montant illisible (two signs): {shown}")
        negative, s = s[0] in _MINUS, s[1:].strip()

    # One normal space for every kind; runs of spaces are not a grouping we accept.
    s = _SPACE_RUN.sub(lambda m: " " if len(m.group()) == 1 else "  ", s)
    if not s or not _BODY.fullmatch(s) or not any(c.isdigit() for c in s):
        raise MoneyError(f"montant illisible (not an amount): {shown}")

    has_dot, has_comma = "." in s, "," in s
    if has_dot and has_comma:
        decimal_sep = "." if s.rfind(".") > s.rfind(",") else ","
        group_sep: str | None = "," if decimal_sep == "." else "."
    elif has_dot or has_comma:
        sep = "." if has_dot else ","
        decimal_sep, group_sep = (sep, None) if s.count(sep) == 1 else (None, sep)
    else:
        decimal_sep = group_sep = None

    if decimal_sep is not None:
        if s.count(decimal_sep) != 1:
            raise MoneyError(f"montant illisible (several decimal separators): {shown}")
        integer_part, fraction = s.split(decimal_sep)
    else:
        integer_part, fraction = s, ""

    if " " in integer_part:
        if group_sep is not None:
            raise MoneyError(f"montant illisible (mixed thousands separators): {shown}")
        group_sep = " "
    if decimal_sep is not None:
        if not (1 <= len(fraction) <= 2 and fraction.isdigit()):
            if len(fraction) > 2 and fraction.isdigit():
                raise MoneyError(
                    f"montant ambigu ou plus de deux décimales (more than 2 decimals): {shown}"
                )
            raise MoneyError(f"montant illisible (bad decimal part): {shown}")
        # ",5" is unambiguous: an empty integer part means zero.
        digits = _integer_digits(integer_part, group_sep, shown) if integer_part else "0"
    else:
        digits = _integer_digits(integer_part, group_sep, shown)

    amount = Decimal(f"{'-' if negative else ''}{digits}.{fraction or '0'}")
    return _checked(amount, shown)


def format_money(amount: Decimal, currency: str = "EUR") -> str:
    """French display, e.g. "1 234,56 €" with Babel's narrow no-break spaces (U+202F, U+00A0).

    The amount is rounded half up first: Babel on its own rounds half to even.
    """
    if not isinstance(amount, (Decimal, int)) or isinstance(amount, bool):
        raise TypeError(f"format_money needs a Decimal, not {type(amount).__name__}")
    return _formatted(round_cents(Decimal(amount)), currency)


@lru_cache(maxsize=16384)
def _formatted(cents: Decimal, currency: str) -> str:
    # Babel parses its locale and pattern on every call (about 60 µs); a batch of letters and
    # emails formats the same few amounts again and again.
    return format_currency(cents, currency, locale=_FR)
