"""The KPI arithmetic and the champion / challenger statistics, on hand-computed figures."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from services.report_math import RatioEstimate, VariantSums, compare, kpis, ratio, ratio_estimate


def test_a_ratio_is_rounded_half_up_to_a_hundredth_of_a_percent():
    assert ratio(Decimal("1000"), Decimal("3500")) == Decimal("0.2857")  # 0.285714...
    assert ratio(Decimal("1"), Decimal("8")) == Decimal("0.1250")
    assert ratio(Decimal("0.00005"), Decimal("1")) == Decimal("0.0001")  # half-up, not banker's


def test_a_rate_over_nothing_is_undefined_rather_than_zero():
    assert ratio(Decimal("5"), Decimal("0")) is None
    k = kpis(collected=Decimal("0"), placed_to_date=Decimal("0"), placed_in_period=Decimal("0"),
             right_party_contacts=0, call_attempts=0, promises_kept=0, promises_due=0, cost=Decimal("0"),
             fees=Decimal("0"))
    assert k == type(k)(None, None, None, None, None, None)


def test_the_six_rates_follow_the_domain_definitions():
    k = kpis(collected=Decimal("1000.00"), placed_to_date=Decimal("4000.00"), placed_in_period=Decimal("2500.00"),
             right_party_contacts=3, call_attempts=12, promises_kept=2, promises_due=3, cost=Decimal("50.00"),
             fees=Decimal("150.00"))
    assert k.recovery_rate == Decimal("0.2500")  # 1000 / 4000
    assert k.liquidation_rate == Decimal("0.4000")  # 1000 / 2500
    assert k.right_party_contact_rate == Decimal("0.2500")  # 3 / 12
    assert k.promise_kept_rate == Decimal("0.6667")  # 2 / 3
    assert k.cost_to_collect == Decimal("0.0500")  # 50 / 1000
    assert k.rentability == Decimal("2.0000")  # (150 - 50) / 50


def test_the_ratio_estimator_interval_matches_the_delta_method_by_hand():
    # Dossiers (placed x, collected y): (100, 0), (200, 100), (100, 50), (400, 0).
    # R = 150 / 800 = 0.1875; residuals y - R x: -18.75, 62.5, 31.25, -75;
    # sum of squares 351.5625 + 3906.25 + 976.5625 + 5625 = 10859.375;
    # Var = 4/3 * 10859.375 / 800^2 = 0.02262370; SE = 0.1504118.
    s = VariantSums("champion", 4, 800, 150, 100**2 + 200**2 + 100**2 + 400**2, 100**2 + 50**2,
                    200 * 100 + 100 * 50)
    e = ratio_estimate(s)
    assert e.rate == pytest.approx(0.1875)
    assert e.se == pytest.approx(0.1504118, rel=1e-6)
    assert e.high == pytest.approx(0.1875 + 1.959964 * 0.1504118, rel=1e-6)
    assert e.low == 0.0  # 0.1875 - 0.2948 < 0: a recovery rate is never negative


def test_a_difference_of_two_standard_errors_apart_is_significant():
    champion = RatioEstimate("champion", 500, 0.20, 0.05, None, None)
    challenger = RatioEstimate("challenger", 500, 0.35, 0.05, None, None)
    c = compare(champion, challenger)
    # diff 0.15, SE sqrt(0.05^2 + 0.05^2) = 0.0707107, z = 2.1213, two-sided p = 0.0339
    assert c.difference == pytest.approx(0.15)
    assert c.uplift == pytest.approx(0.75)
    assert c.z == pytest.approx(2.1213203, rel=1e-6)
    assert c.p_value == pytest.approx(0.0338949, rel=1e-4)
    assert c.significant and c.difference_low == pytest.approx(0.15 - 1.959964 * 0.0707107, rel=1e-5)


def test_a_smaller_difference_is_not_significant_and_a_single_dossier_gives_no_interval():
    champion = RatioEstimate("champion", 500, 0.20, 0.05, None, None)
    assert not compare(champion, RatioEstimate("challenger", 500, 0.25, 0.05, None, None)).significant
    alone = ratio_estimate(VariantSums("challenger", 1, 100, 20, 10_000, 400, 2_000))
    assert alone.rate == pytest.approx(0.2) and alone.se is None
    c = compare(champion, alone)
    assert c.uplift == pytest.approx(0.0) and c.p_value is None and not c.significant
    assert math.isclose(ratio_estimate(VariantSums("x", 0, 0, 0, 0, 0, 0)).rate or 0, 0)
