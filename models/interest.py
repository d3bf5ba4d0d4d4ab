"""Interest on a claim: legal interest, L441-10 late-payment penalties, contractual interest.

Day count (DOMAIN.md, "Legal interest"): every day `d` with `start <= d < end` accrues
`principal x rate(d) / days_in_year(d)`, where `rate(d)` is the rate of `d`'s half-year and
`days_in_year(d)` is 365 or 366 for `d`'s calendar year. `end` is the first day not counted.
Consecutive days sharing a rate and a year length are grouped in one `InterestPeriod`; periods
are cut at every 1 January and 1 July and where the judgment increase starts. Amounts are summed
unrounded and the total is rounded once, half up, to the cent (`models.money.round_cents`).

Regimes:
- PRIVATE_CREDITOR / OTHER: the taux de l'intérêt légal (CMF L313-2) for a creditor who is a
  natural person not acting for professional needs, or for every other case.
- B2B: penalties of Code de commerce L441-10, the ECB main refinancing rate in force on
  1 January (first half-year) or 1 July (second) plus 10 points.

Judgment increase (CMF L313-3): the legal rate gains 5 points from the day two months after
the judgment became enforceable, i.e. from `add_months(enforceable_on, 2)` included (same day of
the month, or the month's last day when it has none: 31 December -> end of February). It applies
to the legal-rate regimes only; L441-10 penalties are not the legal rate, so B2B ignores it, and
so does contractual interest.

Not computed: interest on interest (capitalisation, C. civ. 1343-2). It is owed only when a
contract or a judgment provides it and for interest due for a whole year; none of that is known
here, so every result is simple interest on the principal.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from enum import StrEnum

from models.dates import add_months
from models.enums import InterestMode
from models.money import round_cents
from models.rates import RateTables

__all__ = [
    "B2B_RECOVERY_INDEMNITY",
    "JUDGMENT_INCREASE",
    "InterestPeriod",
    "InterestResult",
    "Regime",
    "b2b_indemnity",
    "claim_interest",
    "contractual_interest",
    "legal_interest",
]

# Code de commerce D441-5: fixed recovery indemnity per late invoice.
B2B_RECOVERY_INDEMNITY = Decimal("40.00")
# CMF L313-3: points added to the legal rate two months after an enforceable judgment.
JUDGMENT_INCREASE = Decimal("5")
# Enough digits that the only rounding that matters is the final one to the cent.
_PRECISION = 50


class Regime(StrEnum):
    PRIVATE_CREDITOR = "private-creditor"
    OTHER = "other"
    B2B = "b2b"


@dataclass(frozen=True)
class InterestPeriod:
    """Days `start <= d < end` at one rate (percent) and one year length."""

    start: date
    end: date
    days: int
    rate: Decimal
    year_days: int
    amount: Decimal  # unrounded: rounding happens once, on the total

    @property
    def amount_rounded(self) -> Decimal:
        """For display only; the total is not the sum of these."""
        return round_cents(self.amount)


@dataclass(frozen=True)
class InterestResult:
    periods: tuple[InterestPeriod, ...]
    total: Decimal  # round_cents(sum of the exact period amounts)


_ZERO = InterestResult(periods=(), total=Decimal("0.00"))


def _check_principal(principal: Decimal) -> None:
    if isinstance(principal, (float, bool)) or not isinstance(principal, (Decimal, int)):
        raise TypeError(f"principal must be a Decimal, not {type(principal).__name__}")
    if principal < 0:
        raise ValueError("principal must not be negative")


def _year_days(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def _cuts(start: date, end: date, *, half_years: bool, extra: date | None) -> list[date]:
    """Sorted boundaries strictly inside (start, end), plus start and end themselves."""
    inside = set()
    for year in range(start.year, end.year + 1):
        inside.add(date(year, 1, 1))
        if half_years:
            inside.add(date(year, 7, 1))
    if extra is not None:
        inside.add(extra)
    return [start, *sorted(d for d in inside if start < d < end), end]


def _accrue(principal: Decimal, cuts: list[date], rate_of) -> InterestResult:
    periods = []
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        for a, b in zip(cuts, cuts[1:]):
            rate, year_days, days = rate_of(a), _year_days(a.year), (b - a).days
            amount = Decimal(principal) * rate * days / (100 * year_days)
            periods.append(InterestPeriod(a, b, days, rate, year_days, amount))
        total = sum((p.amount for p in periods), Decimal(0))
    return InterestResult(periods=tuple(periods), total=round_cents(total))


def legal_interest(
    principal: Decimal,
    start: date,
    end: date,
    *,
    regime: Regime,
    rates: RateTables,
    judgment_enforceable_on: date | None = None,
) -> InterestResult:
    """Legal interest (or L441-10 penalties for B2B) on `principal` for `start <= d < end`.

    Raises MissingRateError naming the first half-year in the range with no known rate.
    """
    _check_principal(principal)
    regime = Regime(regime)
    if end <= start:
        return _ZERO

    increase_on = None
    if judgment_enforceable_on is not None and regime != Regime.B2B:
        increase_on = add_months(judgment_enforceable_on, 2)

    def rate_of(day: date) -> Decimal:
        if regime == Regime.B2B:
            return rates.b2b_rate(day)
        rate = rates.legal_rate(day, private_creditor=regime == Regime.PRIVATE_CREDITOR)
        if increase_on is not None and day >= increase_on:
            rate += JUDGMENT_INCREASE
        return rate

    return _accrue(principal, _cuts(start, end, half_years=True, extra=increase_on), rate_of)


def contractual_interest(
    principal: Decimal, start: date, end: date, *, annual_rate: Decimal
) -> InterestResult:
    """Interest at a fixed annual rate (percent), same day count; periods cut at 1 January."""
    _check_principal(principal)
    if isinstance(annual_rate, (float, bool)) or not isinstance(annual_rate, (Decimal, int)):
        raise TypeError(f"annual_rate must be a Decimal, not {type(annual_rate).__name__}")
    if annual_rate < 0:
        raise ValueError("annual_rate must not be negative")
    if end <= start:
        return _ZERO
    rate = Decimal(annual_rate)
    return _accrue(principal, _cuts(start, end, half_years=False, extra=None), lambda _: rate)


def b2b_indemnity(invoice_count: int) -> Decimal:
    """D441-5: 40 EUR for each late invoice."""
    if isinstance(invoice_count, bool) or not isinstance(invoice_count, int):
        raise TypeError("invoice_count must be an int")
    if invoice_count < 0:
        raise ValueError("invoice_count must not be negative")
    return B2B_RECOVERY_INDEMNITY * invoice_count


def claim_interest(
    mode: InterestMode,
    principal: Decimal,
    start: date,
    end: date,
    *,
    rates: RateTables,
    private_creditor: bool,
    contractual_rate: Decimal | None = None,
    judgment_enforceable_on: date | None = None,
) -> InterestResult:
    """The interest a claim bears under its mode (NONE gives zero, with no periods)."""
    mode = InterestMode(mode)
    if mode == InterestMode.NONE:
        _check_principal(principal)
        return _ZERO
    if mode == InterestMode.CONTRACTUAL:
        if contractual_rate is None:
            raise ValueError("contractual interest needs contractual_rate")
        return contractual_interest(principal, start, end, annual_rate=contractual_rate)
    if mode == InterestMode.B2B:
        regime = Regime.B2B
    else:
        regime = Regime.PRIVATE_CREDITOR if private_creditor else Regime.OTHER
    return legal_interest(
        principal,
        start,
        end,
        regime=regime,
        rates=rates,
        judgment_enforceable_on=judgment_enforceable_on,
    )
