"""Applying thousands of payments at once, with exactly the results of `apply_payment`.

    apply_payments(session, items, *, now, rates=None) -> list[PaymentResult]

`services.payments.apply_payment` is the reference: one payment, ORM objects, a dozen queries.
At a million payments a day that is hours. This path does the same work for a chunk in a few
set-based statements, inside the caller's transaction:

1. payments inserted in one multi-row INSERT ... ON CONFLICT (external_id) DO NOTHING RETURNING;
   an external id already known is a duplicate, answered from its journal entry as
   `apply_payment` does;
2. the chunk's dossiers and claims locked and loaded in two queries (SELECT ... FOR UPDATE on
   PostgreSQL, ordered by id so that two importers cannot deadlock), their open promises and
   active plans with installments in three more;
3. each payment computed in memory, in the order given, by the same rules and the same helpers
   (interest crystallisation `accrue_interest`, imputation `impute`, prescription
   `interrupt_prescription`, promise and plan counting): two payments of one dossier in a chunk
   see each other as they would one after the other;
4. written in bulk: journal entries (INSERT ... RETURNING ids), ledger lines and events (COPY on
   PostgreSQL), claims, dossiers, promises, installments and plans (executemany UPDATE by id).

`tests/integration/payments/test_payment_batch.py` checks that both paths leave identical claims,
books, events, promises and plans on the same data.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from types import SimpleNamespace

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from models.agreements import Installment, PaymentPlan, Promise
from models.dossiers import Claim, ClaimAmounts, Dossier, DossierEvent
from models.enums import (
    CloseReason,
    DossierStatus,
    EventKind,
    PaymentStatus,
    PlanStatus,
    PromiseStatus,
)
from models.imputation import ClaimBalance, impute
from models.ledger import JournalEntry, LedgerLine
from models.parties import Creditor
from models.payments import Payment
from services.balances import accrue_interest, shipped_rates
from services.bulk import bulk_insert, one_of
from services.payments import PAYMENT_KIND, PaymentError, PaymentResult, _cents, _iso, _replay, interrupt_prescription
from services.payments import payment_line_values

__all__ = ["BatchPayment", "apply_payments", "insert_entries", "insert_payments"]

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")
_CLAIM_COLUMNS = (
    Claim.id, Claim.dossier_id, Claim.due_date, Claim.principal, Claim.principal_paid, Claim.costs, Claim.indemnity,
    Claim.costs_paid, Claim.interest_accrued, Claim.interest_paid, Claim.interest_accrued_to, Claim.interest_mode,
    Claim.interest_from, Claim.contractual_rate, Claim.judgment_enforceable_on, Claim.prescription_start,
    Claim.prescription_years, Claim.last_interruption_on, Claim.last_interruption_kind,
    Claim.prescription_expires_on,
)
_CLAIM_WRITES = ("principal_paid", "costs_paid", "interest_paid", "interest_accrued", "interest_accrued_to",
                 "last_interruption_on", "last_interruption_kind", "prescription_expires_on", "updated_at")


@dataclass(frozen=True)
class BatchPayment:
    dossier_id: int
    amount: Decimal
    received_on: date
    method: str
    external_id: str
    label: str | None = None


class _Claim(ClaimAmounts, SimpleNamespace):
    """A claim row that the rules can read and change like an ORM Claim."""


_PAYMENT_COLUMNS = ("external_id", "dossier_id", "amount", "received_on", "method", "label", "currency", "status",
                    "applied_at", "created_at")


def _staged(session, table, rows: Sequence[Sequence], columns: Sequence[str], tag: str) -> str:
    """PostgreSQL: `rows` (values in the order of `columns`) copied into a temporary table
    (dropped at commit), with their order `n`."""
    conn = session.connection()
    dialect = conn.dialect
    name = f"staged_{tag}"
    types = ", ".join(f'"{c}" {table.c[c].type.compile(dialect)}' for c in columns)
    conn.exec_driver_sql(f'CREATE TEMPORARY TABLE IF NOT EXISTS {name} (n integer, {types}) ON COMMIT DROP')
    conn.exec_driver_sql(f"TRUNCATE {name}")
    raw = conn.connection.driver_connection
    cols = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cur, cur.copy(f"COPY {name} (n, {cols}) FROM STDIN") as copy:
        for n, row in enumerate(rows):
            copy.write_row((n, *row))
    return name


def insert_payments(session, rows: list[dict]) -> dict[str, int]:
    """Insert the payments whose external id is new; {external id: payment id} of those."""
    table = Payment.__table__
    if session.get_bind().dialect.name == "postgresql":
        staged = _staged(session, table, [[row[c] for c in _PAYMENT_COLUMNS] for row in rows], _PAYMENT_COLUMNS,
                         "payment")
        cols = ", ".join(f'"{c}"' for c in _PAYMENT_COLUMNS)
        result = session.connection().exec_driver_sql(
            f"INSERT INTO payment ({cols}) SELECT {cols} FROM {staged} ORDER BY n "
            "ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id")
        return {external_id: payment_id for payment_id, external_id in result}
    out = {}
    for start in range(0, len(rows), 500):  # bound the statement's parameters
        part = rows[start:start + 500]
        stmt = (sqlite_insert(Payment).values(part).on_conflict_do_nothing(index_elements=["external_id"])
                .returning(Payment.id, Payment.external_id))
        out.update({r.external_id: r.id for r in session.execute(stmt)})
    return out


def apply_payments(session, items: Sequence[BatchPayment], *, now: datetime, rates=None) -> list[PaymentResult]:
    """Apply `items` in order, as `apply_payment` called for each would. The caller commits."""
    if not items:
        return []
    rates = rates or shipped_rates()
    amounts = []
    for item in items:
        amounts.append(_cents(item.amount))
        if not item.external_id:
            raise PaymentError("external_id is required: it is what makes a payment idempotent")
        if not item.method:
            raise PaymentError("the payment method is required")
    if len({i.external_id for i in items}) != len(items):
        raise PaymentError("the same external_id twice in one batch")
    pg = session.get_bind().dialect.name == "postgresql"
    session.flush()  # the reads below go around the session: it must hold nothing pending

    # 2. Lock and load (locks first, in id order, before the payments exist).
    dossier_ids = sorted({i.dossier_id for i in items})
    q = select(Dossier.id, Dossier.creditor_id, Dossier.status, Dossier.close_reason, Dossier.closed_at).where(
        one_of(session, Dossier.id, dossier_ids)).order_by(Dossier.id)
    # Reads through the Core connection: plain rows, no ORM loading machinery per row.
    conn = session.connection()
    dossiers = {r.id: r for r in _loaded(conn, q.with_for_update() if pg else q)}
    missing = [d for d in dossier_ids if d not in dossiers]
    if missing:
        raise PaymentError(f"unknown dossier {missing[0]}")

    # 1. Payments.
    values = [{"external_id": i.external_id, "dossier_id": i.dossier_id, "amount": a, "received_on": i.received_on,
               "method": i.method, "label": i.label[:300] if i.label else i.label, "currency": "EUR",
               "status": PaymentStatus.APPLIED, "applied_at": now, "created_at": now}
              for i, a in zip(items, amounts)]
    ids = insert_payments(session, values)

    creditors = {r.id: r for r in conn.execute(
        select(Creditor.id, Creditor.is_private_person, Creditor.imputation_override)
        .where(one_of(session, Creditor.id, sorted({d.creditor_id for d in dossiers.values()}))))}
    cq = select(*_CLAIM_COLUMNS).where(one_of(session, Claim.dossier_id, dossier_ids)).order_by(Claim.id)
    claims: dict[int, list[_Claim]] = defaultdict(list)
    for r in _loaded(conn, cq.with_for_update() if pg else cq, _Claim):
        claims[r.dossier_id].append(r)
    promises = _latest(session, Promise, Promise.status == PromiseStatus.OPEN, dossier_ids, pg)
    plans = _latest(session, PaymentPlan, PaymentPlan.status == PlanStatus.ACTIVE, dossier_ids, pg)
    installments: dict[int, list[SimpleNamespace]] = defaultdict(list)
    if plans:
        iq = (select(Installment.id, Installment.plan_id, Installment.amount, Installment.paid)
              .where(one_of(session, Installment.plan_id, [p.id for p in plans.values()]))
              .order_by(Installment.plan_id, Installment.number))
        for r in _loaded(conn, iq.with_for_update() if pg else iq):
            installments[r.plan_id].append(r)

    # 3. In memory, in order.
    results: list[PaymentResult | None] = []
    entries, entry_lines, events = [], [], []
    for item, amount in zip(items, amounts):
        payment_id = ids.get(item.external_id)
        if payment_id is None:
            results.append(None)  # duplicate: answered below, once the chunk is written
            continue
        dossier = dossiers[item.dossier_id]
        creditor = creditors[dossier.creditor_id]
        result, entry, lines, evs = _one(dossier, creditor, claims[item.dossier_id], promises.get(item.dossier_id),
                                         plans.get(item.dossier_id), installments, payment_id, amount,
                                         item.received_on, now, rates)
        results.append(result)
        entries.append(entry)
        entry_lines.append(lines)
        events.extend(evs)

    # 4. Writes.
    if entries:
        entry_ids = insert_entries(session, entries)
        ledger = []
        for eid, lines in zip(entry_ids, entry_lines):
            for ln in lines:  # the line dicts are ours: completed in place, not copied
                ln["entry_id"] = eid
            ledger.extend(lines)
        bulk_insert(session.connection(), LedgerLine.__table__, ledger)
        bulk_insert(session.connection(), DossierEvent.__table__, events)
    _write_updates(session, Claim, [c for cs in claims.values() for c in cs if c.touched],
                   _CLAIM_WRITES, now)
    _write_updates(session, Dossier, [d for d in dossiers.values() if d.touched],
                   ("status", "close_reason", "closed_at", "updated_at"), now)
    _write_updates(session, Promise, [p for p in promises.values() if p.touched], ("paid", "status", "resolved_on"), now)
    _write_updates(session, Installment, [i for its in installments.values() for i in its if i.touched], ("paid",), now)
    _write_updates(session, PaymentPlan, [p for p in plans.values() if p.touched], ("status", "ended_on"), now)
    session.flush()
    for n, (item, result) in enumerate(zip(items, results)):
        if result is None:
            existing = session.scalar(select(Payment).where(Payment.external_id == item.external_id))
            results[n] = _replay(session, existing)
    return results


def insert_entries(session, entries: list[dict]) -> list[int]:
    """Insert the journal entries; their ids in order. PostgreSQL: ids drawn from the sequence
    in one query and set on each dict, then one COPY (the JSON data made the multi-row INSERT
    the slowest step)."""
    table = JournalEntry.__table__
    if session.get_bind().dialect.name != "postgresql":
        return session.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True),
                               entries).scalars().all()
    conn = session.connection()
    ids = [r[0] for r in conn.exec_driver_sql(
        "SELECT nextval(pg_get_serial_sequence('journal_entry', 'id')) FROM generate_series(1, %(n)s)",
        {"n": len(entries)}).fetchall()]
    for i, entry in zip(ids, entries):  # the caller's fresh dicts: completed in place, not copied
        entry["id"] = i
    bulk_insert(conn, table, entries)
    return ids


def _latest(session, model, condition, dossier_ids, pg) -> dict[int, SimpleNamespace]:
    """The latest (highest id) row of `model` per dossier meeting `condition`."""
    columns = [c for c in model.__table__.c]
    q = select(*columns).where(one_of(session, model.dossier_id, dossier_ids), condition).order_by(model.id)
    out = {}
    for r in _loaded(session.connection(), q.with_for_update() if pg else q):
        out[r.dossier_id] = r
    return out


def _loaded(conn, query, kind=SimpleNamespace) -> list:
    """The rows of `query` as mutable records (`kind`) with a `touched` flag; the column names
    read once per query, not once per row."""
    result = conn.execute(query)
    keys = tuple(result.keys())
    out = []
    for row in result:
        record = kind(touched=False)
        record.__dict__.update(zip(keys, row))
        out.append(record)
    return out


def _write_updates(session, model, rows, columns, now) -> None:
    if not rows:
        return
    table = model.__table__
    if session.get_bind().dialect.name == "postgresql":
        # One COPY and one UPDATE ... FROM instead of a statement per row.
        # Values read straight off the records into tuples; updated_at (if written) put last.
        stamped = "updated_at" in columns
        read = [c for c in columns if c != "updated_at"]
        columns = (*read, "updated_at") if stamped else tuple(read)
        stamp = (now,) if stamped else ()
        get = attrgetter("id", *read)  # id and at least one column: it returns a tuple
        staged = _staged(session, table, [(*get(r), *stamp) for r in rows], ("id", *columns), table.name)
        sets = ", ".join(f'"{c}" = s."{c}"' for c in columns)
        conn = session.connection()
        # By primary key, row by row: without this the planner hashes the whole target table
        # (a sequential scan per chunk, quadratic over a million payments).
        conn.exec_driver_sql("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
        conn.exec_driver_sql(f'UPDATE "{table.name}" AS t SET {sets} FROM {staged} AS s WHERE t.id = s.id')
        conn.exec_driver_sql("RESET enable_hashjoin; RESET enable_mergejoin")
        return
    stmt = update(table).where(table.c.id == bindparam("_id")).values(
        {c: bindparam(c) for c in columns})
    session.execute(stmt, [{"_id": r.id, **{c: getattr(r, c, now) if c != "updated_at" else now for c in columns}}
                           for r in rows])


def _one(dossier, creditor, claims, promise, plan, installments, payment_id, amount, received_on, now, rates):
    """The work of services.payments._apply on in-memory rows; returns the result, the journal
    entry's values, its lines and the events."""
    crystallised, incomplete = [], False
    for claim in claims:
        accrual = accrue_interest(claim, as_of=received_on, rates=rates, private_creditor=creditor.is_private_person)
        incomplete = incomplete or accrual.missing_rate is not None
        if accrual.through is None:
            continue
        crystallised.append({"claim_id": claim.id, "amount": str(accrual.amount),
                             "from": _iso(claim.interest_accrued_to), "to": accrual.through.isoformat()})
        claim.interest_accrued += accrual.amount
        claim.interest_accrued_to = accrual.through
        claim.touched = True

    balances = [ClaimBalance(c.id, c.due_date, c.costs_due, c.interest_due, c.principal_due) for c in claims]
    result = impute(amount, balances, as_of=received_on, order=creditor.imputation_override or "legal")
    by_id = {c.id: c for c in claims}
    for a in result.allocations:
        claim = by_id[a.claim_id]
        claim.add_paid(a.component, a.amount)
        claim.touched = True
    applied = result.allocated
    remaining = sum((c.balance_due for c in claims), ZERO)
    paid_in_full = remaining <= 0 and applied > 0
    for claim_id in dict.fromkeys(a.claim_id for a in result.allocations):
        interrupt_prescription(by_id[claim_id], "payment", received_on)

    events = []
    status_before = dossier.status
    promise_data = None
    if promise is not None and promise.status == PromiseStatus.OPEN:
        deadline = date.fromordinal(promise.due_on.toordinal() + promise.grace_days)
        if promise.made_on <= received_on <= deadline:
            promise.paid += amount
            promise.touched = True
            kept = promise.paid >= promise.amount or paid_in_full
            if kept:
                promise.status, promise.resolved_on = PromiseStatus.KEPT, received_on
                events.append(_event(dossier.id, EventKind.PROMISE_KEPT, now, {
                    "promise_id": promise.id, "date": promise.due_on.isoformat(), "amount": str(promise.amount),
                    "paid": str(promise.paid), "outcome": str(PromiseStatus.KEPT), "payment_id": payment_id}))
                if dossier.status == DossierStatus.PROMISE:
                    dossier.status = DossierStatus.ACTIVE
            promise_data = {"id": promise.id, "counted": str(amount), "kept": kept}
    plan_data = {"plan_id": None, "installments": [], "plan_completed": False}
    if plan is not None and plan.status == PlanStatus.ACTIVE and received_on >= plan.agreed_on:
        left, taken = amount, []
        schedule = installments.get(plan.id, [])
        for inst in schedule:
            room = inst.amount - inst.paid
            if left <= 0:
                break
            if room <= 0:
                continue
            share = min(room, left)
            inst.paid += share
            inst.touched = True
            left -= share
            taken.append({"id": inst.id, "amount": str(share)})
        completed = paid_in_full or all(i.paid >= i.amount for i in schedule)
        if completed:
            plan.status, plan.ended_on, plan.touched = PlanStatus.COMPLETED, received_on, True
            if dossier.status == DossierStatus.PLAN:
                dossier.status = DossierStatus.ACTIVE
        plan_data = {"plan_id": plan.id, "installments": taken, "plan_completed": completed}

    entry = {"posted_on": received_on, "kind": PAYMENT_KIND, "dossier_id": dossier.id, "reference": str(payment_id),
             "created_at": now, "data": {
                 "payment_id": payment_id, "amount": str(amount), "unapplied": str(result.unapplied),
                 "paid_in_full": paid_in_full, "status_before": str(status_before),
                 "balance_after": str(max(remaining, ZERO)),
                 "interest_incomplete": incomplete, "crystallised": crystallised,
                 "promise": promise_data, **plan_data}}
    lines = payment_line_values(dossier, amount, applied, result)

    data = {"payment_id": payment_id, "amount": str(amount), "received_on": received_on.isoformat(),
            "unapplied": str(result.unapplied)}
    if paid_in_full:
        if incomplete:
            data["interest_incomplete"] = True
        events.append(_event(dossier.id, EventKind.PAID_IN_FULL, now, data))
        if dossier.status != DossierStatus.CLOSED:
            dossier.status, dossier.close_reason, dossier.closed_at = DossierStatus.CLOSED, CloseReason.PAID, now
    else:
        events.append(_event(dossier.id, EventKind.PARTIAL_PAYMENT, now, data))
    dossier.touched = True
    return (PaymentResult(payment_id, False, result.allocations, result.unapplied, paid_in_full, incomplete),
            entry, lines, events)


def _event(dossier_id, kind, now, data) -> dict:
    return {"dossier_id": dossier_id, "kind": kind, "occurred_at": now, "source": "payment", "actor": None,
            "processed_at": None, "data": data}
