"""Time zones and public holidays, cached: the planner asks for them hundreds of thousands
of times a run, and building a `holidays.France` calendar costs far more than a lookup.

Subdivision codes are those of the installed `holidays` package (0.109): "57" (Moselle) and
"6AE" (Alsace: Bas-Rhin, Haut-Rhin) add Good Friday and 26 December; "971" Guadeloupe,
"972" Martinique, "973" Guyane, "974" La Réunion, "976" Mayotte add their abolition days;
also "BL", "MF", "NC", "PF", "PM", "TF", "WF". None = the national calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


@lru_cache(maxsize=None)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=None)
def _holidays_of(year: int, subdivision: str | None) -> dict[date, str]:
    return dict(holidays.France(years=year, subdiv=subdivision).items())


def holiday_name(day: date, subdivision: str | None) -> str | None:
    """The public holiday on that day for that subdivision, or None."""
    return _holidays_of(day.year, subdivision).get(day)


def local_midnight_utc(day: date, zone_name: str) -> datetime:
    """The start of a local calendar day, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=zone(zone_name)).astimezone(UTC)


def known_subdivisions() -> tuple[str, ...]:
    return tuple(holidays.France.subdivisions)
