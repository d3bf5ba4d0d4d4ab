"""Interest: day count, half-year and year splits, rounding once, judgment increase, B2B.

Every figure below is worked by hand in the comment above it: amount of a period =
principal x rate% x days / days_in_year, with per-year amounts (principal x rate%) written
first to keep the arithmetic short.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, Decimal

import pytest

from models.enums import InterestMode
from models.interest import (
    B2B_RECOVERY_INDEMNITY,
    InterestResult,
    Regime,
    b2b_indemnity,
    claim_interest,
    contractual_interest,
    legal_interest,
)
from models.rates import MissingRateError, RateTables, load_rate_tables

D = Decimal


@pytest.fixture(scope="module")
def rates() -> RateTables:
    return load_rate_tables()


def _spans(result: InterestResult) -> list[tuple]:
    return [(p.start, p.end, p.days, p.rate, p.year_days) for p in result.periods]


def test_the_domain_example_of_ten_thousand_euros_over_2025_gives_323_11(rates):
    result = legal_interest(
        D("10000.00"), date(2025, 1, 1), date(2026, 1, 1), regime=Regime.OTHER, rates=rates
    )
    # S1: 2025-01-01..2025-07-01 = 31+28+31+30+31+30 = 181 days at 3.71 %
    #     10000 x 3.71 % = 371 a year; 371 x 181 / 365 = 67151 / 365 = 183.97534...
    # S2: 2025-07-01..2026-01-01 = 31+31+30+31+30+31 = 184 days at 2.76 %
    #     10000 x 2.76 % = 276 a year; 276 x 184 / 365 = 50784 / 365 = 139.13424...
    # total (67151 + 50784) / 365 = 117935 / 365 = 323.10958... -> 323.11
    assert _spans(result) == [
        (date(2025, 1, 1), date(2025, 7, 1), 181, D("3.71"), 365),
        (date(2025, 7, 1), date(2026, 1, 1), 184, D("2.76"), 365),
    ]
    assert result.periods[0].amount.quantize(D("0.00001")) == D("183.97534")
    assert result.periods[1].amount.quantize(D("0.00001")) == D("139.13425")
    assert result.total == D("323.11")


def test_in_the_domain_example_only_truncating_each_half_year_gives_323_10(rates):
    result = legal_interest(
        D("10000.00"), date(2025, 1, 1), date(2026, 1, 1), regime=Regime.OTHER, rates=rates
    )
    # DOMAIN.md says rounding each half-year first gives 323.10. Half up, it does not:
    # 183.975.. -> 183.98 and 139.134.. -> 139.13, 183.98 + 139.13 = 323.11.
    # 323.10 comes from cutting each half-year down: 183.97 + 139.13 = 323.10.
    assert sum(p.amount_rounded for p in result.periods) == D("323.11")
    truncated = sum(p.amount.quantize(D("0.01"), rounding=ROUND_DOWN) for p in result.periods)
    assert truncated == D("323.10")


def test_a_period_crossing_into_a_leap_year_uses_365_then_366_days_and_rounds_once(rates):
    result = legal_interest(
        D("10000"), date(2023, 12, 1), date(2024, 3, 1), regime=Regime.OTHER, rates=rates
    )
    # 2023-12-01..2024-01-01: 31 days at 4.22 % over 365: 422 x 31 / 365 = 13082 / 365 = 35.84109...
    # 2024-01-01..2024-03-01: 31 + 29 = 60 days at 5.07 % over 366: 507 x 60 / 366
    #                         = 30420 / 366 = 83.11475...
    # total 35.84109... + 83.11475... = 118.95585... -> 118.96
    # (rounding each period first would give 35.84 + 83.11 = 118.95)
    assert _spans(result) == [
        (date(2023, 12, 1), date(2024, 1, 1), 31, D("4.22"), 365),
        (date(2024, 1, 1), date(2024, 3, 1), 60, D("5.07"), 366),
    ]
    assert result.total == D("118.96")
    assert sum(p.amount_rounded for p in result.periods) == D("118.95")


def test_a_private_creditor_gets_the_higher_rate_across_a_year_end(rates):
    result = legal_interest(
        D("5000"),
        date(2024, 10, 1),
        date(2025, 4, 1),
        regime=Regime.PRIVATE_CREDITOR,
        rates=rates,
    )
    # 2024-10-01..2025-01-01: 31+30+31 = 92 days at 8.16 % over 366 (2024 is leap):
    #     5000 x 8.16 % = 408 a year; 408 x 92 / 366 = 37536 / 366 = 102.55737...
    # 2025-01-01..2025-04-01: 31+28+31 = 90 days at 7.21 % over 365:
    #     5000 x 7.21 % = 360.5 a year; 360.5 x 90 / 365 = 32445 / 365 = 88.89041...
    # total 102.55737... + 88.89041... = 191.44778... -> 191.45
    assert _spans(result) == [
        (date(2024, 10, 1), date(2025, 1, 1), 92, D("8.16"), 366),
        (date(2025, 1, 1), date(2025, 4, 1), 90, D("7.21"), 365),
    ]
    assert result.total == D("191.45")


def test_the_judgment_increase_of_five_points_starts_two_months_after_enforceability(rates):
    result = legal_interest(
        D("10000"),
        date(2025, 4, 1),
        date(2025, 8, 1),
        regime=Regime.OTHER,
        rates=rates,
        judgment_enforceable_on=date(2025, 3, 15),
    )
    # increase from 2025-03-15 + 2 months = 2025-05-15 (included)
    # 2025-04-01..2025-05-15: 30 + 14 = 44 days at 3.71 %: 371 x 44 / 365 = 16324 / 365
    # 2025-05-15..2025-07-01: 17 + 30 = 47 days at 3.71 + 5 = 8.71 %: 871 x 47 / 365 = 40937 / 365
    # 2025-07-01..2025-08-01: 31 days at 2.76 + 5 = 7.76 %: 776 x 31 / 365 = 24056 / 365
    # total (16324 + 40937 + 24056) / 365 = 81317 / 365 = 222.78630... -> 222.79
    assert _spans(result) == [
        (date(2025, 4, 1), date(2025, 5, 15), 44, D("3.71"), 365),
        (date(2025, 5, 15), date(2025, 7, 1), 47, D("8.71"), 365),
        (date(2025, 7, 1), date(2025, 8, 1), 31, D("7.76"), 365),
    ]
    assert result.total == D("222.79")


def test_a_judgment_enforceable_on_31_december_raises_the_rate_from_the_end_of_february(rates):
    result = legal_interest(
        D("1000"),
        date(2025, 2, 1),
        date(2025, 3, 1),
        regime=Regime.PRIVATE_CREDITOR,
        rates=rates,
        judgment_enforceable_on=date(2024, 12, 31),
    )
    # 2024-12-31 + 2 months has no 31 February: 2025-02-28, the month's last day.
    # 2025-02-01..2025-02-28: 27 days at 7.21 %: 72.1 x 27 / 365 = 1946.7 / 365 = 5.33342...
    # 2025-02-28..2025-03-01: 1 day at 12.21 %: 122.1 x 1 / 365 = 0.33452...
    # total 2068.8 / 365 = 5.66794... -> 5.67
    assert _spans(result) == [
        (date(2025, 2, 1), date(2025, 2, 28), 27, D("7.21"), 365),
        (date(2025, 2, 28), date(2025, 3, 1), 1, D("12.21"), 365),
    ]
    assert result.total == D("5.67")


def test_a_judgment_whose_increase_started_before_the_range_raises_every_day(rates):
    result = legal_interest(
        D("10000"),
        date(2025, 7, 1),
        date(2025, 8, 1),
        regime=Regime.OTHER,
        rates=rates,
        judgment_enforceable_on=date(2025, 1, 10),
    )
    # increase from 2025-03-10, before the range: 31 days at 7.76 %: 776 x 31 / 365
    # = 24056 / 365 = 65.90684... -> 65.91
    assert _spans(result) == [(date(2025, 7, 1), date(2025, 8, 1), 31, D("7.76"), 365)]
    assert result.total == D("65.91")


def test_b2b_penalties_run_at_the_ecb_rate_plus_ten_per_half_year(rates):
    result = legal_interest(
        D("10000"), date(2024, 3, 1), date(2024, 9, 1), regime=Regime.B2B, rates=rates
    )
    # S1 2024: ECB 4.50 on 2024-01-01 -> 14.50 %; 2024-03-01..2024-07-01 = 31+30+31+30 = 122 days
    #     over 366: 1450 x 122 / 366 = 1450 / 3 = 483.33333...
    # S2 2024: ECB 4.25 on 2024-07-01 -> 14.25 %; 2024-07-01..2024-09-01 = 31+31 = 62 days
    #     over 366: 1425 x 62 / 366 = 88350 / 366 = 241.39344...
    # total 483.33333... + 241.39344... = 724.72677... -> 724.73
    # (rounding each half-year first: 483.33 + 241.39 = 724.72)
    assert _spans(result) == [
        (date(2024, 3, 1), date(2024, 7, 1), 122, D("14.50"), 366),
        (date(2024, 7, 1), date(2024, 9, 1), 62, D("14.25"), 366),
    ]
    assert result.total == D("724.73")


def test_b2b_penalties_ignore_the_judgment_increase(rates):
    plain = legal_interest(
        D("10000"), date(2024, 3, 1), date(2024, 9, 1), regime=Regime.B2B, rates=rates
    )
    judged = legal_interest(
        D("10000"),
        date(2024, 3, 1),
        date(2024, 9, 1),
        regime=Regime.B2B,
        rates=rates,
        judgment_enforceable_on=date(2024, 1, 1),
    )
    assert judged == plain


def test_a_range_reaching_into_2026_s2_raises_missing_rate_error_naming_it(rates):
    with pytest.raises(MissingRateError, match="2026 S2"):
        legal_interest(
            D("10000"), date(2026, 6, 1), date(2026, 8, 1), regime=Regime.OTHER, rates=rates
        )


def test_a_range_ending_on_1_july_2026_needs_no_2026_s2_rate(rates):
    result = legal_interest(
        D("10000"), date(2026, 6, 1), date(2026, 7, 1), regime=Regime.OTHER, rates=rates
    )
    # 30 days at 2.62 %: 262 x 30 / 365 = 7860 / 365 = 21.53424... -> 21.53
    assert result.total == D("21.53")


def test_an_override_file_adding_2026_s2_makes_the_range_computable(tmp_path):
    (tmp_path / "legal_rates.csv").write_text(
        # made-up figures for the test, not the published rate
        "half_year_start,private_creditor,other\n2026-07-01,6.50,2.50\n",
        encoding="utf-8",
    )
    result = legal_interest(
        D("10000"),
        date(2026, 6, 1),
        date(2026, 8, 1),
        regime=Regime.OTHER,
        rates=load_rate_tables(tmp_path),
    )
    # June: 30 days at 2.62 %: 262 x 30 / 365 = 7860 / 365
    # July: 31 days at 2.50 %: 250 x 31 / 365 = 7750 / 365
    # total 15610 / 365 = 42.76712... -> 42.77
    assert _spans(result) == [
        (date(2026, 6, 1), date(2026, 7, 1), 30, D("2.62"), 365),
        (date(2026, 7, 1), date(2026, 8, 1), 31, D("2.50"), 365),
    ]
    assert result.total == D("42.77")


def test_an_end_on_or_before_the_start_gives_zero_and_no_periods(rates):
    for end in (date(2025, 1, 1), date(2024, 12, 1)):
        result = legal_interest(
            D("10000"), date(2025, 1, 1), end, regime=Regime.OTHER, rates=rates
        )
        assert result.periods == ()
        assert result.total == D("0.00")


def test_one_day_accrues_one_day_of_interest(rates):
    result = legal_interest(
        D("36500"), date(2025, 3, 1), date(2025, 3, 2), regime=Regime.OTHER, rates=rates
    )
    # 36500 x 3.71 % / 365 = 1354.15 / 365 = 3.71
    assert result.total == D("3.71")


def test_a_negative_principal_raises_value_error(rates):
    with pytest.raises(ValueError):
        legal_interest(
            D("-1"), date(2025, 1, 1), date(2025, 2, 1), regime=Regime.OTHER, rates=rates
        )
    with pytest.raises(ValueError):
        contractual_interest(D("-1"), date(2025, 1, 1), date(2025, 2, 1), annual_rate=D("5"))


def test_a_float_principal_raises_type_error(rates):
    with pytest.raises(TypeError):
        legal_interest(1000.0, date(2025, 1, 1), date(2025, 2, 1), regime=Regime.OTHER, rates=rates)


def test_contractual_interest_splits_only_at_the_year_end():
    result = contractual_interest(
        D("1000"), date(2023, 11, 1), date(2024, 2, 1), annual_rate=D("10")
    )
    # 2023-11-01..2024-01-01: 30 + 31 = 61 days over 365: 100 x 61 / 365 = 6100 / 365 = 16.71232...
    # 2024-01-01..2024-02-01: 31 days over 366: 100 x 31 / 366 = 3100 / 366 = 8.46994...
    # total 25.18226... -> 25.18
    assert _spans(result) == [
        (date(2023, 11, 1), date(2024, 1, 1), 61, D("10"), 365),
        (date(2024, 1, 1), date(2024, 2, 1), 31, D("10"), 366),
    ]
    assert result.total == D("25.18")


def test_the_recovery_indemnity_is_forty_euros_per_late_invoice():
    assert B2B_RECOVERY_INDEMNITY == D("40.00")
    assert b2b_indemnity(3) == D("120.00")  # 3 x 40
    assert b2b_indemnity(0) == D("0.00")
    with pytest.raises(ValueError):
        b2b_indemnity(-1)


def test_claim_interest_in_legal_mode_picks_the_regime_from_the_creditor(rates):
    args = (D("10000"), date(2025, 1, 1), date(2026, 1, 1))
    other = claim_interest(InterestMode.LEGAL, *args, rates=rates, private_creditor=False)
    assert other.total == D("323.11")  # the domain example above
    private = claim_interest(InterestMode.LEGAL, *args, rates=rates, private_creditor=True)
    # 721 x 181 / 365 + 665 x 184 / 365 = (130501 + 122360) / 365 = 252861 / 365
    # = 692.76986... -> 692.77
    assert private.total == D("692.77")


def test_claim_interest_dispatches_b2b_contractual_and_none(rates):
    args = (D("10000"), date(2024, 3, 1), date(2024, 9, 1))
    b2b = claim_interest(InterestMode.B2B, *args, rates=rates, private_creditor=False)
    assert b2b.total == D("724.73")  # the B2B case above
    contractual = claim_interest(
        InterestMode.CONTRACTUAL,
        *args,
        rates=rates,
        private_creditor=False,
        contractual_rate=D("3.66"),
    )
    # 184 days over 366 at 3.66 %: 366 x 184 / 366 = 184.00
    assert contractual.total == D("184.00")
    none = claim_interest(InterestMode.NONE, *args, rates=rates, private_creditor=True)
    assert none == InterestResult(periods=(), total=D("0.00"))


def test_claim_interest_in_contractual_mode_without_a_rate_raises_value_error(rates):
    with pytest.raises(ValueError, match="contractual_rate"):
        claim_interest(
            InterestMode.CONTRACTUAL,
            D("100"),
            date(2025, 1, 1),
            date(2025, 2, 1),
            rates=rates,
            private_creditor=False,
        )


def test_claim_interest_passes_the_judgment_date_to_the_legal_regime(rates):
    result = claim_interest(
        InterestMode.LEGAL,
        D("10000"),
        date(2025, 4, 1),
        date(2025, 8, 1),
        rates=rates,
        private_creditor=False,
        judgment_enforceable_on=date(2025, 3, 15),
    )
    assert result.total == D("222.79")  # the judgment case above
