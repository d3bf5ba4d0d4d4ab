"""Rate tables: the French legal interest rate and the ECB rate behind L441-10 penalties.

The figures live in data files that users can update, never in code:

- `data/legal_rates.csv` (`half_year_start,private_creditor,other`, percent): the taux de
  l'intérêt légal (CMF L313-2), one row per half-year, 2015 S1 to 2026 S1, as set each
  half-year by arrêté and listed in the project's DOMAIN.md. `private_creditor` applies when the
  creditor is a natural person not acting for professional needs, `other` in all other cases.
- `data/ecb_rates.csv` (`effective_on,rate`, percent): the ECB main refinancing rate in force on
  each 1 January and 1 July, 2015-01-01 to 2026-07-01, from the ECB's published history.
  The 2026-01-01 and 2026-07-01 rows (2.15 %) are to be verified before production.

A directory given to `load_rate_tables` (setting RELANCE_RATES_DIR) may hold files of the same
names and columns; their rows add to or replace the shipped rows with the same key, so a new
half-year can be added without a release. Past the last known half-year every lookup raises
`MissingRateError` rather than extrapolating: a wrong rate would be printed on a letter.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path

from models.dates import half_year, half_year_label, half_year_start

__all__ = [
    "B2B_MARGIN",
    "EcbRate",
    "LegalRate",
    "MissingRateError",
    "RateTables",
    "load_rate_tables",
]

DATA_DIR = Path(__file__).with_name("data")
LEGAL_FILE = "legal_rates.csv"
ECB_FILE = "ecb_rates.csv"
LEGAL_HEADER = ("half_year_start", "private_creditor", "other")
ECB_HEADER = ("effective_on", "rate")
# Code de commerce L441-10: ECB main refinancing rate + 10 points.
B2B_MARGIN = Decimal("10")

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class MissingRateError(LookupError):
    """No rate is known for a half-year; the message names it and the file to complete."""

    def __init__(self, year: int, half: int, *, table: str = "legal") -> None:
        self.year, self.half, self.table = year, half, table
        what, file = (
            ("legal interest rate", LEGAL_FILE)
            if table == "legal"
            else ("ECB main refinancing rate", ECB_FILE)
        )
        super().__init__(
            f"no {what} known for {half_year_label(year, half)}: "
            f"add it to {file} (RELANCE_RATES_DIR)"
        )


@dataclass(frozen=True)
class LegalRate:
    half_year_start: date
    private_creditor: Decimal  # percent
    other: Decimal  # percent


@dataclass(frozen=True)
class EcbRate:
    effective_on: date
    rate: Decimal  # percent


def _next_half(year: int, half: int) -> tuple[int, int]:
    return (year, 2) if half == 1 else (year + 1, 1)


@dataclass(frozen=True)
class RateTables:
    """Both tables, sorted by date. All rates are in percent (3.71 means 3.71 %)."""

    legal: tuple[LegalRate, ...]
    ecb: tuple[EcbRate, ...]

    # cached_property writes to the instance __dict__ directly, so it works on a frozen class.
    @cached_property
    def _legal_by_half(self) -> dict[tuple[int, int], LegalRate]:
        return {half_year(r.half_year_start): r for r in self.legal}

    def legal_rate(self, day: date, *, private_creditor: bool) -> Decimal:
        """The legal rate of `day`'s half-year, for a private-person creditor or otherwise."""
        key = half_year(day)
        row = self._legal_by_half.get(key)
        if row is None:
            raise MissingRateError(*key, table="legal")
        return row.private_creditor if private_creditor else row.other

    def ecb_rate(self, day: date) -> Decimal:
        """The ECB rate in force on `day` according to the table (latest row on or before it).

        The table only vouches for the half-years up to its last row's: a day in a later
        half-year raises MissingRateError, since the ECB may have moved in between.
        """
        key = half_year(day)
        if not self.ecb or key > half_year(self.ecb[-1].effective_on):
            raise MissingRateError(*key, table="ecb")
        found = None
        for row in self.ecb:
            if row.effective_on > day:
                break
            found = row
        if found is None:
            raise MissingRateError(*key, table="ecb")
        return found.rate

    def b2b_rate(self, day: date) -> Decimal:
        """L441-10 penalty rate: the ECB rate in force on 1 January (S1) or 1 July (S2) + 10."""
        return self.ecb_rate(half_year_start(*half_year(day))) + B2B_MARGIN

    def last_known_half_year(self, *, b2b: bool = False) -> tuple[int, int]:
        """The last half-year that can be computed without a gap since the table's first row.

        A user file that adds 2027 S1 but forgets 2026 S2 leaves 2026 S1 as the last known
        one. With `b2b=True`, the same for the ECB table.
        """
        if b2b:
            if not self.ecb:
                raise MissingRateError(0, 1, table="ecb")
            return half_year(self.ecb[-1].effective_on)
        if not self.legal:
            raise MissingRateError(0, 1, table="legal")
        key = half_year(self.legal[0].half_year_start)
        while _next_half(*key) in self._legal_by_half:
            key = _next_half(*key)
        return key


def _rows(path: Path, header: tuple[str, ...]):
    """Yield (line number, cells) of a rate CSV after checking its header; skip blank lines."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            seen_header = False
            for cells in reader:
                cells = [c.strip() for c in cells]
                if not any(cells):
                    continue
                if not seen_header:
                    if tuple(cells) != header:
                        raise ValueError(
                            f"{path}, line {reader.line_num}: header must be "
                            f"{','.join(header)!r}, found {','.join(cells)[:80]!r}"
                        )
                    seen_header = True
                    continue
                if len(cells) != len(header):
                    raise ValueError(
                        f"{path}, line {reader.line_num}: expected {len(header)} columns, "
                        f"found {len(cells)}"
                    )
                yield reader.line_num, cells
            if not seen_header:
                raise ValueError(f"{path}, line 1: empty file, header {','.join(header)!r} missing")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: malformed CSV ({exc})") from None


def _day(text: str, where: str) -> date:
    if not _ISO_DAY.fullmatch(text):
        raise ValueError(f"{where}: date must be YYYY-MM-DD, found {text[:40]!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{where}: no such date {text!r}") from None


def _percent(text: str, where: str, *, allow_negative: bool) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{where}: rate must be a number like 3.71, found {text[:40]!r}") from None
    low = Decimal(-100) if allow_negative else Decimal(0)
    if not value.is_finite() or not low <= value < 100:
        raise ValueError(f"{where}: rate out of bounds, found {text[:40]!r}")
    return value


def _read_legal(path: Path) -> dict[date, LegalRate]:
    rows: dict[date, LegalRate] = {}
    for line, (start_text, private_text, other_text) in _rows(path, LEGAL_HEADER):
        where = f"{path}, line {line}"
        start = _day(start_text, where)
        if (start.month, start.day) not in ((1, 1), (7, 1)):
            raise ValueError(f"{where}: half_year_start must be a 1 January or 1 July")
        if start in rows:
            raise ValueError(f"{where}: {half_year_label(*half_year(start))} appears twice")
        rows[start] = LegalRate(
            start,
            _percent(private_text, where, allow_negative=False),
            _percent(other_text, where, allow_negative=False),
        )
    return rows


def _read_ecb(path: Path) -> dict[date, EcbRate]:
    rows: dict[date, EcbRate] = {}
    for line, (day_text, rate_text) in _rows(path, ECB_HEADER):
        where = f"{path}, line {line}"
        day = _day(day_text, where)
        if day in rows:
            raise ValueError(f"{where}: {day.isoformat()} appears twice")
        # The ECB rate has never been negative, but nothing in L441-10 forbids it.
        rows[day] = EcbRate(day, _percent(rate_text, where, allow_negative=True))
    return rows


def load_rate_tables(extra_dir: Path | None = None) -> RateTables:
    """The shipped tables, completed or corrected by the files found in `extra_dir`.

    `extra_dir` may hold `legal_rates.csv` and/or `ecb_rates.csv`; a missing file is fine,
    a missing directory is an error (a mistyped setting must not go unnoticed).
    Malformed files raise ValueError naming the file and the line.
    """
    legal = _read_legal(DATA_DIR / LEGAL_FILE)
    ecb = _read_ecb(DATA_DIR / ECB_FILE)
    if extra_dir is not None:
        extra_dir = Path(extra_dir)
        if not extra_dir.is_dir():
            raise FileNotFoundError(f"rates directory not found: {extra_dir}")
        if (extra_dir / LEGAL_FILE).is_file():
            legal.update(_read_legal(extra_dir / LEGAL_FILE))
        if (extra_dir / ECB_FILE).is_file():
            ecb.update(_read_ecb(extra_dir / ECB_FILE))
    return RateTables(
        legal=tuple(legal[k] for k in sorted(legal)),
        ecb=tuple(ecb[k] for k in sorted(ecb)),
    )
