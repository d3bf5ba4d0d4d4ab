"""Applying a payment to a debtor's claims (imputation, C. civ. 1342-10 and 1343-1).

Within one claim a partial payment goes to costs, then interest, then principal (1343-1).
Across claims, unless the debtor chose, 1342-10 ranks: debts already due, then those the
debtor has most interest in paying, then the oldest, then pro rata. "Most interest in paying"
needs a human judgement, so the product ranks due before not yet due, then oldest due date,
then pro rata among claims sharing a due date.

All arithmetic is done in integer cents, so the allocations plus the unapplied overpayment
always equal the payment exactly; nothing is rounded. Amounts with fractions of a cent are
refused rather than silently rounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import groupby

from models.enums import ClaimComponent

CENT = Decimal("0.01")
ORDERS = ("legal", "pro_rata", "oldest_first")
_COMPONENTS = (ClaimComponent.COSTS, ClaimComponent.INTEREST, ClaimComponent.PRINCIPAL)


@dataclass(frozen=True)
class ClaimBalance:
    """What is still outstanding on one claim, by component."""

    claim_id: int
    due_date: date
    costs: Decimal
    interest: Decimal
    principal: Decimal

    @property
    def total(self) -> Decimal:
        return self.costs + self.interest + self.principal


@dataclass(frozen=True)
class Allocation:
    claim_id: int
    component: ClaimComponent
    amount: Decimal


@dataclass(frozen=True)
class ImputationResult:
    """Allocations in the order they were made, and the overpayment left over."""

    allocations: tuple[Allocation, ...]
    unapplied: Decimal

    @property
    def allocated(self) -> Decimal:
        return sum((a.amount for a in self.allocations), Decimal("0.00"))

    def for_claim(self, claim_id: int) -> Decimal:
        return sum((a.amount for a in self.allocations if a.claim_id == claim_id), Decimal("0.00"))


def impute(
    amount: Decimal,
    claims: Sequence[ClaimBalance],
    *,
    as_of: date,
    debtor_choice: Sequence[int] | None = None,
    order: str = "legal",
) -> ImputationResult:
    """Split a payment received on `as_of` between the claims.

    `debtor_choice`: claim ids the debtor said he was paying, in his order; they are paid
    first, the rest follows the legal order. `order`: "legal" (default), "pro_rata" (all
    claims pro rata, a mandate override) or "oldest_first" (due date only, due or not).
    """
    if order not in ORDERS:
        raise ValueError(f"unknown imputation order {order!r}; expected one of {ORDERS}")
    payment = _to_cents(amount, "payment")
    if payment <= 0:
        raise ValueError("the payment must be greater than zero")
    outstanding = _validate_claims(claims)
    by_id = {c.claim_id: c for c in claims}

    chosen = _validate_choice(debtor_choice, by_id)
    rest = [c for c in claims if c.claim_id not in chosen]
    groups: list[list[ClaimBalance]] = [[by_id[i]] for i in chosen]
    groups += _rank(rest, as_of=as_of, order=order)

    allocations: list[Allocation] = []
    remaining = payment
    for group in groups:
        if remaining == 0:
            break
        shares = _share_out(remaining, group, outstanding)
        for claim in group:
            share = shares[claim.claim_id]
            remaining -= share
            allocations.extend(_split_within_claim(claim, share, outstanding[claim.claim_id]))
    return ImputationResult(tuple(allocations), _from_cents(remaining))


def _rank(claims: Iterable[ClaimBalance], *, as_of: date, order: str) -> list[list[ClaimBalance]]:
    """Groups of claims in paying order; claims within one group share the payment pro rata."""
    claims = sorted(claims, key=lambda c: c.claim_id)
    if len(claims) <= 1:  # most dossiers hold one claim: nothing to rank
        return [claims] if claims else []
    if order == "pro_rata":
        return [claims]
    if order == "oldest_first":
        key = lambda c: c.due_date  # noqa: E731
    else:
        # Not yet due sorts after due; among the not yet due, the sooner due first. As every
        # due date is on or before as_of and every other one after it, this ranks exactly as
        # "oldest_first"; the rule is spelt out so that a future criterion slots in here.
        key = lambda c: (c.due_date > as_of, c.due_date)  # noqa: E731
    return [list(g) for _, g in groupby(sorted(claims, key=key), key=key)]


def _share_out(
    available: int, group: list[ClaimBalance], outstanding: dict[int, tuple[int, int, int]]
) -> dict[int, int]:
    """Cents each claim of the group receives: in full if enough, else pro rata of totals.

    Pro rata by largest remainder: each claim gets the floor of its exact share, then the
    cents left go one each to the largest remainders (ties: lowest claim id first). A claim
    only gets an extra cent if its exact share had a fraction, so no claim is ever over-paid.
    """
    if len(group) == 1:  # one claim: it takes what it is owed, or all there is
        claim_id = group[0].claim_id
        return {claim_id: min(available, sum(outstanding[claim_id]))}
    totals = {c.claim_id: sum(outstanding[c.claim_id]) for c in group}
    group_total = sum(totals.values())
    if available >= group_total:
        return totals
    shares = {cid: available * t // group_total for cid, t in totals.items()}
    remainders = {cid: available * t % group_total for cid, t in totals.items()}
    left = available - sum(shares.values())
    for cid in sorted(totals, key=lambda cid: (-remainders[cid], cid))[:left]:
        shares[cid] += 1
    return shares


def _split_within_claim(
    claim: ClaimBalance, share: int, components: tuple[int, int, int]
) -> list[Allocation]:
    allocations = []
    for component, due in zip(_COMPONENTS, components):
        paid = min(share, due)
        if paid > 0:
            allocations.append(Allocation(claim.claim_id, component, _from_cents(paid)))
            share -= paid
    return allocations


def _validate_claims(claims: Sequence[ClaimBalance]) -> dict[int, tuple[int, int, int]]:
    outstanding: dict[int, tuple[int, int, int]] = {}
    for claim in claims:
        if claim.claim_id in outstanding:
            raise ValueError(f"claim {claim.claim_id} is listed twice")
        try:  # the usual case, without building three error messages per claim
            cents = (_plain_cents(claim.costs), _plain_cents(claim.interest), _plain_cents(claim.principal))
        except _NotPlainCents:
            cents = tuple(
                _to_cents(getattr(claim, c.value), f"claim {claim.claim_id} {c.value}")
                for c in _COMPONENTS
            )
        if any(v < 0 for v in cents):
            raise ValueError(f"claim {claim.claim_id} has a negative outstanding amount")
        outstanding[claim.claim_id] = cents
    return outstanding


def _validate_choice(choice: Sequence[int] | None, by_id: dict[int, ClaimBalance]) -> list[int]:
    # A list, not a set: the debtor's order matters; claims are few, so `in` stays cheap.
    if not choice:
        return []
    unknown = [i for i in choice if i not in by_id]
    if unknown:
        raise ValueError(f"debtor_choice names unknown claims: {unknown}")
    if len(set(choice)) != len(choice):
        raise ValueError("debtor_choice names a claim twice")
    return list(choice)


class _NotPlainCents(Exception):
    """Not a finite Decimal (or int) in whole cents: `_to_cents` says what is wrong."""


def _plain_cents(value) -> int:
    # Exact types only: a bool is an int, and a float must reach `_to_cents` to be refused.
    if type(value) is Decimal:
        cents = value.scaleb(2)
        if cents.is_finite() and cents == cents.to_integral_value():
            return int(cents)
    elif type(value) is int:
        return value * 100
    raise _NotPlainCents


def _to_cents(value: Decimal | int, what: str) -> int:
    # Floats are refused outright: 0.1 + 0.2 is not money.
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{what} must be a Decimal, not {type(value).__name__}")
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError(f"{what} is not a finite amount")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{what} has a fraction of a cent")
    return int(cents)


def _from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)
