"""Dates: the one parser used at import boundaries, French display, half-years, calendar steps.

Nothing here reads the clock; callers pass the dates they mean.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from babel.dates import format_date as _babel_format_date

__all__ = [
    "DateParseError",
    "add_months",
    "add_years",
    "format_date",
    "half_year",
    "half_year_label",
    "half_year_start",
    "parse_date",
]


class DateParseError(ValueError):
    """A date that cannot be read, or does not exist (2025-02-30)."""


def _show(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


# ASCII digits only: str.isdigit and \d would also take Arabic-Indic or superscript digits.
# Year first (ISO), optionally followed by a time that we ignore ("2025-12-31T00:00:00",
# "2025-12-31 00:00:00" as str(datetime) writes it); the date is taken as written, with no
# time-zone conversion.
_YEAR_FIRST = re.compile(
    r"(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
# Day first, the French order: 31/12/2025, 31-12-2025, 31.12.2025, 31/12/25.
_DAY_FIRST = re.compile(
    r"(?P<d>[0-9]{1,2})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?P=sep)(?P<y>[0-9]{4}|[0-9]{2})"
)


def _full_year(two_digits: int) -> int:
    """POSIX strptime's %y pivot: 00-68 -> 2000-2068, 69-99 -> 1969-1999."""
    return 2000 + two_digits if two_digits <= 68 else 1900 + two_digits


def parse_date(text: str) -> date:
    """Read a date written day first (French) or year first (ISO); raise DateParseError otherwise.

    Accepted: "31/12/2025", "31-12-2025", "31.12.2025", "31/12/25", "2025-12-31",
    "2025-12-31T00:00:00", "2025-12-31 00:00:00". Day-first with the month first
    (US "12/31/2025") is not guessed: it fails as month 31 does not exist.
    Two-digit years follow POSIX: 00-68 are 2000-2068 and 69-99 are 1969-1999.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_date reads text, not {type(text).__name__}")
    s = text.strip()
    if not s:
        raise DateParseError(f"date vide (empty date): {_show(text)}")
    match = _YEAR_FIRST.fullmatch(s) or _DAY_FIRST.fullmatch(s)
    if match is None:
        raise DateParseError(
            f"date illisible (expected JJ/MM/AAAA or AAAA-MM-JJ): {_show(text)}"
        )
    year_text = match["y"]
    year = _full_year(int(year_text)) if len(year_text) == 2 else int(year_text)
    try:
        return date(year, int(match["m"]), int(match["d"]))
    except ValueError as exc:
        raise DateParseError(f"date inexistante (no such date, {exc}): {_show(text)}") from None


def format_date(d: date, style: str = "long") -> str:
    """French display via Babel: "long" -> "31 décembre 2025", "short" -> "31/12/2025"."""
    if style not in ("long", "short"):
        raise ValueError(f"style must be 'long' or 'short', not {style!r}")
    return _babel_format_date(d, format=style, locale="fr_FR")


def half_year(d: date) -> tuple[int, int]:
    """(year, 1) for January-June, (year, 2) for July-December."""
    return d.year, 1 if d.month <= 6 else 2


def half_year_label(year: int, half: int) -> str:
    """ "2026 S2": the form used in messages and in the rate tables' documentation."""
    if half not in (1, 2):
        raise ValueError(f"half must be 1 or 2, not {half!r}")
    return f"{year} S{half}"


def half_year_start(year: int, half: int) -> date:
    """1 January or 1 July."""
    if half not in (1, 2):
        raise ValueError(f"half must be 1 or 2, not {half!r}")
    return date(year, 1 if half == 1 else 7, 1)


def add_months(d: date, n: int) -> date:
    """Same day of the month, n months later (n may be negative).

    When that day does not exist the result is the last day of the target month
    (31 December + 2 months -> 28 or 29 February), as CPC 641 reads time limits in months.
    """
    months = d.year * 12 + (d.month - 1) + n
    year, month = divmod(months, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def add_years(d: date, n: int) -> date:
    """Same day and month, n years later; 29 February becomes 28 February in a common year
    (the last day of that February, the same month-end rule as `add_months`)."""
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # only 29 February can fail
        return d.replace(year=d.year + n, day=28)
