"""The office's fees on a remittance, hand-computed (models/fees.py)."""

from decimal import Decimal as D

import pytest

from models.fees import commission, fixed_fee_adjustment, fixed_fee_due


def test_the_commission_is_the_mandate_rate_on_each_collected_amount_half_up_to_the_cent():
    assert commission(D("120.00"), D("0.12")) == D("14.40")
    assert commission(D("80.50"), D("0.12")) == D("9.66")
    assert commission(D("300.00"), D("0.12")) == D("36.00")
    # 80.52 x 12.5 % = 10.065: half up gives 10.07 (half even would give 10.06).
    assert commission(D("80.52"), D("0.125")) == D("10.07")
    # 0.04 x 12.5 % = 0.005 -> 0.01.
    assert commission(D("0.04"), D("0.125")) == D("0.01")


def test_a_claw_back_takes_back_the_exact_commission_of_the_line():
    assert commission(D("-80.52"), D("0.125")) == -commission(D("80.52"), D("0.125"))


def test_a_commission_rate_outside_zero_and_one_is_refused():
    with pytest.raises(ValueError):
        commission(D("10.00"), D("12"))


def test_the_fixed_fee_is_charged_whole_on_a_first_collection_large_enough():
    # 120.00 collected, 14.40 commission: 105.60 left, more than the 15.00 fee.
    assert fixed_fee_due(D("15.00"), D("120.00"), D("14.40")) == D("15.00")
    assert fixed_fee_adjustment(D("15.00"), D("200.50"), D("24.06"), D("0.00")) == D("15.00")


def test_the_fixed_fee_is_capped_by_the_collection_and_completed_by_the_next_ones():
    # 10.00 collected at 12 %: 1.20 commission, 8.80 left: the fee takes 8.80, net 0.00.
    assert fixed_fee_adjustment(D("15.00"), D("10.00"), D("1.20"), D("0.00")) == D("8.80")
    # Then 50.00 more (6.00 commission): totals 60.00 and 7.20; 15.00 due, 8.80 charged: 6.20.
    assert fixed_fee_adjustment(D("15.00"), D("60.00"), D("7.20"), D("8.80")) == D("6.20")
    # Nothing more once the whole fee was charged.
    assert fixed_fee_adjustment(D("15.00"), D("160.00"), D("19.20"), D("15.00")) == D("0.00")


def test_a_claw_back_gives_back_the_part_of_the_fixed_fee_no_collection_covers_any_more():
    # The dossier's only collection (120.00, commission 14.40, fee 15.00) is clawed back.
    assert fixed_fee_adjustment(D("15.00"), D("0.00"), D("0.00"), D("15.00")) == D("-15.00")
    # Two collections of 120.00, one clawed back: 120.00 still covers the whole fee.
    assert fixed_fee_adjustment(D("15.00"), D("120.00"), D("14.40"), D("15.00")) == D("0.00")


def test_no_fixed_fee_in_the_mandate_charges_nothing():
    assert fixed_fee_adjustment(D("0.00"), D("500.00"), D("60.00"), D("0.00")) == D("0.00")
