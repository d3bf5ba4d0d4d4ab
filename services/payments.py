"""Payments: apply a payment received for a dossier, book it, and take it back when it bounces.

Applying a payment (`apply_payment`), in one transaction:
1. the payment row is inserted once per bank/PSP id (`external_id`); the same id again is a
   duplicate and changes nothing;
2. interest is crystallised on every claim up to the day the money was received
   (`interest_accrued`, `interest_accrued_to`; days `start <= d < received_on`);
3. the payment is imputed (`models.imputation.impute`): within a claim costs, then interest,
   then principal (C. civ. 1343-1); across claims the creditor's `imputation_override` or the
   legal order (1342-10), the debtor's explicit choice first;
4. the claims' `*_paid` move, and one journal entry books the money (chart below);
5. every claim that received something has its prescription interrupted on `received_on`
   (a payment acknowledges the debt, C. civ. 2240): a full new period from that day;
6. the dossier's open promise and active plan count the payment;
7. a PARTIAL_PAYMENT or PAID_IN_FULL event is recorded; when paid in full the dossier is
   closed (CLOSED, close reason PAID). Enrolments are left to the scenario engine, which reacts
   to PAID_IN_FULL.

Chart of accounts (models.enums.LedgerAccount; signed amounts, debit +, credit -)
-------------------------------------------------------------------------------
Cash side, what the office holds (R124-6, compte affecté):
- TRUST_BANK: the compte affecté, only ever funds collected for creditors (debit balance);
- CREDITOR_PAYABLE: funds held for the creditor, to be reversed to it (credit balance);
- SUSPENSE: money received that is owed to nobody's claim: an overpayment, to be refunded
  to the debtor or matched by a manager (credit balance). It is kept apart from
  CREDITOR_PAYABLE because it is not the creditor's money.
Memo side, the claims the creditors entrusted (per claim and component):
- DEBTOR_RECEIVABLE: what debtors owe on the claims; a collection credits it per claim and
  component (costs, interest, principal);
- ENTRUSTED: its counterpart, the sums the creditors placed with the office.
- FEE_INCOME: the office's fees; not moved here (remittance and fees are booked elsewhere).

A payment of A, of which `applied` went to claims and `unapplied` is left over, is one entry
(kind "payment", reference the payment id):

    Dr TRUST_BANK            A
    Cr CREDITOR_PAYABLE      applied
    Cr SUSPENSE              unapplied            (only when > 0)
    Cr DEBTOR_RECEIVABLE     a_i                  (one line per allocation: claim, component)
    Dr ENTRUSTED             applied

so that (a) every entry sums to zero, (b) TRUST_BANK + CREDITOR_PAYABLE + SUSPENSE = 0 at
all times, overall and per creditor (the compte affecté holds exactly the creditors' funds
plus the overpayments to refund), (c) DEBTOR_RECEIVABLE + ENTRUSTED = 0, and (d) the credits
to DEBTOR_RECEIVABLE of a claim and component, from payment and reversal entries, equal that
claim's `*_paid`: the claim columns are a fast read of the books. Interest crystallisation is
not booked: the receivable moves only with money. Entries that later move money out of the
trust account (remittance, refund) must debit CREDITOR_PAYABLE or SUSPENSE by the same amount.

The journal entry's data keeps `balance_after`, what the dossier still owed once the payment was
applied (interest crystallised to `received_on`): the quittance prints it.

Unmatched payments (services/payment_matching.py): money on the trust account that no dossier
claims yet is one entry of kind "unmatched", Dr TRUST_BANK / Cr SUSPENSE with no creditor; when a
manager assigns it, an entry "suspense_release" takes it off SUSPENSE before the payment entry
above books it for the dossier (`apply_recorded_payment`).

Reversal (`reverse_payment`, a bounced cheque or a refunded card payment): one entry of kind
"reversal" with every line of the payment's entry negated; the claims' paid amounts go back,
and the interest that the reversed principal would have borne since `received_on` up to the
claim's last crystallisation is added back (rounded once per claim, so it may differ by a cent
from a single computation); promise, installments, plan and dossier status return to what the
payment had changed. The prescription interruption stays: the acknowledgement of the debt
happened when the debtor paid, whatever became of the money (C. civ. 2240 looks at the
debtor's act, not at the bank's outcome). An enrolment the scenario engine ended on
PAID_IN_FULL is not restarted: a manager re-enrols the dossier. Later payments keep the
imputation they got.

Logs carry ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from models.agreements import Installment, PaymentPlan, Promise
from models.dossiers import Claim, Dossier, DossierEvent
from models.enums import (
    ClaimComponent,
    CloseReason,
    DossierStatus,
    EventKind,
    LedgerAccount,
    PaymentStatus,
    PlanStatus,
    PromiseStatus,
)
from models.imputation import Allocation, ClaimBalance, impute
from models.ledger import JournalEntry, LedgerLine
from models.money import round_cents
from models.parties import Creditor
from models.payments import Payment
from models.prescription import PrescriptionState
from models.rates import RateTables
from services.balances import accrue_interest, interest_between, shipped_rates
from services.lifecycle import refuse_archived

__all__ = [
    "PaymentError",
    "PaymentResult",
    "ReversalResult",
    "apply_payment",
    "apply_recorded_payment",
    "interrupt_prescription",
    "reverse_payment",
]

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")
PAYMENT_KIND = "payment"
REVERSAL_KIND = "reversal"


class PaymentError(ValueError):
    """A payment that cannot be applied or reversed as asked."""


@dataclass(frozen=True)
class PaymentResult:
    payment_id: int
    duplicate: bool
    allocations: tuple[Allocation, ...]
    unapplied: Decimal  # overpayment, booked on SUSPENSE to be refunded
    paid_in_full: bool
    # A rate was missing: interest was crystallised only up to the last known half-year.
    interest_incomplete: bool = False


@dataclass(frozen=True)
class ReversalResult:
    payment_id: int
    already_reversed: bool
    entry_id: int | None


def interrupt_prescription(claim: Claim, kind: str, on: date) -> bool:
    """Restart the claim's prescription period on `on` (models.prescription rules: an event
    before the current anchor or after expiry changes nothing). True when it moved."""
    state = PrescriptionState(
        start=claim.prescription_start,
        years=claim.prescription_years,
        last_interruption_on=claim.last_interruption_on,
        last_interruption_kind=claim.last_interruption_kind,
    )
    after = state.interrupt(kind, on)
    if after == state:
        return False
    claim.last_interruption_on = after.last_interruption_on
    claim.last_interruption_kind = after.last_interruption_kind
    claim.prescription_expires_on = after.expires_on
    return True


def apply_payment(
    session,
    *,
    dossier_id: int,
    amount: Decimal,
    received_on: date,
    method: str,
    external_id: str,
    label: str | None = None,
    debtor_choice: Sequence[int] | None = None,
    now: datetime,
    rates: RateTables | None = None,
) -> PaymentResult:
    """Apply a payment of `amount` received on `received_on` to the dossier's claims.

    `rates`: the rate tables for interest (pass `Container.rates`; defaults to the shipped
    tables). Raises PaymentError for an unknown dossier or an amount that is not a positive
    number of cents. The caller commits.
    """
    amount = _cents(amount)
    if not external_id:
        raise PaymentError("external_id is required: it is what makes a payment idempotent")
    if not method:
        raise PaymentError("the payment method is required")
    label = label[:300] if label else label
    rates = rates or shipped_rates()

    dossier = session.scalar(select(Dossier).where(Dossier.id == dossier_id).with_for_update())
    if dossier is None:
        raise PaymentError(f"unknown dossier {dossier_id}")
    refuse_archived(dossier)
    payment_id = _insert_payment(session, dossier_id=dossier_id, amount=amount, received_on=received_on,
                                 method=method, external_id=external_id, label=label, now=now)
    if payment_id is None:
        existing = session.scalar(select(Payment).where(Payment.external_id == external_id))
        log.info("payment %s already recorded (dossier %s)", existing.id, dossier_id)
        return _replay(session, existing)
    return _apply(session, dossier, payment_id, amount, received_on, debtor_choice, now, rates)


def apply_recorded_payment(
    session,
    payment_id: int,
    *,
    dossier_id: int,
    debtor_choice: Sequence[int] | None = None,
    now: datetime,
    rates: RateTables | None = None,
) -> PaymentResult:
    """Apply a payment already recorded as UNMATCHED (suspense) to a dossier, exactly as
    `apply_payment` would have on the day it was received. The caller takes it off the suspense
    books first (services/payment_matching.py) and commits."""
    payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
    if payment is None:
        raise PaymentError(f"unknown payment {payment_id}")
    if payment.status != PaymentStatus.UNMATCHED:
        raise PaymentError(f"payment {payment_id} is not waiting in suspense ({payment.status})")
    dossier = session.scalar(select(Dossier).where(Dossier.id == dossier_id).with_for_update())
    if dossier is None:
        raise PaymentError(f"unknown dossier {dossier_id}")
    payment.dossier_id, payment.status, payment.applied_at = dossier_id, PaymentStatus.APPLIED, now
    session.flush()
    return _apply(session, dossier, payment_id, payment.amount, payment.received_on, debtor_choice, now,
                  rates or shipped_rates())


def _apply(session, dossier, payment_id, amount, received_on, debtor_choice, now, rates) -> PaymentResult:
    dossier_id = dossier.id
    creditor = session.get(Creditor, dossier.creditor_id)
    claims = list(session.scalars(
        select(Claim).where(Claim.dossier_id == dossier_id).order_by(Claim.id).with_for_update()
    ))

    # 2. Interest to the day the money arrived.
    crystallised, incomplete = [], False
    for claim in claims:
        accrual = accrue_interest(claim, as_of=received_on, rates=rates,
                                  private_creditor=creditor.is_private_person)
        incomplete = incomplete or accrual.missing_rate is not None
        if accrual.through is None:
            continue
        crystallised.append({"claim_id": claim.id, "amount": str(accrual.amount),
                             "from": _iso(claim.interest_accrued_to), "to": accrual.through.isoformat()})
        claim.interest_accrued += accrual.amount
        claim.interest_accrued_to = accrual.through
        claim.updated_at = now

    # 3. Imputation.
    balances = [
        ClaimBalance(c.id, c.due_date, c.costs_due, c.interest_due, c.principal_due)
        for c in claims
    ]
    result = impute(amount, balances, as_of=received_on, debtor_choice=debtor_choice,
                    order=creditor.imputation_override or "legal")

    # 4. Claims and books.
    by_id = {c.id: c for c in claims}
    for a in result.allocations:
        claim = by_id[a.claim_id]
        claim.add_paid(a.component, a.amount)
        claim.updated_at = now
    applied = result.allocated
    remaining = sum((c.balance_due for c in claims), ZERO)
    paid_in_full = remaining <= 0 and applied > 0

    # 5. Prescription: each claim the payment reached.
    for claim_id in dict.fromkeys(a.claim_id for a in result.allocations):
        interrupt_prescription(by_id[claim_id], "payment", received_on)

    # 6. Promise and plan.
    status_before = dossier.status
    promise_data = _count_for_promise(session, dossier, amount, received_on, paid_in_full, payment_id, now)
    plan_data = _count_for_plan(session, dossier, amount, received_on, paid_in_full)

    entry = JournalEntry(
        posted_on=received_on, kind=PAYMENT_KIND, dossier_id=dossier_id, reference=str(payment_id),
        created_at=now,
        data={
            "payment_id": payment_id, "amount": str(amount), "unapplied": str(result.unapplied),
            "paid_in_full": paid_in_full, "status_before": str(status_before),
            "balance_after": str(max(remaining, ZERO)),
            "interest_incomplete": incomplete, "crystallised": crystallised,
            "promise": promise_data, **plan_data,
        },
    )
    entry.lines = _payment_lines(dossier, amount, applied, result)
    session.add(entry)

    # 7. Events and status.
    data = {"payment_id": payment_id, "amount": str(amount), "received_on": received_on.isoformat(),
            "unapplied": str(result.unapplied)}
    if paid_in_full:
        if incomplete:
            data["interest_incomplete"] = True
        session.add(DossierEvent(dossier_id=dossier_id, kind=EventKind.PAID_IN_FULL, occurred_at=now,
                                 source="payment", data=data))
        if dossier.status != DossierStatus.CLOSED:
            dossier.status, dossier.close_reason, dossier.closed_at = DossierStatus.CLOSED, CloseReason.PAID, now
    else:
        session.add(DossierEvent(dossier_id=dossier_id, kind=EventKind.PARTIAL_PAYMENT, occurred_at=now,
                                 source="payment", data=data))
    dossier.updated_at = now
    session.flush()
    log.info("payment %s applied to dossier %s (entry %s, paid_in_full=%s, interest_incomplete=%s)",
             payment_id, dossier_id, entry.id, paid_in_full, incomplete)
    return PaymentResult(payment_id, False, result.allocations, result.unapplied, paid_in_full, incomplete)


def reverse_payment(
    session, payment_id: int, *, on: date, now: datetime, rates: RateTables | None = None
) -> ReversalResult:
    """Take back an applied payment (bounced, refunded) on `on`. Reversing twice does nothing
    the second time. The caller commits."""
    payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
    if payment is None:
        raise PaymentError(f"unknown payment {payment_id}")
    if payment.status == PaymentStatus.REVERSED:
        return ReversalResult(payment_id, True, None)
    original = session.scalar(select(JournalEntry).where(
        JournalEntry.kind == PAYMENT_KIND, JournalEntry.reference == str(payment_id)))
    if payment.status != PaymentStatus.APPLIED or original is None:
        raise PaymentError(f"payment {payment_id} was not applied to a dossier: nothing to reverse")
    rates = rates or shipped_rates()

    dossier = session.scalar(select(Dossier).where(Dossier.id == payment.dossier_id).with_for_update())
    refuse_archived(dossier)
    creditor = session.get(Creditor, dossier.creditor_id)
    claims = {c.id: c for c in session.scalars(
        select(Claim).where(Claim.dossier_id == dossier.id).order_by(Claim.id).with_for_update())}

    # Books: the mirror of the payment's entry.
    entry = JournalEntry(
        posted_on=on, kind=REVERSAL_KIND, dossier_id=dossier.id, reference=str(payment_id), created_at=now,
        data={"payment_id": payment_id, "reverses_entry": original.id},
    )
    entry.lines = [
        LedgerLine(account=ln.account, creditor_id=ln.creditor_id, dossier_id=ln.dossier_id, claim_id=ln.claim_id,
                   component=ln.component, amount=-ln.amount)
        for ln in original.lines
    ]
    session.add(entry)

    # Claims: paid amounts back, and the interest the principal would have borne meanwhile.
    for line in original.lines:
        if line.account != LedgerAccount.DEBTOR_RECEIVABLE:
            continue
        claim, paid = claims[line.claim_id], -line.amount
        claim.add_paid(line.component, -paid)
        if line.component == ClaimComponent.PRINCIPAL and claim.interest_accrued_to is not None:
            missed = interest_between(claim, paid, payment.received_on, claim.interest_accrued_to,
                                      rates=rates, private_creditor=creditor.is_private_person)
            claim.interest_accrued += missed.amount
        claim.updated_at = now

    data = original.data or {}
    promise_reopened = _uncount_promise(session, data.get("promise"))
    plan_reopened = _uncount_plan(session, data)
    before = DossierStatus(data.get("status_before") or DossierStatus.ACTIVE)
    if (data.get("paid_in_full") and before != DossierStatus.CLOSED
            and dossier.status == DossierStatus.CLOSED and dossier.close_reason == CloseReason.PAID):
        dossier.status, dossier.close_reason, dossier.closed_at = before, None, None
    if dossier.status == DossierStatus.ACTIVE:
        if plan_reopened:
            dossier.status = DossierStatus.PLAN
        elif promise_reopened:
            dossier.status = DossierStatus.PROMISE
    dossier.updated_at = now

    payment.status = PaymentStatus.REVERSED
    session.add(DossierEvent(dossier_id=dossier.id, kind=EventKind.NOTE, occurred_at=now, source="payment",
                             data={"kind": "payment_reversed", "payment_id": payment_id,
                                   "amount": str(payment.amount), "on": on.isoformat()}))
    session.flush()
    log.info("payment %s reversed on dossier %s (entry %s)", payment_id, dossier.id, entry.id)
    return ReversalResult(payment_id, False, entry.id)


# --- pieces ------------------------------------------------------------------------------


def _cents(amount: Decimal) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0:
        raise PaymentError("the payment must be a positive amount")
    if round_cents(amount) != amount:
        raise PaymentError("the payment has a fraction of a cent")
    return round_cents(amount)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _insert_payment(session, **values) -> int | None:
    """Insert the payment unless its external id is known; its id, or None for a duplicate.
    INSERT ... ON CONFLICT DO NOTHING: two concurrent imports of one statement cannot both
    apply it, and no savepoint is needed."""
    now = values.pop("now")
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(Payment)
        .values(**values, currency="EUR", status=PaymentStatus.APPLIED, applied_at=now, created_at=now)
        .on_conflict_do_nothing(index_elements=["external_id"])
        .returning(Payment.id)
    )
    return session.execute(stmt).scalar()


def _replay(session, payment: Payment) -> PaymentResult:
    """The result of a payment already recorded, read back from its journal entry."""
    entry = session.scalar(select(JournalEntry).where(
        JournalEntry.kind == PAYMENT_KIND, JournalEntry.reference == str(payment.id)))
    if entry is None:  # recorded by someone else without being applied (unmatched)
        return PaymentResult(payment.id, True, (), payment.amount, False)
    allocations = tuple(
        Allocation(ln.claim_id, ClaimComponent(ln.component), -ln.amount)
        for ln in entry.lines if ln.account == LedgerAccount.DEBTOR_RECEIVABLE
    )
    unapplied = sum((-ln.amount for ln in entry.lines if ln.account == LedgerAccount.SUSPENSE), ZERO)
    data = entry.data or {}
    return PaymentResult(payment.id, True, allocations, unapplied, bool(data.get("paid_in_full")),
                         bool(data.get("interest_incomplete")))


def payment_line_values(dossier, amount: Decimal, applied: Decimal, result) -> list[dict]:
    """The lines of a payment's journal entry (chart in the module docstring), as column values:
    the one-payment path and the batch path (services/payment_batch.py) both book these."""
    def line(account, value, claim_id=None, component=None):
        return {"account": account, "creditor_id": dossier.creditor_id, "dossier_id": dossier.id,
                "claim_id": claim_id, "component": component, "amount": value}

    lines = [line(LedgerAccount.TRUST_BANK, amount)]
    if applied > 0:
        lines.append(line(LedgerAccount.CREDITOR_PAYABLE, -applied))
    if result.unapplied > 0:
        lines.append(line(LedgerAccount.SUSPENSE, -result.unapplied))
    for a in result.allocations:
        lines.append(line(LedgerAccount.DEBTOR_RECEIVABLE, -a.amount, a.claim_id, a.component))
    if applied > 0:
        lines.append(line(LedgerAccount.ENTRUSTED, applied))
    return lines


def _payment_lines(dossier: Dossier, amount: Decimal, applied: Decimal, result) -> list[LedgerLine]:
    return [LedgerLine(**values) for values in payment_line_values(dossier, amount, applied, result)]


def _count_for_promise(session, dossier, amount, received_on, paid_in_full, payment_id, now) -> dict | None:
    """The open promise counts a payment received between the day it was made and its due date
    plus grace; it is kept as soon as the promised amount is reached (or nothing is owed)."""
    promise = session.scalar(select(Promise).where(
        Promise.dossier_id == dossier.id, Promise.status == PromiseStatus.OPEN,
    ).order_by(Promise.id.desc()).limit(1).with_for_update())
    if promise is None:
        return None
    deadline = date.fromordinal(promise.due_on.toordinal() + promise.grace_days)
    if not promise.made_on <= received_on <= deadline:
        return None
    promise.paid += amount
    kept = promise.paid >= promise.amount or paid_in_full
    if kept:
        promise.status, promise.resolved_on = PromiseStatus.KEPT, received_on
        session.add(DossierEvent(
            dossier_id=dossier.id, kind=EventKind.PROMISE_KEPT, occurred_at=now, source="payment",
            data={"promise_id": promise.id, "date": promise.due_on.isoformat(), "amount": str(promise.amount),
                  "paid": str(promise.paid), "outcome": str(PromiseStatus.KEPT), "payment_id": payment_id},
        ))
        if dossier.status == DossierStatus.PROMISE:
            dossier.status = DossierStatus.ACTIVE
    return {"id": promise.id, "counted": str(amount), "kept": kept}


def _count_for_plan(session, dossier, amount, received_on, paid_in_full) -> dict:
    """The active plan's installments take the payment in order, each up to its amount."""
    plan = session.scalar(select(PaymentPlan).where(
        PaymentPlan.dossier_id == dossier.id, PaymentPlan.status == PlanStatus.ACTIVE,
    ).order_by(PaymentPlan.id.desc()).limit(1).with_for_update())
    if plan is None or received_on < plan.agreed_on:
        return {"plan_id": None, "installments": [], "plan_completed": False}
    installments = list(session.scalars(
        select(Installment).where(Installment.plan_id == plan.id).order_by(Installment.number).with_for_update()))
    left, taken = amount, []
    for inst in installments:
        room = inst.amount - inst.paid
        if left <= 0:
            break
        if room <= 0:
            continue
        share = min(room, left)
        inst.paid += share
        left -= share
        taken.append({"id": inst.id, "amount": str(share)})
    completed = paid_in_full or all(i.paid >= i.amount for i in installments)
    if completed:
        plan.status, plan.ended_on = PlanStatus.COMPLETED, received_on
        if dossier.status == DossierStatus.PLAN:
            dossier.status = DossierStatus.ACTIVE
    return {"plan_id": plan.id, "installments": taken, "plan_completed": completed}


def _uncount_promise(session, data: dict | None) -> bool:
    """Take the payment back from the promise; a promise it had kept is open again (the daily
    evaluation then settles it). True when reopened."""
    if not data:
        return False
    promise = session.get(Promise, data["id"], with_for_update=True)
    if promise is None:
        return False
    promise.paid = max(ZERO, promise.paid - Decimal(data["counted"]))
    if data.get("kept") and promise.status == PromiseStatus.KEPT and promise.paid < promise.amount:
        promise.status, promise.resolved_on = PromiseStatus.OPEN, None
        return True
    return False


def _uncount_plan(session, data: dict) -> bool:
    """Take the payment back from the installments; a plan it had completed is active again."""
    if data.get("plan_id") is None:
        return False
    for item in data.get("installments", []):
        inst = session.get(Installment, item["id"], with_for_update=True)
        inst.paid = max(ZERO, inst.paid - Decimal(item["amount"]))
    plan = session.get(PaymentPlan, data["plan_id"], with_for_update=True)
    if data.get("plan_completed") and plan.status == PlanStatus.COMPLETED:
        plan.status, plan.ended_on = PlanStatus.ACTIVE, None
        return True
    return False
