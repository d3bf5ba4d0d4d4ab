"""The KPI arithmetic of the reporting table, and the champion / challenger statistics. Pure: no
database, no clock.

KPIs (DOMAIN.md, "Rentability and the dashboard"), each a ratio of sums so that breakdowns add up:

    recovery rate          = collected / amount entrusted (placed)
    liquidation rate       = collected in the period / amount placed in the same period
    right-party contact    = conversations with the debtor / call attempts
    promise-kept rate      = promises kept / promises that have fallen due
    cost to collect        = cost of actions (messages + agent minutes) / collected
    rentability            = (fees earned - cost of actions) / cost of actions

A rate whose denominator is zero is None ("not defined"), never 0 or infinity. Rates are Decimal
fractions (0.1234 = 12.34 %), rounded half-up to 4 places, i.e. to a hundredth of a percent.

Champion / challenger: each variant's recovery rate is a *ratio estimator* R = sum(y) / sum(x)
over its dossiers (y = collected on the dossier, x = amount placed). The dossier is the unit of
randomisation (a stable hash of its id picks the variant), amounts differ by orders of magnitude
between dossiers, and many dossiers pay nothing: so neither a binomial interval on "share of
dossiers that paid" (it ignores how much was paid) nor a mean of per-dossier rates (it weighs a
50 EUR file like a 50,000 EUR one) answers "what share of the money entrusted came back". The
variance of R comes from the delta method (linearisation, as for ratio metrics in online
experiments, Deng, Knoblich & Lu 2018): with residuals d_i = y_i - R x_i,

    Var(R) ~= n / (n - 1) * sum(d_i^2) / sum(x_i)^2

computed from the sums n, Sx, Sy, Sxx, Syy, Sxy that one GROUP BY gives
(sum(d^2) = Syy - 2 R Sxy + R^2 Sxx). The 95 % interval is R +/- 1.96 SE (the central limit
theorem over dossiers: fine from a few hundred dossiers per variant; with fewer, read it as
indicative; its lower bound is clipped at 0). Two variants are independent samples, so the difference has
SE = sqrt(SE_a^2 + SE_b^2) (Welch's unpooled form); it is significant at 5 % when its 95 %
interval excludes 0, i.e. |z| > 1.96. The uplift is the relative difference
(R_challenger - R_champion) / R_champion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

RATE_PLACES = Decimal("0.0001")
Z_95 = 1.959963984540054


def ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """numerator / denominator rounded half-up to 4 places, or None when the denominator is 0."""
    den = Decimal(denominator)
    if den == 0:
        return None
    return (Decimal(numerator) / den).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Kpis:
    recovery_rate: Decimal | None
    liquidation_rate: Decimal | None
    right_party_contact_rate: Decimal | None
    promise_kept_rate: Decimal | None
    cost_to_collect: Decimal | None
    rentability: Decimal | None


def kpis(*, collected: Decimal, placed_to_date: Decimal, placed_in_period: Decimal, right_party_contacts: int,
         call_attempts: int, promises_kept: int, promises_due: int, cost: Decimal, fees: Decimal) -> Kpis:
    """The six rates from sums. `placed_to_date`: everything entrusted up to the end of the period
    (the recovery rate's base); `placed_in_period`: entrusted within the period (the liquidation
    rate's base)."""
    return Kpis(
        recovery_rate=ratio(collected, placed_to_date),
        liquidation_rate=ratio(collected, placed_in_period),
        right_party_contact_rate=ratio(right_party_contacts, call_attempts),
        promise_kept_rate=ratio(promises_kept, promises_due),
        cost_to_collect=ratio(cost, collected),
        rentability=ratio(Decimal(fees) - Decimal(cost), cost),
    )


# ------------------------------------------------------------------------------------------------
# Champion / challenger
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantSums:
    """Per-dossier sums of one variant: x = amount placed, y = collected."""

    variant: str
    n: int
    sx: float
    sy: float
    sxx: float
    syy: float
    sxy: float


@dataclass(frozen=True)
class RatioEstimate:
    variant: str
    dossiers: int
    rate: float | None  # a fraction: 0.12 = 12 %
    se: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Comparison:
    """A challenger against the champion."""

    variant: str
    difference: float | None  # rate - champion rate (fraction points)
    difference_low: float | None
    difference_high: float | None
    uplift: float | None  # difference / champion rate
    z: float | None
    p_value: float | None
    significant: bool


def ratio_estimate(s: VariantSums, z: float = Z_95) -> RatioEstimate:
    if s.n == 0 or s.sx <= 0:
        return RatioEstimate(s.variant, s.n, None, None, None, None)
    rate = s.sy / s.sx
    if s.n < 2:
        return RatioEstimate(s.variant, s.n, rate, None, None, None)
    residual_ss = max(s.syy - 2 * rate * s.sxy + rate * rate * s.sxx, 0.0)  # rounding may dip below 0
    se = math.sqrt(s.n / (s.n - 1) * residual_ss / (s.sx * s.sx))
    # A recovery rate cannot be negative: the lower bound is clipped at 0.
    return RatioEstimate(s.variant, s.n, rate, se, max(rate - z * se, 0.0), rate + z * se)


def compare(champion: RatioEstimate, challenger: RatioEstimate, z: float = Z_95) -> Comparison:
    if champion.rate is None or challenger.rate is None:
        return Comparison(challenger.variant, None, None, None, None, None, None, False)
    diff = challenger.rate - champion.rate
    uplift = diff / champion.rate if champion.rate else None
    if champion.se is None or challenger.se is None:
        return Comparison(challenger.variant, diff, None, None, uplift, None, None, False)
    se = math.sqrt(champion.se ** 2 + challenger.se ** 2)
    if se == 0:
        return Comparison(challenger.variant, diff, diff, diff, uplift, None, None, diff != 0)
    score = diff / se
    p_value = math.erfc(abs(score) / math.sqrt(2))
    return Comparison(challenger.variant, diff, diff - z * se, diff + z * se, uplift, score, p_value,
                      abs(score) > z)
