"""Promises of payment and payment plans (échéanciers) agreed with the debtor, and their daily
evaluation.

- `record_promise`: one open promise per dossier (a new one cancels the old); the amount may
  not exceed the balance to the day the promise is made. A promise acknowledges the debt and
  interrupts prescription on every claim still owing (C. civ. 2240).
- `agree_plan`: installments whose total is the balance to the day the plan is agreed, to the
  cent: equal installments, the last one takes the rounding remainder. A plan supersedes an
  open promise and a previous active plan (both CANCELLED). Agreeing a plan acknowledges the
  debt: prescription is interrupted on every claim still owing. Interest keeps running during
  a plan (nothing waives it); a plan fully paid may therefore leave interest owed, which the
  balance shows.
- `evaluate_agreements`: a promise is settled once its grace has passed (due_on + grace_days
  < as_of): KEPT when the promised amount was received (or nothing is owed any more),
  PARTLY_KEPT when some of it was, BROKEN otherwise. A plan with `missed_allowed` installments
  past due (due_on < as_of) and not fully paid falls (déchéance du terme: the whole balance is
  due again); a plan fully paid is COMPLETED.

Payments count towards promises and installments in `services.payments.apply_payment`; a
payment that reaches the promised amount keeps the promise at once.

Dossier status follows: PROMISE while a promise is open, PLAN while a plan is active, back to
ACTIVE when it is settled; a CLOSED or SUSPENDED dossier keeps its status.

Errors a person made when typing (amount, dates, count) raise AgreementError with a French
message for the console. Logs carry ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from models.agreements import Installment, PaymentPlan, Promise
from models.campaigns import Enrolment
from models.dates import add_months
from models.dossiers import Claim, Dossier, DossierEvent
from models.enums import DossierStatus, EventKind, PlanStatus, PromiseStatus
from models.money import round_cents
from models.rates import RateTables
from services.balances import claim_balance_to_day, outstanding, shipped_rates
from services.bulk import one_of
from services.lifecycle import refuse_archived
from services.payments import interrupt_prescription

__all__ = [
    "AgreementError",
    "MONTHLY",
    "agree_plan",
    "evaluate_agreements",
    "record_promise",
]

log = logging.getLogger(__name__)

MONTHLY = "monthly"
OFFICE_TZ = ZoneInfo("Europe/Paris")
ZERO = Decimal("0.00")
# Statuses that a promise or a plan does not change.
_KEEP_STATUS = (DossierStatus.CLOSED, DossierStatus.SUSPENDED)


class AgreementError(ValueError):
    """A promise or a plan that cannot be recorded as asked (message in French)."""


def record_promise(
    session,
    *,
    dossier_id: int,
    amount: Decimal,
    due_on: date,
    made_on: date,
    made_by: str | None,
    grace_days: int = 1,
    now: datetime,
    rates: RateTables | None = None,
) -> int:
    """Record the debtor's promise to pay `amount` by `due_on`; its id. The caller commits."""
    amount = _cents(amount, "montant promis")
    if due_on < made_on:
        raise AgreementError("la date promise précède le jour de la promesse")
    if isinstance(grace_days, bool) or not isinstance(grace_days, int) or grace_days < 0:
        raise AgreementError("le délai de grâce doit être un nombre de jours positif ou nul")
    dossier, claims = _lock(session, dossier_id)
    balances = _to_day(session, dossier, claims, made_on, rates)
    balance = sum((b.total for b in balances), ZERO)
    if amount > balance:
        raise AgreementError(f"le montant promis dépasse le solde dû ({balance} EUR)")

    cancelled = _cancel_open_promises(session, dossier_id, made_on)
    promise = Promise(dossier_id=dossier_id, amount=amount, due_on=due_on, made_on=made_on, made_by=made_by,
                      grace_days=grace_days, paid=ZERO, status=PromiseStatus.OPEN, created_at=now)
    session.add(promise)
    session.flush()
    _interrupt(claims, balances, "promise", made_on, now)
    session.add(DossierEvent(
        dossier_id=dossier_id, kind=EventKind.PROMISE_MADE, occurred_at=now, source="agent", actor=made_by,
        data={"promise_id": promise.id, "date": due_on.isoformat(), "amount": str(amount)},
    ))
    if dossier.status not in _KEEP_STATUS and dossier.status != DossierStatus.PLAN:
        dossier.status = DossierStatus.PROMISE
    dossier.updated_at = now
    session.flush()
    log.info("promise %s recorded on dossier %s (cancelled %s)", promise.id, dossier_id, cancelled)
    return promise.id


def agree_plan(
    session,
    *,
    dossier_id: int,
    count: int,
    first_due_on: date,
    frequency_days: int | str = 30,
    made_by: str | None,
    missed_allowed: int = 2,
    max_months: int = 24,
    now: datetime,
    agreed_on: date | None = None,
    rates: RateTables | None = None,
) -> int:
    """Agree a plan of `count` installments, the first on `first_due_on`, then every
    `frequency_days` days or, with `frequency_days="monthly"`, on the same day of each
    following month (`models.dates.add_months` from the first date, so 31 January gives
    28/29 February then 31 March). `agreed_on` defaults to today in Paris, from `now`.
    The whole plan must end within `max_months` of `agreed_on`. Returns the plan id; the
    caller commits."""
    agreed_on = agreed_on or now.astimezone(OFFICE_TZ).date()
    if isinstance(count, bool) or not isinstance(count, int) or count < 2:
        raise AgreementError("un échéancier compte au moins deux échéances")
    if isinstance(missed_allowed, bool) or not isinstance(missed_allowed, int) or missed_allowed < 1:
        raise AgreementError("le nombre d'impayés tolérés doit être d'au moins un")
    if first_due_on < agreed_on:
        raise AgreementError("la première échéance précède le jour de l'accord")
    dates = _due_dates(first_due_on, count, frequency_days)
    if dates[-1] > add_months(agreed_on, max_months):
        raise AgreementError(f"l'échéancier dépasse la durée maximale de {max_months} mois")

    dossier, claims = _lock(session, dossier_id)
    balances = _to_day(session, dossier, claims, agreed_on, rates)
    total = sum((b.total for b in balances), ZERO)
    amounts = split_evenly(total, count)

    _cancel_open_promises(session, dossier_id, agreed_on)
    session.execute(
        update(PaymentPlan)
        .where(PaymentPlan.dossier_id == dossier_id, PaymentPlan.status == PlanStatus.ACTIVE)
        .values(status=PlanStatus.CANCELLED, ended_on=agreed_on)
        .execution_options(synchronize_session=False)
    )
    plan = PaymentPlan(dossier_id=dossier_id, agreed_on=agreed_on, agreed_by=made_by, total=total,
                       missed_allowed=missed_allowed, status=PlanStatus.ACTIVE, created_at=now)
    plan.installments = [
        Installment(number=n, due_on=d, amount=a, paid=ZERO)
        for n, (d, a) in enumerate(zip(dates, amounts), start=1)
    ]
    session.add(plan)
    session.flush()
    _interrupt(claims, balances, "payment_plan", agreed_on, now)
    session.add(DossierEvent(
        dossier_id=dossier_id, kind=EventKind.PLAN_AGREED, occurred_at=now, source="agent", actor=made_by,
        data={
            "plan_id": plan.id, "first_due_on": first_due_on.isoformat(), "total": str(total),
            "installments": [{"number": i.number, "due_on": i.due_on.isoformat(), "amount": str(i.amount)}
                             for i in plan.installments],
        },
    ))
    if dossier.status not in _KEEP_STATUS:
        dossier.status = DossierStatus.PLAN
    dossier.updated_at = now
    session.flush()
    log.info("plan %s agreed on dossier %s (%s installments)", plan.id, dossier_id, count)
    return plan.id


def split_evenly(total: Decimal, count: int) -> list[Decimal]:
    """`count` equal amounts to the cent, rounded down, the last one taking the remainder, so
    that they sum to `total` exactly (1 000,00 in 3: 333,33 + 333,33 + 333,34)."""
    cents = int(_cents(total, "solde") * 100)
    base = cents // count
    if base == 0:
        raise AgreementError("le solde est trop faible pour autant d'échéances")
    amounts = [base] * (count - 1) + [cents - base * (count - 1)]
    return [(Decimal(a) / 100).quantize(Decimal("0.01")) for a in amounts]


def evaluate_agreements(session, *, as_of: date, now: datetime, chunk_size: int = 2000,
                        plan_scenarios: Collection[str] = ()) -> dict[str, int]:
    """Settle the promises whose grace has passed and the active plans on `as_of`.

    Reads only open promises and active plans, by chunks of `chunk_size` (keyset paging on the
    id); on PostgreSQL rows another transaction holds (a payment being applied) are skipped and
    settled on the next run. The caller commits. Returns counts by outcome.
    """
    counts = {"promises_kept": 0, "promises_partly_kept": 0, "promises_broken": 0,
              "plans_defaulted": 0, "plans_completed": 0}
    _evaluate_promises(session, as_of, now, chunk_size, counts)
    _evaluate_plans(session, as_of, now, chunk_size, counts, plan_scenarios)
    log.info("agreements evaluated: %s", counts)
    return counts


# --- evaluation ----------------------------------------------------------------------------


def _locked(session, stmt):
    pg = session.get_bind().dialect.name == "postgresql"
    return stmt.with_for_update(skip_locked=True) if pg else stmt


def _evaluate_promises(session, as_of: date, now: datetime, chunk_size: int, counts: dict) -> None:
    last_id = 0
    while True:
        rows = session.execute(_locked(session, (
            select(Promise.id, Promise.dossier_id, Promise.amount, Promise.paid, Promise.due_on, Promise.grace_days)
            .where(Promise.status == PromiseStatus.OPEN, Promise.due_on < as_of, Promise.id > last_id)
            .order_by(Promise.id).limit(chunk_size)
        ))).all()
        if not rows:
            return
        last_id = rows[-1].id
        due = [r for r in rows if r.due_on + timedelta(days=r.grace_days) < as_of]
        if not due:
            continue
        balances = outstanding(session, {r.dossier_id for r in due})
        updates, events = [], []
        for r in due:
            if r.paid >= r.amount or balances.get(r.dossier_id, ZERO) <= 0:
                status, kind = PromiseStatus.KEPT, EventKind.PROMISE_KEPT
            elif r.paid > 0:
                status, kind = PromiseStatus.PARTLY_KEPT, EventKind.PROMISE_BROKEN
            else:
                status, kind = PromiseStatus.BROKEN, EventKind.PROMISE_BROKEN
            counts[f"promises_{status.value}"] += 1
            updates.append({"id": r.id, "status": status, "resolved_on": as_of})
            events.append({
                "dossier_id": r.dossier_id, "kind": kind, "occurred_at": now, "source": "system", "actor": None,
                "data": {"promise_id": r.id, "date": r.due_on.isoformat(), "amount": str(r.amount),
                         "paid": str(r.paid), "outcome": status.value},
            })
        session.execute(update(Promise), updates)
        session.execute(insert(DossierEvent), events)
        _back_to_active(session, [r.dossier_id for r in due], DossierStatus.PROMISE, now)


def _evaluate_plans(session, as_of: date, now: datetime, chunk_size: int, counts: dict,
                    plan_scenarios: Collection[str] = ()) -> None:
    last_id = 0
    while True:
        plans = session.execute(_locked(session, (
            select(PaymentPlan.id, PaymentPlan.dossier_id, PaymentPlan.missed_allowed)
            .where(PaymentPlan.status == PlanStatus.ACTIVE, PaymentPlan.id > last_id)
            .order_by(PaymentPlan.id).limit(chunk_size)
        ))).all()
        if not plans:
            return
        last_id = plans[-1].id
        installments: dict[int, list] = {}
        for row in session.execute(
            select(Installment.plan_id, Installment.due_on, Installment.amount, Installment.paid)
            .where(one_of(session, Installment.plan_id, [p.id for p in plans]))
        ):
            installments.setdefault(row.plan_id, []).append(row)
        balances = outstanding(session, {p.dossier_id for p in plans})
        # A dossier followed by a plan scenario gets its déchéance from the scenario's own step,
        # which also sends the déchéance letter: it is not pronounced twice here.
        followed = set()
        if plan_scenarios:
            followed = set(session.scalars(select(Enrolment.dossier_id).where(
                Enrolment.active, Enrolment.scenario.in_(list(plan_scenarios)),
                one_of(session, Enrolment.dossier_id, [p.dossier_id for p in plans]))))
        updates, events, ended = [], [], []
        for p in plans:
            items = installments.get(p.id, [])
            balance = balances.get(p.dossier_id, ZERO)
            if all(i.paid >= i.amount for i in items) or balance <= 0:
                counts["plans_completed"] += 1
                updates.append({"id": p.id, "status": PlanStatus.COMPLETED, "ended_on": as_of})
                ended.append(p.dossier_id)
                continue
            missed = sum(1 for i in items if i.due_on < as_of and i.paid < i.amount)
            if missed >= p.missed_allowed and p.dossier_id not in followed:
                counts["plans_defaulted"] += 1
                updates.append({"id": p.id, "status": PlanStatus.DEFAULTED, "ended_on": as_of})
                ended.append(p.dossier_id)
                events.append({
                    "dossier_id": p.dossier_id, "kind": EventKind.PLAN_DEFAULTED, "occurred_at": now,
                    "source": "system", "actor": None,
                    "data": {"plan_id": p.id, "missed": missed, "count": len(items), "balance": str(balance)},
                })
        if updates:
            session.execute(update(PaymentPlan), updates)
        if events:
            session.execute(insert(DossierEvent), events)
        _back_to_active(session, ended, DossierStatus.PLAN, now)


def _back_to_active(session, dossier_ids: list[int], from_status: DossierStatus, now: datetime) -> None:
    if not dossier_ids:
        return
    session.execute(
        update(Dossier)
        .where(one_of(session, Dossier.id, dossier_ids), Dossier.status == from_status)
        .values(status=DossierStatus.ACTIVE, updated_at=now)
        .execution_options(synchronize_session=False)
    )


# --- pieces ----------------------------------------------------------------------------------


def _cents(amount: Decimal, what: str) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise TypeError(f"{what} must be a Decimal, not {type(amount).__name__}")
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0:
        raise AgreementError(f"{what} : le montant doit être positif")
    if round_cents(amount) != amount:
        raise AgreementError(f"{what} : pas plus de deux décimales")
    return round_cents(amount)


def _due_dates(first: date, count: int, frequency: int | str) -> list[date]:
    if frequency == MONTHLY:
        return [add_months(first, n) for n in range(count)]
    if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1:
        raise AgreementError("la périodicité doit être un nombre de jours ou « monthly »")
    return [first + timedelta(days=frequency * n) for n in range(count)]


def _lock(session, dossier_id: int) -> tuple[Dossier, list[Claim]]:
    dossier = session.scalar(select(Dossier).where(Dossier.id == dossier_id).with_for_update())
    if dossier is None:
        raise AgreementError(f"dossier inconnu ({dossier_id})")
    refuse_archived(dossier)
    if dossier.status == DossierStatus.CLOSED:
        raise AgreementError("le dossier est clôturé")
    claims = list(session.scalars(
        select(Claim).where(Claim.dossier_id == dossier_id).order_by(Claim.id).with_for_update()))
    return dossier, claims


def _to_day(session, dossier: Dossier, claims: list[Claim], as_of: date, rates: RateTables | None):
    private = dossier.creditor.is_private_person
    rates = rates or shipped_rates()
    balances = [claim_balance_to_day(c, as_of=as_of, rates=rates, private_creditor=private) for c in claims]
    if sum((b.total for b in balances), ZERO) <= 0:
        raise AgreementError("rien n'est dû sur ce dossier")
    return balances


def _interrupt(claims: list[Claim], balances, kind: str, on: date, now: datetime) -> None:
    owing = {b.claim_id for b in balances if b.total > 0}
    for claim in claims:
        if claim.id in owing and interrupt_prescription(claim, kind, on):
            claim.updated_at = now


def _cancel_open_promises(session, dossier_id: int, on: date) -> int:
    result = session.execute(
        update(Promise)
        .where(Promise.dossier_id == dossier_id, Promise.status == PromiseStatus.OPEN)
        .values(status=PromiseStatus.CANCELLED, resolved_on=on)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
