"""Imputation of payments (C. civ. 1342-10, 1343-1): hand-checked figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from models.enums import ClaimComponent
from models.imputation import Allocation, ClaimBalance, ImputationResult, impute

COSTS, INTEREST, PRINCIPAL = ClaimComponent.COSTS, ClaimComponent.INTEREST, ClaimComponent.PRINCIPAL
AS_OF = date(2024, 6, 1)


def claim(claim_id, due, costs="0", interest="0", principal="0") -> ClaimBalance:
    return ClaimBalance(claim_id, due, Decimal(costs), Decimal(interest), Decimal(principal))


def test_a_claim_balance_total_adds_its_three_components():
    # 50.00 + 30.00 + 600.00 = 680.00
    assert claim(1, AS_OF, "50.00", "30.00", "600.00").total == Decimal("680.00")


def test_a_payment_clears_the_due_claim_in_full_before_the_claim_not_yet_due():
    due = claim(1, date(2024, 1, 31), "50.00", "30.00", "600.00")
    not_yet_due = claim(2, date(2024, 9, 30), principal="500.00")
    result = impute(Decimal("1000.00"), [not_yet_due, due], as_of=AS_OF)
    # claim 1 takes 50 + 30 + 600 = 680; 1000 - 680 = 320 left for claim 2 (of its 500)
    assert result == ImputationResult(
        (
            Allocation(1, COSTS, Decimal("50.00")),
            Allocation(1, INTEREST, Decimal("30.00")),
            Allocation(1, PRINCIPAL, Decimal("600.00")),
            Allocation(2, PRINCIPAL, Decimal("320.00")),
        ),
        Decimal("0.00"),
    )


def test_a_partial_payment_goes_to_costs_then_interest_before_any_principal():
    result = impute(Decimal("60.00"), [claim(1, AS_OF, "50.00", "30.00", "600.00")], as_of=AS_OF)
    # 60 = 50 of costs + 10 of the 30 of interest; nothing reaches principal
    assert result.allocations == (
        Allocation(1, COSTS, Decimal("50.00")),
        Allocation(1, INTEREST, Decimal("10.00")),
    )
    assert result.unapplied == Decimal("0.00")


def test_the_oldest_due_claim_is_paid_before_a_more_recent_due_one():
    older = claim(7, date(2023, 11, 30), principal="100.00")
    newer = claim(3, date(2024, 2, 29), principal="100.00")
    result = impute(Decimal("150.00"), [newer, older], as_of=AS_OF)
    # 100 clears claim 7 (older), the remaining 150 - 100 = 50 goes to claim 3
    assert result.allocations == (
        Allocation(7, PRINCIPAL, Decimal("100.00")),
        Allocation(3, PRINCIPAL, Decimal("50.00")),
    )


def test_among_claims_not_yet_due_the_one_due_soonest_is_paid_first():
    later = claim(1, date(2024, 12, 31), principal="100.00")
    sooner = claim(2, date(2024, 7, 31), principal="100.00")
    result = impute(Decimal("40.00"), [later, sooner], as_of=AS_OF)
    assert result.allocations == (Allocation(2, PRINCIPAL, Decimal("40.00")),)


def test_a_claim_due_on_the_payment_day_counts_as_already_due():
    today = claim(1, AS_OF, principal="10.00")
    assert impute(Decimal("10.00"), [today], as_of=AS_OF).allocations == (
        Allocation(1, PRINCIPAL, Decimal("10.00")),
    )


def test_three_claims_due_the_same_day_share_a_payment_and_the_odd_cent_goes_to_the_lowest_id():
    day = date(2024, 3, 31)
    claims = [claim(3, day, principal="100.00"), claim(1, day, principal="100.00"),
              claim(2, day, principal="100.00")]  # fmt: skip
    result = impute(Decimal("100.00"), claims, as_of=AS_OF)
    # 10 000 cents x 100/300 = 3 333.33 each: 3 333 x 3 = 9 999, 1 cent left; the remainders
    # are equal, so the tie goes to claim 1: 33.34 + 33.33 + 33.33 = 100.00
    assert result.allocations == (
        Allocation(1, PRINCIPAL, Decimal("33.34")),
        Allocation(2, PRINCIPAL, Decimal("33.33")),
        Allocation(3, PRINCIPAL, Decimal("33.33")),
    )
    assert result.unapplied == Decimal("0.00")


def test_the_odd_cent_goes_to_the_largest_remainder_and_each_share_pays_costs_first():
    day = date(2024, 3, 31)
    claims = [
        claim(1, day, costs="10.00", principal="90.00"),  # total 100
        claim(2, day, interest="20.00", principal="180.00"),  # total 200
        claim(3, day, principal="300.00"),  # total 300
    ]
    result = impute(Decimal("100.00"), claims, as_of=AS_OF)
    # group total 600; exact shares of 10 000 cents: 1 666.67, 3 333.33, 5 000
    # floors 1 666 + 3 333 + 5 000 = 9 999; the cent left goes to claim 1 (remainder .67)
    # claim 1: 16.67 = 10.00 costs + 6.67 principal; claim 2: 33.33 = 20.00 interest + 13.33
    assert result.allocations == (
        Allocation(1, COSTS, Decimal("10.00")),
        Allocation(1, PRINCIPAL, Decimal("6.67")),
        Allocation(2, INTEREST, Decimal("20.00")),
        Allocation(2, PRINCIPAL, Decimal("13.33")),
        Allocation(3, PRINCIPAL, Decimal("50.00")),
    )
    # 10.00 + 6.67 + 20.00 + 13.33 + 50.00 = 100.00
    assert result.allocated == Decimal("100.00")


def test_the_debtors_choice_is_paid_first_even_if_more_recent_and_still_costs_first():
    older = claim(1, date(2023, 1, 31), principal="100.00")
    chosen = claim(2, date(2024, 1, 31), costs="5.00", interest="15.00", principal="100.00")
    result = impute(Decimal("150.00"), [older, chosen], as_of=AS_OF, debtor_choice=[2])
    # claim 2 takes 5 + 15 + 100 = 120; 150 - 120 = 30 then goes to claim 1 by the legal order
    assert result.allocations == (
        Allocation(2, COSTS, Decimal("5.00")),
        Allocation(2, INTEREST, Decimal("15.00")),
        Allocation(2, PRINCIPAL, Decimal("100.00")),
        Allocation(1, PRINCIPAL, Decimal("30.00")),
    )


def test_the_debtors_choice_is_followed_in_the_order_given():
    a = claim(1, date(2023, 1, 31), principal="50.00")
    b = claim(2, date(2023, 2, 28), principal="50.00")
    c = claim(3, date(2023, 3, 31), principal="50.00")
    result = impute(Decimal("120.00"), [a, b, c], as_of=AS_OF, debtor_choice=[3, 2])
    # 50 to claim 3, 50 to claim 2, the last 120 - 100 = 20 to claim 1
    assert [(x.claim_id, x.amount) for x in result.allocations] == [
        (3, Decimal("50.00")),
        (2, Decimal("50.00")),
        (1, Decimal("20.00")),
    ]


def test_a_pro_rata_mandate_shares_between_due_and_not_yet_due_claims():
    due = claim(1, date(2024, 1, 31), principal="300.00")
    not_yet_due = claim(2, date(2024, 12, 31), principal="100.00")
    result = impute(Decimal("100.00"), [due, not_yet_due], as_of=AS_OF, order="pro_rata")
    # 100 x 300/400 = 75.00 and 100 x 100/400 = 25.00
    assert result.allocations == (
        Allocation(1, PRINCIPAL, Decimal("75.00")),
        Allocation(2, PRINCIPAL, Decimal("25.00")),
    )


def test_oldest_first_orders_by_due_date_alone():
    later = claim(1, date(2025, 1, 31), principal="100.00")
    earlier = claim(2, date(2024, 8, 31), principal="100.00")
    result = impute(Decimal("100.00"), [later, earlier], as_of=AS_OF, order="oldest_first")
    assert result.allocations == (Allocation(2, PRINCIPAL, Decimal("100.00")),)


def test_an_overpayment_is_left_unapplied():
    result = impute(Decimal("250.00"), [claim(1, AS_OF, "10.00", "20.00", "170.00")], as_of=AS_OF)
    # 10 + 20 + 170 = 200 owed; 250 - 200 = 50 unapplied
    assert result.allocated == Decimal("200.00")
    assert result.unapplied == Decimal("50.00")
    assert result.for_claim(1) == Decimal("200.00")


def test_a_payment_with_no_claims_is_entirely_unapplied():
    assert impute(Decimal("12.34"), [], as_of=AS_OF) == ImputationResult((), Decimal("12.34"))


def test_a_fully_paid_claim_and_empty_components_get_no_allocation():
    paid = claim(1, date(2023, 1, 31))
    open_claim = claim(2, date(2024, 1, 31), principal="40.00")
    result = impute(Decimal("40.00"), [paid, open_claim], as_of=AS_OF)
    assert result.allocations == (Allocation(2, PRINCIPAL, Decimal("40.00")),)


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5.00")])
def test_a_payment_that_is_not_positive_is_refused(amount):
    with pytest.raises(ValueError):
        impute(amount, [claim(1, AS_OF, principal="10.00")], as_of=AS_OF)


def test_a_float_payment_is_refused():
    with pytest.raises(TypeError):
        impute(10.0, [claim(1, AS_OF, principal="10.00")], as_of=AS_OF)


def test_a_fraction_of_a_cent_is_refused_rather_than_rounded():
    with pytest.raises(ValueError, match="cent"):
        impute(Decimal("10.005"), [claim(1, AS_OF, principal="10.00")], as_of=AS_OF)


def test_a_negative_outstanding_amount_is_refused():
    with pytest.raises(ValueError, match="negative"):
        impute(Decimal("10.00"), [claim(1, AS_OF, "0", "-1.00", "10.00")], as_of=AS_OF)


def test_a_debtor_choice_naming_an_unknown_claim_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        impute(Decimal("10.00"), [claim(1, AS_OF, principal="10.00")], as_of=AS_OF,
               debtor_choice=[2])  # fmt: skip


def test_a_claim_listed_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        impute(Decimal("10.00"), [claim(1, AS_OF, principal="1.00")] * 2, as_of=AS_OF)


def test_an_unknown_order_is_refused():
    with pytest.raises(ValueError, match="order"):
        impute(Decimal("10.00"), [claim(1, AS_OF, principal="10.00")], as_of=AS_OF,
               order="newest_first")  # fmt: skip


@pytest.mark.parametrize(("field", "value", "error", "message"), [
    ("principal", 10.0, TypeError, "claim 1 principal must be a Decimal"),
    ("costs", True, TypeError, "claim 1 costs must be a Decimal"),
    ("interest", Decimal("0.005"), ValueError, "claim 1 interest has a fraction of a cent"),
    ("principal", Decimal("NaN"), ValueError, "claim 1 principal is not a finite amount"),
])
def test_a_claim_amount_that_is_not_whole_cents_is_refused_naming_the_claim_and_component(
        field, value, error, message):
    amounts = {"costs": Decimal("0"), "interest": Decimal("0"), "principal": Decimal("10.00"), field: value}
    with pytest.raises(error, match=message):
        impute(Decimal("10.00"), [ClaimBalance(1, AS_OF, **amounts)], as_of=AS_OF)


def test_whole_euro_amounts_given_as_int_are_imputed_like_decimals():
    result = impute(Decimal("15.00"), [ClaimBalance(1, AS_OF, 2, 0, 10)], as_of=AS_OF)
    assert result.allocations == (Allocation(1, COSTS, Decimal("2.00")), Allocation(1, PRINCIPAL, Decimal("10.00")))
    assert result.unapplied == Decimal("3.00")
