"""Payments in: a bank statement or PSP file -> matched payments applied to dossiers, receipted;
the others in suspense until a manager assigns them.

    import_payments(uow_factory, path, *, now, format="auto", mapping=None, account=None,
                    rates=None, chunk=500) -> PaymentImportReport
    suspense(session) -> list[SuspenseItem]
    assign_payment(session, payment_id, dossier_id, *, now, by, rates=None) -> PaymentResult

The file is read and checked whole before anything is written (services/payment_files.py): a bad
file changes nothing. Then, chunk by chunk, one transaction each: payments whose external id is
known are skipped (re-importing a statement creates nothing); the others are matched
(models/payment_matching.py: reference, IBAN, name + amount, in bulk, a few queries per chunk),
applied through `services.payments.apply_payment` (interest, imputation, books, prescription,
promise and plan, events) and receipted (services/quittance.py). A payment no rule matches is
recorded UNMATCHED and booked Dr TRUST_BANK / Cr SUSPENSE (no creditor): the money is on the
compte affecté and owed to nobody yet. `assign_payment` takes it off SUSPENSE and applies it.

On PostgreSQL a file of 20,000 payments or more goes faster in two streams at once, one process
each (services/payment_streams.py): every chunk is cut by dossier (the dossier its reference
names, modulo 2), so all the payments of a dossier are applied by one stream, in file order, with
the chunk boundaries of the one-stream import; it leaves exactly what that import leaves. Payments
without a reference (or whose referenced dossier closed before them) are matched and applied after
the streams, in file order: IBAN and name matching read across dossiers. So such a payment sees
the referenced payments of the whole file applied, where the one-stream import showed it only those
of earlier chunks (an IBAN first seen later in the file can match it). SQLite has one writer: one
stream.

A crash between two chunks leaves the committed chunks in place; importing the file again
finishes the job (the committed payments are known by their external id), in streams too.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import String, func, or_, select

from models.agreements import Installment, PaymentPlan, Promise
from models.dossiers import Dossier
from models.enums import DebtorKind, DossierStatus, LedgerAccount, PaymentStatus, PlanStatus, PromiseStatus
from models.ledger import JournalEntry, LedgerLine
from models.payment_intake import PaymentImport, PaymentSource
from models.payment_matching import MANUAL, Candidate, Match, choose_dossier, name_key
from models.parties import Debtor
from models.payments import Payment
from models.references import parse_payment_reference
from services.balances import dossier_totals, shipped_rates
from services.bulk import bulk_insert, one_of
from services.payment_files import IncomingPayment, PaymentFile, read_payment_file
from services.payment_streams import PARALLEL_FROM, STREAMS, WorkerUnitOfWork, partition, run_streams
from services.payment_batch import BatchPayment, apply_payments, insert_entries, insert_payments
from services.payments import PaymentError, PaymentResult, apply_recorded_payment
from services.quittance import plan_quittances

__all__ = [
    "PaymentImportReport",
    "SuspenseItem",
    "assign_payment",
    "import_payments",
    "match_by_reference",
    "match_incoming",
    "suspense",
]

log = logging.getLogger(__name__)

UNMATCHED_KIND = "unmatched"
RELEASE_KIND = "suspense_release"
CLOSED = (DossierStatus.CLOSED,)


@dataclass
class PaymentImportReport:
    import_id: int | None = None
    format: str = ""
    read: int = 0  # credits read in the file
    created: int = 0
    duplicates: int = 0  # already imported (same external id)
    matched: Counter = field(default_factory=Counter)  # by rule
    unmatched: int = 0
    paid_in_full: int = 0
    quittances: int = 0
    amount: Decimal = Decimal("0.00")  # of the payments created
    skipped: dict = field(default_factory=dict)  # debit, not_booked, duplicate_in_file

    def add(self, part: PaymentImportReport) -> None:
        """Count in what a part of the file (one stream's chunk) did."""
        self.created += part.created
        self.duplicates += part.duplicates
        self.matched.update(part.matched)
        self.unmatched += part.unmatched
        self.paid_in_full += part.paid_in_full
        self.quittances += part.quittances
        self.amount += part.amount

    def as_dict(self) -> dict:
        return {"import_id": self.import_id, "format": self.format, "read": self.read, "created": self.created,
                "duplicates": self.duplicates, "matched": dict(self.matched),
                "matched_total": sum(self.matched.values()), "unmatched": self.unmatched,
                "paid_in_full": self.paid_in_full, "quittances": self.quittances, "amount": str(self.amount),
                "skipped": dict(self.skipped)}


@dataclass(frozen=True)
class SuspenseItem:
    payment_id: int
    amount: Decimal
    received_on: date
    label: str | None
    debtor_name: str | None
    debtor_iban: str | None
    reference: str | None
    suggested_dossier: int | None  # a reference that names a closed or unknown dossier

    def as_dict(self) -> dict:
        return {"payment_id": self.payment_id, "amount": str(self.amount), "received_on": self.received_on.isoformat(),
                "label": self.label, "debtor_name": self.debtor_name, "debtor_iban": self.debtor_iban,
                "reference": self.reference, "suggested_dossier": self.suggested_dossier}


# ------------------------------------------------------------------------------------------------
# Matching, in bulk
# ------------------------------------------------------------------------------------------------


def _open_dossiers(session, ids: Iterable[int]) -> dict[int, int]:
    """{dossier id: debtor id} of the open dossiers among `ids`."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    return dict(session.connection().execute(select(Dossier.id, Dossier.debtor_id).where(
        one_of(session, Dossier.id, ids), Dossier.status.not_in(CLOSED))).all())


def _asked_amounts(session, dossier_ids: list[int], *, as_of: date, rates) -> dict[int, set[Decimal]]:
    """What each dossier's debtor was asked: its balance to the day, its next installment's
    remainder, its open promise's remainder."""
    out: dict[int, set[Decimal]] = defaultdict(set)
    if not dossier_ids:
        return out
    for dossier_id, totals in dossier_totals(session, dossier_ids, as_of=as_of, rates=rates).items():
        out[dossier_id].add(totals.balance)
    for r in session.execute(
        select(PaymentPlan.dossier_id, Installment.number, Installment.amount, Installment.paid)
        .join(Installment, Installment.plan_id == PaymentPlan.id)
        .where(one_of(session, PaymentPlan.dossier_id, dossier_ids), PaymentPlan.status == PlanStatus.ACTIVE,
               Installment.paid < Installment.amount)
        .order_by(PaymentPlan.dossier_id, Installment.number)
    ):
        out[r.dossier_id].add(r.amount - r.paid)
    for r in session.execute(
        select(Promise.dossier_id, Promise.amount, Promise.paid)
        .where(one_of(session, Promise.dossier_id, dossier_ids), Promise.status == PromiseStatus.OPEN)
    ):
        out[r.dossier_id].add(r.amount - r.paid)
    return out


def _debtor_key(kind, first_name, last_name, company_name) -> str:
    if kind == DebtorKind.COMPANY:
        return name_key(company_name)
    return name_key(" ".join(p for p in (first_name, last_name) if p))


def match_by_reference(session, items: list[IncomingPayment]) -> list[Match | None]:
    """The open dossier each payment's reference names (or None), one query for the whole list."""
    session.flush()  # the read below uses the session's connection, around its unit of work
    referenced = [parse_payment_reference(p.reference_text()) for p in items]
    open_by_ref = _open_dossiers(session, [d for d in referenced if d])
    return [choose_dossier(amount=p.amount, referenced=d) if d is not None and d in open_by_ref else None
            for p, d in zip(items, referenced)]


def match_incoming(session, items: list[IncomingPayment], *, rates=None) -> list[Match | None]:
    """The dossier of each payment (or None), a handful of queries for the whole list."""
    rates = rates or shipped_rates()
    results = match_by_reference(session, items)
    rest = [i for i, m in enumerate(results) if m is None]
    if not rest:
        return results

    # IBAN seen on a payment already applied -> that debtor's open dossiers.
    ibans = sorted({items[i].debtor_iban for i in rest if items[i].debtor_iban})
    iban_debtors: dict[str, set[int]] = defaultdict(set)
    if ibans:
        for iban, debtor_id in session.execute(
            select(PaymentSource.debtor_iban, Dossier.debtor_id).distinct()
            .join(Payment, Payment.id == PaymentSource.payment_id)
            .join(Dossier, Dossier.id == Payment.dossier_id)
            .where(one_of(session, PaymentSource.debtor_iban, ibans), Payment.status == PaymentStatus.APPLIED)
        ):
            iban_debtors[iban].add(debtor_id)

    # Payer names -> debtors with that last name or company name (accents and case set aside in Python).
    words = sorted({w for i in rest for w in name_key(items[i].debtor_name).split() if len(w) > 1})
    full_names = sorted({(items[i].debtor_name or "").strip().upper() for i in rest if items[i].debtor_name})
    name_debtors: dict[str, set[int]] = defaultdict(set)
    if words:
        for r in session.execute(
            select(Debtor.id, Debtor.kind, Debtor.first_name, Debtor.last_name, Debtor.company_name)
            .where(or_(one_of(session, func.upper(Debtor.last_name, type_=String), words),
                       one_of(session, func.upper(Debtor.company_name, type_=String), full_names)))
        ):
            name_debtors[_debtor_key(r.kind, r.first_name, r.last_name, r.company_name)].add(r.id)

    debtor_ids = sorted({d for s in iban_debtors.values() for d in s} | {d for s in name_debtors.values() for d in s})
    dossiers_of: dict[int, list[int]] = defaultdict(list)
    keys: dict[int, str] = {}
    for k, ds in name_debtors.items():
        for d in ds:
            keys[d] = k
    if debtor_ids:
        for dossier_id, debtor_id in session.execute(
            select(Dossier.id, Dossier.debtor_id).where(one_of(session, Dossier.debtor_id, debtor_ids),
                                                        Dossier.status.not_in(CLOSED))
        ):
            dossiers_of[debtor_id].append(dossier_id)
    all_dossiers = sorted({d for ds in dossiers_of.values() for d in ds})
    # The balance asked is the balance to the day the money arrived (a statement is usually one day).
    amounts_on = {day: _asked_amounts(session, all_dossiers, as_of=day, rates=rates) if all_dossiers else {}
                  for day in sorted({items[i].booked_on for i in rest})}

    def candidates(debtors: Iterable[int], day: date) -> list[Candidate]:
        return [Candidate(d, keys.get(debtor, ""), frozenset(amounts_on[day].get(d, ())))
                for debtor in debtors for d in dossiers_of.get(debtor, ())]

    for i in rest:
        p = items[i]
        by_iban = candidates(iban_debtors.get(p.debtor_iban, ()), p.booked_on) if p.debtor_iban else []
        by_name = candidates(name_debtors.get(name_key(p.debtor_name), ()), p.booked_on) if p.debtor_name else []
        results[i] = choose_dossier(amount=p.amount, referenced=None, iban_candidates=by_iban,
                                    payer_name=p.debtor_name, name_candidates=by_name)
    return results


# ------------------------------------------------------------------------------------------------
# Import
# ------------------------------------------------------------------------------------------------


def import_payments(
    uow_factory: Callable,
    path: Path,
    *,
    now: datetime,
    format: str = "auto",
    mapping: dict[str, str] | None = None,
    account: str | None = None,
    rates=None,
    chunk: int = 500,
    progress: Callable[[int], None] | None = None,
    streams: int = STREAMS,
    parallel_from: int = PARALLEL_FROM,
) -> PaymentImportReport:
    """Read, check, match, apply and receipt. Raises PaymentFileError (nothing written) for a
    bad file. On PostgreSQL, a file of `parallel_from` payments or more is applied by `streams`
    processes at once (services/payment_streams.py); SQLite has one writer: one stream."""
    parsed: PaymentFile = read_payment_file(Path(path), format=format, mapping=mapping, account=account)
    rates = rates or shipped_rates()
    report = PaymentImportReport(format=parsed.format, read=len(parsed.payments), skipped=dict(parsed.skipped))
    with uow_factory() as uow:
        run = PaymentImport(filename=Path(path).name[:255], sha256=parsed.sha256, format=parsed.format,
                            account=parsed.account, imported_at=now, counts={})
        uow.session.add(run)
        uow.session.flush()
        report.import_id = run.id
        database = uow.session.get_bind().url
        uow.commit()
    sequential = parsed.payments
    if streams > 1 and database.get_backend_name() == "postgresql" and len(parsed.payments) >= parallel_from:
        # Known payments first: a re-import, or the re-run of a failed one, starts streams only
        # for what is left to do.
        known = _known(uow_factory, parsed.payments, chunk=chunk)
        if len(parsed.payments) - len(known) >= parallel_from:
            report.duplicates += len(known)
            if progress and known:
                progress(len(known))
            sequential = _import_in_streams(
                uow_factory, parsed.payments, report, known=known, database_url=database.render_as_string(
                    hide_password=False), now=now, rates=rates, chunk=chunk, streams=streams, progress=progress)
    for start in range(0, len(sequential), chunk):
        part = sequential[start:start + chunk]
        with uow_factory() as uow:
            _import_chunk(uow.session, part, report, now=now, rates=rates)
            uow.commit()
        if progress:
            progress(len(part))
    with uow_factory() as uow:
        run = uow.session.get(PaymentImport, report.import_id)
        run.counts = report.as_dict()
        uow.commit()
    log.info("payment import %s: %s", report.import_id,
             {k: v for k, v in report.as_dict().items() if k not in ("amount",)})
    return report


def _known(uow_factory, payments: list[IncomingPayment], *, chunk: int) -> set[str]:
    """The external ids of `payments` already recorded."""
    known: set[str] = set()
    with uow_factory() as uow:
        conn = uow.session.connection()
        for start in range(0, len(payments), chunk):
            known.update(conn.scalars(select(Payment.external_id).where(one_of(
                uow.session, Payment.external_id, [p.external_id for p in payments[start:start + chunk]]))))
    return known


def _import_in_streams(uow_factory, payments: list[IncomingPayment], report: PaymentImportReport, *,
                       known: set[str], database_url: str, now, rates, chunk: int, streams: int, progress
                       ) -> list[IncomingPayment]:
    """Apply the payments whose reference names a dossier in `streams` concurrent streams
    (partitioned by dossier), but the `known` ones; return the others, in file order, to be
    matched and applied after them: matching by IBAN or name reads across dossiers (earlier
    payments, balances)."""
    parts, later = partition(payments, streams=streams, chunk=chunk, skip=known)
    work = partial(_import_stream_part, WorkerUnitOfWork(), import_id=report.import_id, now=now, rates=rates)

    def done(result: tuple[PaymentImportReport, list[IncomingPayment], int]) -> None:
        part_report, deferred, size = result
        report.add(part_report)
        later.extend(deferred)
        if progress:
            progress(size - len(deferred))

    run_streams(parts, work, database_url=database_url, done=done)
    # A referenced dossier found closed (or unknown) by its stream: matched like an unreferenced
    # payment, in file order with them.
    line = {p.external_id: n for n, p in enumerate(payments)}
    return sorted(later, key=lambda p: line[p.external_id])


def _import_stream_part(uow_factory, part: list[IncomingPayment], *, import_id, now, rates
                        ) -> tuple[PaymentImportReport, list[IncomingPayment], int]:
    """One stream's part of a chunk, in its own transaction: what it did, the payments left for
    the sequential pass, the part's size."""
    report = PaymentImportReport(import_id=import_id)
    with uow_factory() as uow:
        deferred = _import_chunk(uow.session, part, report, now=now, rates=rates, by_reference_only=True)
        uow.commit()
    return report, deferred, len(part)


def _import_chunk(session, part: list[IncomingPayment], report: PaymentImportReport, *, now, rates,
                  by_reference_only: bool = False) -> list[IncomingPayment]:
    """Import `part`; with `by_reference_only`, the payments whose reference names no open
    dossier are not recorded but returned."""
    # The hot reads use the session's connection (plain rows, no ORM loading per row) and the
    # writes are bulk: nothing may wait in the session's unit of work.
    session.flush()
    known = set(session.connection().scalars(select(Payment.external_id).where(
        one_of(session, Payment.external_id, [p.external_id for p in part]))))
    fresh = [p for p in part if p.external_id not in known]
    report.duplicates += len(part) - len(fresh)
    deferred: list[IncomingPayment] = []
    if by_reference_only:
        matches = match_by_reference(session, fresh)
        deferred = [p for p, m in zip(fresh, matches) if m is None]
        fresh = [p for p, m in zip(fresh, matches) if m is not None]
        matches = [m for m in matches if m is not None]
    else:
        matches = match_incoming(session, fresh, rates=rates)
    matched = [(p, m) for p, m in zip(fresh, matches) if m is not None]
    applied = apply_payments(session, [
        BatchPayment(m.dossier_id, p.amount, p.booked_on, p.method, p.external_id, p.label) for p, m in matched
    ], now=now, rates=rates)
    receipts, sources = [], []
    for (p, match), result in zip(matched, applied):
        if result.duplicate:  # another import took it meanwhile
            report.duplicates += 1
            continue
        report.matched[match.rule] += 1
        report.paid_in_full += int(result.paid_in_full)
        receipts.append((result.payment_id, match.dossier_id))
        report.amount += p.amount
        sources.append(_source(p, result.payment_id, report.import_id, match.rule, now))
    waiting = [p for p, match in zip(fresh, matches) if match is None]
    for p, payment_id in zip(waiting, _record_unmatched(session, waiting, now=now)):
        sources.append(_source(p, payment_id, report.import_id, None, None))
        report.unmatched += 1
        report.amount += p.amount
    report.created += len(sources)
    session.flush()
    bulk_insert(session.connection(), PaymentSource.__table__, sources)
    report.quittances += _receipt(session, receipts, now=now)
    return deferred


def _source(p: IncomingPayment, payment_id: int, import_id: int | None, rule: str | None, now) -> dict:
    return {"payment_id": payment_id, "import_id": import_id, "line": p.line, "debtor_name": p.debtor_name,
            "debtor_iban": p.debtor_iban, "reference": (p.reference or None) and p.reference[:140],
            "value_on": p.value_on, "match_rule": rule, "matched_at": now if rule else None, "matched_by": None}


def _receipt(session, receipts: list[tuple[int, int]], *, now) -> int:
    if not receipts:
        return 0
    debtors = dict(session.connection().execute(select(Dossier.id, Dossier.debtor_id).where(
        one_of(session, Dossier.id, sorted({d for _, d in receipts})))).all())
    return plan_quittances(session, [(p, d, debtors[d]) for p, d in receipts], now=now)


def _record_unmatched(session, items: list[IncomingPayment], *, now) -> list[int]:
    """Record payments no rule matched (status UNMATCHED, no dossier) and book each
    Dr TRUST_BANK / Cr SUSPENSE; their ids in order. In bulk, like the batch path."""
    if not items:
        return []
    ids = insert_payments(session, [
        {"external_id": p.external_id, "dossier_id": None, "amount": p.amount, "received_on": p.booked_on,
         "method": p.method, "label": p.label, "currency": p.currency, "status": PaymentStatus.UNMATCHED,
         "applied_at": None, "created_at": now} for p in items])
    kept = [(p, ids[p.external_id]) for p in items if p.external_id in ids]
    entry_ids = insert_entries(session, [
        {"posted_on": p.booked_on, "kind": UNMATCHED_KIND, "dossier_id": None, "reference": str(pid),
         "created_at": now, "data": {"payment_id": pid, "amount": str(p.amount)}} for p, pid in kept])
    bulk_insert(session.connection(), LedgerLine.__table__, [
        line for (p, _), eid in zip(kept, entry_ids) for line in (
            {"entry_id": eid, "account": LedgerAccount.TRUST_BANK, "creditor_id": None, "dossier_id": None,
             "claim_id": None, "component": None, "amount": p.amount},
            {"entry_id": eid, "account": LedgerAccount.SUSPENSE, "creditor_id": None, "dossier_id": None,
             "claim_id": None, "component": None, "amount": -p.amount})])
    return [pid for _, pid in kept]


def _book_suspense(session, payment_id: int, amount: Decimal, on: date, kind: str, *, sign: int, now) -> None:
    """Money no dossier claims: Dr TRUST_BANK / Cr SUSPENSE (sign 1), or its release (sign -1)."""
    entry = JournalEntry(posted_on=on, kind=kind, dossier_id=None, reference=str(payment_id), created_at=now,
                         data={"payment_id": payment_id, "amount": str(amount)})
    entry.lines = [
        LedgerLine(account=LedgerAccount.TRUST_BANK, creditor_id=None, dossier_id=None, amount=sign * amount),
        LedgerLine(account=LedgerAccount.SUSPENSE, creditor_id=None, dossier_id=None, amount=-sign * amount),
    ]
    session.add(entry)


# ------------------------------------------------------------------------------------------------
# Suspense
# ------------------------------------------------------------------------------------------------


def suspense(session) -> list[SuspenseItem]:
    """Payments waiting for a manager, oldest first."""
    rows = session.execute(
        select(Payment.id, Payment.amount, Payment.received_on, Payment.label, PaymentSource.debtor_name,
               PaymentSource.debtor_iban, PaymentSource.reference)
        .outerjoin(PaymentSource, PaymentSource.payment_id == Payment.id)
        .where(Payment.status == PaymentStatus.UNMATCHED)
        .order_by(Payment.received_on, Payment.id)
    ).all()
    return [SuspenseItem(r.id, r.amount, r.received_on, r.label, r.debtor_name, r.debtor_iban, r.reference,
                         parse_payment_reference(" ".join(x for x in (r.reference, r.label) if x)))
            for r in rows]


def assign_payment(session, payment_id: int, dossier_id: int, *, now: datetime, by: str | None = None,
                   rates=None) -> PaymentResult:
    """A manager assigns a payment in suspense to a dossier: taken off SUSPENSE, applied as on the
    day it was received, receipted. Raises PaymentError when the payment is not in suspense or the
    dossier is unknown or closed. The caller commits."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise PaymentError(f"paiement {payment_id} inconnu")
    if payment.status != PaymentStatus.UNMATCHED:
        raise PaymentError(f"le paiement {payment_id} n'est pas en attente d'affectation ({payment.status})")
    dossier = session.get(Dossier, dossier_id)
    if dossier is None:
        raise PaymentError(f"dossier {dossier_id} inconnu")
    if dossier.status == DossierStatus.CLOSED:
        raise PaymentError(f"le dossier {dossier_id} est clos")
    _book_suspense(session, payment_id, payment.amount, payment.received_on, RELEASE_KIND, sign=-1, now=now)
    result = apply_recorded_payment(session, payment_id, dossier_id=dossier_id, now=now, rates=rates)
    source = session.get(PaymentSource, payment_id)
    if source is None:
        source = PaymentSource(payment_id=payment_id)
        session.add(source)
    source.match_rule, source.matched_at, source.matched_by = MANUAL, now, (by or None) and by[:64]
    session.flush()
    plan_quittances(session, [(payment_id, dossier_id, dossier.debtor_id)], now=now)
    log.info("payment %s assigned to dossier %s by hand", payment_id, dossier_id)
    return result
