"""What debtors still owe, read set-based from the claims.

`outstanding` is the crystallised balance (principal, chargeable costs, interest already
accrued, less what was paid): enough for scenario conditions and reports.

`claim_balances` and `dossier_totals` give the balance *to the day*: the crystallised figures
plus the interest that ran since the last crystallisation, as letters (R124-4: principal,
interest and accessories shown apart), the console and payments need it.

Interest to `as_of`, per claim:

    interest_accrued - interest_paid
    + claim_interest(principal due, from max(interest_from, interest_accrued_to), to as_of)

with the days `start <= d < as_of` counted (models/interest.py), the legal rate for a private
creditor when the dossier's creditor is a private person, the "other" rate otherwise, L441-10
penalties for B2B claims and the claim's own rate for contractual interest. A claim without an
interest start date (`interest_from`) or in mode NONE accrues nothing.

A missing rate (`MissingRateError`, e.g. a half-year not yet published) must not stop a batch of
letters: interest then accrues up to the first day of the unknown half-year, and the claim says
so (`interest_to` earlier than `as_of`, `missing_rate` naming the half-year). Callers show or
review the flag; nothing is extrapolated.

Rounding: each call of `claim_interest` rounds its total once, half up, to the cent
(`models.money.round_cents`); sums of cents need no further rounding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from models.dates import half_year_label, half_year_start
from models.dossiers import Claim, Dossier
from models.enums import InterestMode
from models.imputation import ClaimBalance
from models.interest import claim_interest
from models.money import money
from models.parties import Creditor
from models.rates import MissingRateError, RateTables, load_rate_tables
from services.bulk import one_of

__all__ = [
    "Accrual",
    "ClaimBalanceToDay",
    "DossierTotals",
    "accrue_interest",
    "claim_balances",
    "dossier_totals",
    "interest_between",
    "outstanding",
    "shipped_rates",
]

ZERO = Decimal("0.00")
CHUNK = 5000


def outstanding(session, dossier_ids: Iterable[int]) -> dict[int, Decimal]:
    ids = list(dossier_ids)
    if not ids:
        return {}
    expr = func.sum(
        Claim.principal - Claim.principal_paid + Claim.costs + Claim.indemnity - Claim.costs_paid
        + Claim.interest_accrued - Claim.interest_paid
    )
    rows = session.execute(
        select(Claim.dossier_id, expr).where(one_of(session, Claim.dossier_id, ids)).group_by(Claim.dossier_id)
    )
    return {dossier_id: money(str(total)) for dossier_id, total in rows}


# --- interest since the last crystallisation -------------------------------------------


@dataclass(frozen=True)
class Accrual:
    """New interest on one claim since its last crystallisation.

    `through`: the first day not counted, i.e. the new `interest_accrued_to`; None when the
    claim bears no interest (or not yet: `as_of` before `interest_from`), so nothing moves.
    `missing_rate`: the half-year ("2026 S2") whose rate is unknown when the accrual stopped
    short of `as_of`; None otherwise.
    """

    amount: Decimal
    through: date | None
    missing_rate: str | None = None


def accrue_interest(claim: Any, *, as_of: date, rates: RateTables, private_creditor: bool) -> Accrual:
    """Interest on the principal due of `claim` for the days from its last crystallisation (or
    `interest_from`) up to, not including, `as_of`.

    `claim` is anything with the Claim attributes read here (an ORM Claim or a result row):
    interest_mode, principal, principal_paid, interest_from, interest_accrued_to,
    contractual_rate, judgment_enforceable_on.
    """
    mode = InterestMode(claim.interest_mode)
    if mode == InterestMode.NONE or claim.interest_from is None:
        return Accrual(ZERO, None)
    start = claim.interest_from
    if claim.interest_accrued_to is not None and claim.interest_accrued_to > start:
        start = claim.interest_accrued_to
    if as_of <= start:
        return Accrual(ZERO, None)
    return interest_between(
        claim, claim.principal - claim.principal_paid, start, as_of, rates=rates, private_creditor=private_creditor
    )


def interest_between(
    claim: Any, principal: Decimal, start: date, end: date, *, rates: RateTables, private_creditor: bool
) -> Accrual:
    """Interest on `principal` under the claim's terms for `start <= d < end`, stopping at the
    first half-year whose rate is unknown (flagged in `missing_rate`)."""
    mode = InterestMode(claim.interest_mode)
    if end <= start:
        return Accrual(ZERO, None)
    if principal <= 0 or mode == InterestMode.NONE:
        return Accrual(ZERO, end)

    def compute(to: date) -> Decimal:
        return claim_interest(
            mode,
            principal,
            start,
            to,
            rates=rates,
            private_creditor=private_creditor,
            contractual_rate=claim.contractual_rate,
            judgment_enforceable_on=claim.judgment_enforceable_on,
        ).total

    try:
        return Accrual(compute(end), end)
    except MissingRateError as exc:
        label = half_year_label(exc.year, exc.half) if exc.year else "?"
        # The lookups walk the periods in order, so the error names the first unknown
        # half-year: every day before its first day has a known rate.
        cut = half_year_start(exc.year, exc.half) if exc.year else start
        stop = min(max(cut, start), end)
        return Accrual(compute(stop) if stop > start else ZERO, stop, label)
    except ValueError:
        # A contractual claim without its rate: nothing can be computed; flagged, not guessed.
        if mode == InterestMode.CONTRACTUAL and claim.contractual_rate is None:
            return Accrual(ZERO, start, "contractual_rate")
        raise


_SHIPPED: list[RateTables] = []


def shipped_rates() -> RateTables:
    """The rate tables shipped with the product, loaded once. Callers that know the user's
    tables (`Container.rates`, which adds RELANCE_RATES_DIR) should pass those instead."""
    if not _SHIPPED:
        _SHIPPED.append(load_rate_tables())
    return _SHIPPED[0]


# --- balances to the day ---------------------------------------------------------------


@dataclass(frozen=True)
class ClaimBalanceToDay:
    """What one claim owes on `as_of`, by component (R124-4: principal, interest, accessories).

    `costs` is chargeable costs plus the D441-5 indemnity, less what was paid on them.
    `interest_to` is the first day not counted in `interest` (normally `as_of`; earlier when a
    rate is missing; None when the claim bears no interest).
    """

    claim_id: int
    dossier_id: int
    invoice_ref: str
    due_date: date
    principal: Decimal
    interest: Decimal
    costs: Decimal
    interest_to: date | None
    missing_rate: str | None = None

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.costs

    @property
    def interest_incomplete(self) -> bool:
        return self.missing_rate is not None

    def for_imputation(self) -> ClaimBalance:
        return ClaimBalance(self.claim_id, self.due_date, self.costs, self.interest, self.principal)


@dataclass(frozen=True)
class DossierTotals:
    dossier_id: int
    principal: Decimal
    interest: Decimal
    costs: Decimal
    claims: int
    interest_incomplete: bool = False

    @property
    def balance(self) -> Decimal:
        return self.principal + self.interest + self.costs


_COLUMNS = (
    Claim.id, Claim.dossier_id, Claim.invoice_ref, Claim.due_date, Claim.principal, Claim.principal_paid,
    Claim.costs, Claim.indemnity, Claim.costs_paid, Claim.interest_accrued, Claim.interest_paid,
    Claim.interest_accrued_to, Claim.interest_mode, Claim.interest_from, Claim.contractual_rate,
    Claim.judgment_enforceable_on,
)


def claim_balance_to_day(claim: Any, *, as_of: date, rates: RateTables, private_creditor: bool) -> ClaimBalanceToDay:
    """One claim (ORM object or row with the Claim attributes) to the day."""
    accrual = accrue_interest(claim, as_of=as_of, rates=rates, private_creditor=private_creditor)
    interest_to = accrual.through if accrual.through is not None else claim.interest_accrued_to
    return ClaimBalanceToDay(
        claim_id=claim.id,
        dossier_id=claim.dossier_id,
        invoice_ref=claim.invoice_ref,
        due_date=claim.due_date,
        principal=claim.principal - claim.principal_paid,
        interest=claim.interest_accrued - claim.interest_paid + accrual.amount,
        costs=claim.costs + claim.indemnity - claim.costs_paid,
        interest_to=interest_to,
        missing_rate=accrual.missing_rate,
    )


def claim_balances(
    session,
    dossier_ids: Iterable[int],
    *,
    as_of: date,
    rates: RateTables,
    private_creditor_by_dossier: Mapping[int, bool] | None = None,
) -> dict[int, list[ClaimBalanceToDay]]:
    """Every claim of the given dossiers to `as_of`, by dossier id, claims in id order.

    Dossiers without claims are absent. `private_creditor_by_dossier` saves a join when the
    caller already knows which creditors are private persons; otherwise it is read.
    """
    ids = list(dict.fromkeys(dossier_ids))
    out: dict[int, list[ClaimBalanceToDay]] = {}
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        if private_creditor_by_dossier is None:
            stmt = (select(*_COLUMNS, Creditor.is_private_person)
                    .join(Dossier, Dossier.id == Claim.dossier_id)
                    .join(Creditor, Creditor.id == Dossier.creditor_id))
        else:
            stmt = select(*_COLUMNS)
        stmt = stmt.where(one_of(session, Claim.dossier_id, chunk)).order_by(Claim.dossier_id, Claim.id)
        for row in session.execute(stmt):
            if private_creditor_by_dossier is None:
                private = bool(row.is_private_person)
            else:
                private = bool(private_creditor_by_dossier.get(row.dossier_id, False))
            out.setdefault(row.dossier_id, []).append(
                claim_balance_to_day(row, as_of=as_of, rates=rates, private_creditor=private)
            )
    return out


def totals_of(dossier_id: int, claims: Iterable[ClaimBalanceToDay]) -> DossierTotals:
    claims = list(claims)
    return DossierTotals(
        dossier_id=dossier_id,
        principal=sum((c.principal for c in claims), ZERO),
        interest=sum((c.interest for c in claims), ZERO),
        costs=sum((c.costs for c in claims), ZERO),
        claims=len(claims),
        interest_incomplete=any(c.interest_incomplete for c in claims),
    )


def dossier_totals(
    session,
    dossier_ids: Iterable[int],
    *,
    as_of: date,
    rates: RateTables,
    private_creditor_by_dossier: Mapping[int, bool] | None = None,
) -> dict[int, DossierTotals]:
    """Principal, interest, costs and balance of each dossier to `as_of` (zero for a dossier
    without claims); every id asked for is in the answer."""
    ids = list(dict.fromkeys(dossier_ids))
    by_dossier = claim_balances(
        session, ids, as_of=as_of, rates=rates, private_creditor_by_dossier=private_creditor_by_dossier
    )
    return {i: totals_of(i, by_dossier.get(i, ())) for i in ids}
