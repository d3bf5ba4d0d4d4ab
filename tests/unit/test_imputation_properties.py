"""Properties of impute() over random claims and payments."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from models.enums import ClaimComponent
from models.imputation import ClaimBalance, impute

AS_OF = date(2024, 6, 1)
COMPONENTS = (ClaimComponent.COSTS, ClaimComponent.INTEREST, ClaimComponent.PRINCIPAL)
cents = st.integers(min_value=0, max_value=50_000).map(lambda c: Decimal(c) / 100)
# A narrow range of due dates so that ties (pro rata groups) are frequent.
due_dates = st.integers(min_value=-3, max_value=3).map(lambda d: AS_OF + timedelta(days=30 * d))


@st.composite
def cases(draw):
    ids = draw(st.lists(st.integers(1, 10_000), min_size=0, max_size=6, unique=True))
    claims = [ClaimBalance(i, draw(due_dates), draw(cents), draw(cents), draw(cents)) for i in ids]
    owed = sum((c.total for c in claims), Decimal(0))
    # Payments from one cent up to a little more than everything owed.
    payment = Decimal(draw(st.integers(1, int(owed * 100 * 6 / 5) + 1))) / 100
    shuffled = draw(st.permutations(ids))
    choice = shuffled[: draw(st.integers(0, len(ids)))]
    order = draw(st.sampled_from(["legal", "pro_rata", "oldest_first"]))
    return claims, payment, choice, order


def paid_by_component(result):
    paid = defaultdict(Decimal)
    for a in result.allocations:
        paid[a.claim_id, a.component] += a.amount
    return paid


def rank(claim, order):
    if order == "pro_rata":
        return 0
    if order == "oldest_first":
        return claim.due_date.toordinal()
    return (claim.due_date > AS_OF, claim.due_date.toordinal())


PROPERTY = settings(max_examples=60, deadline=None)


@PROPERTY
@given(cases())
def test_allocations_plus_unapplied_equal_the_payment_to_the_cent(case):
    claims, payment, choice, order = case
    result = impute(payment, claims, as_of=AS_OF, debtor_choice=choice, order=order)
    assert sum(a.amount for a in result.allocations) + result.unapplied == payment
    for a in result.allocations:
        assert a.amount > 0 and a.amount == a.amount.quantize(Decimal("0.01"))
    assert result.unapplied >= 0


@PROPERTY
@given(cases())
def test_no_component_is_over_paid_and_money_is_left_over_only_when_everything_is_paid(case):
    claims, payment, choice, order = case
    result = impute(payment, claims, as_of=AS_OF, debtor_choice=choice, order=order)
    paid = paid_by_component(result)
    for c in claims:
        for component in COMPONENTS:
            assert paid[c.claim_id, component] <= getattr(c, component.value)
    if result.unapplied > 0:
        assert all(result.for_claim(c.claim_id) == c.total for c in claims)


@PROPERTY
@given(cases())
def test_within_a_claim_interest_waits_for_costs_and_principal_waits_for_both(case):
    claims, payment, choice, order = case
    result = impute(payment, claims, as_of=AS_OF, debtor_choice=choice, order=order)
    paid = paid_by_component(result)
    for c in claims:
        if paid[c.claim_id, ClaimComponent.INTEREST] > 0:
            assert paid[c.claim_id, ClaimComponent.COSTS] == c.costs
        if paid[c.claim_id, ClaimComponent.PRINCIPAL] > 0:
            assert paid[c.claim_id, ClaimComponent.COSTS] == c.costs
            assert paid[c.claim_id, ClaimComponent.INTEREST] == c.interest


@PROPERTY
@given(cases())
def test_a_claim_ranked_later_gets_nothing_until_every_claim_ranked_earlier_is_paid(case):
    claims, payment, choice, order = case
    result = impute(payment, claims, as_of=AS_OF, debtor_choice=choice, order=order)
    # The debtor's choice comes first, in its order; the rest by the order's ranking.
    position = {cid: (0, n) for n, cid in enumerate(choice)}
    key = {c.claim_id: position.get(c.claim_id, (1, rank(c, order))) for c in claims}
    for earlier in claims:
        for later in claims:
            if key[earlier.claim_id] < key[later.claim_id] and result.for_claim(later.claim_id) > 0:
                assert result.for_claim(earlier.claim_id) == earlier.total


@PROPERTY
@given(cases())
def test_claims_sharing_a_rank_are_paid_within_one_cent_of_their_exact_pro_rata_share(case):
    claims, payment, _, order = case
    result = impute(payment, claims, as_of=AS_OF, order=order)
    groups = defaultdict(list)
    for c in claims:
        groups[rank(c, order)].append(c)
    for group in groups.values():
        group_total = sum(c.total for c in group)
        received = sum(result.for_claim(c.claim_id) for c in group)
        if received == group_total:
            continue
        for c in group:
            exact = received * c.total / group_total
            assert abs(result.for_claim(c.claim_id) - exact) < Decimal("0.01")
