"""Remittance (reversement): pay each creditor the funds collected for it, minus the office's
fees, out of the compte affecté; one statement (PDF and CSV) per creditor and one SEPA credit
transfer file (pain.001.001.03) per run.

What a remittance as of DATE takes (CPCE R124-6: funds are reversed within one month of
receipt unless the mandate says otherwise)
----------------------------------------------------------------------------------------------
- every applied payment of the creditor not yet remitted, received on or before DATE and
  cleared: received at least `clearing_days[method]` days before DATE (a cheque can still
  bounce for a while; settings `remittance_clearing_days`, other methods 0). The office pays
  out what it holds rather than waiting for each payment's deadline: holding creditors' money
  longer than needed earns nothing under R124-6;
- each line's deadline is `received_on + creditor.remittance_delay_days` (30 by default);
  a line paid out after it is flagged late ("hors délai") on the statement and counted;
- with `due_only`, only the lines whose deadline is on or before DATE (a run that pays exactly
  what the law obliges to pay by then);
- claw-backs: a payment reversed (bounced cheque, refunded card payment) after it was remitted
  comes back as a negative line in the creditor's next remittance: its gross and commission
  negated, the dossier's fixed fee adjusted (models/fees.py);
- a payment reversed before it was remitted is simply never remitted.
The amount per payment is what its entries credited to CREDITOR_PAYABLE (the part applied to
claims; an overpayment in suspense is not the creditor's money). Any entry that moves money
onto CREDITOR_PAYABLE for a payment carries `reference = payment id` (services/payments.py):
that is how this module finds it.

Per creditor: gross = sum of lines, commission and fixed fees per models/fees.py, net = gross -
fees. Net > 0: a credit transfer in the SEPA file (status "issued"). Net = 0: booked, nothing
to transfer ("offset"). Net < 0 (claw-backs larger than new collections): nothing is booked,
the creditor is reported as carried over and the lines wait for its next collections (or for
the office to invoice it).

Books (chart in services/books.py), per remittance:
    fee:        Dr CREDITOR_PAYABLE fees  (per dossier)   Cr FEE_INCOME fees (per dossier)
                Cr TRUST_BANK fees                        Dr OFFICE_BANK fees
    remittance: Dr CREDITOR_PAYABLE net / Cr TRUST_BANK net
so the compte affecté keeps holding exactly the creditors' payables plus suspense. The SEPA
file carries the transfers to the creditors and one transfer of the run's fees to the office's
own account (settings `RELANCE_OFFICE_FEES_IBAN`); when claw-backs make the fees given back
larger than those taken, the office owes the difference to the compte affecté: the run reports
it as a transfer to make by hand.

Never twice: `remittance_item` is unique on (payment_id, kind), so a payment is remitted once
and clawed back once even when two runs race (the loser rolls back whole). Nothing
half-written: accounts are checked before anything is booked (a creditor without a valid IBAN
stops the run with its name; `--creditor` remits the others), the files are written before the
commit and removed if it fails. Logs carry ids only.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, String, and_, cast, exists, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from channels.files import write_atomically
from models.enums import LedgerAccount, PaymentStatus, RemittanceItemKind, RemittanceStatus
from models.fees import commission, fixed_fee_adjustment
from models.ledger import JournalEntry, LedgerLine
from models.parties import Creditor, Debtor
from models.dossiers import Dossier
from models.payments import Payment
from models.remittance import Remittance, RemittanceItem

__all__ = [
    "CreditorRemittance",
    "OfficeAccounts",
    "RemittanceError",
    "RemittanceLine",
    "RemittanceRun",
    "remit",
]

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")
FEE_KIND = "fee"
REMITTANCE_KIND = "remittance"
_NOT_COLLECTIONS = ("reversal", FEE_KIND, REMITTANCE_KIND)
STATEMENT_TEMPLATE = "remittance/releve_reversement.html"
STATEMENT_STYLESHEET = "remittance/releve.css"
PDF_MAX_LINES = 1000  # beyond, the PDF shows the totals and points to the CSV (every line)
_CHUNK = 5000
CSV_COLUMNS = ("type", "id_paiement", "date", "date_limite", "hors_delai", "reference_dossier",
               "reference_debiteur", "montant", "commission", "frais_fixes", "net")


class RemittanceError(ValueError):
    """A remittance run that cannot be made as asked; nothing was booked or written."""


@dataclass(frozen=True)
class OfficeAccounts:
    """The office side of the transfers: the compte affecté debited, the fees account credited."""

    name: str
    trust_iban: str
    trust_bic: str | None
    fees_iban: str | None
    fees_bic: str | None
    address_lines: tuple[str, ...] = ()
    siren: str = ""
    email: str = ""
    phone: str = ""

    @classmethod
    def from_settings(cls, office) -> "OfficeAccounts":
        return cls(name=office.name, trust_iban=office.iban, trust_bic=office.bic, fees_iban=office.fees_iban,
                   fees_bic=office.fees_bic, address_lines=tuple(office.address_lines), siren=office.siren,
                   email=office.email, phone=office.phone)


@dataclass(frozen=True)
class RemittanceLine:
    payment_id: int
    kind: RemittanceItemKind
    dossier_id: int
    dossier_ref: str
    debtor_ref: str
    received_on: date  # for a claw-back: the day the payment was reversed
    deadline: date
    gross: Decimal
    commission: Decimal
    fixed_fee: Decimal
    net: Decimal
    late: bool


@dataclass(frozen=True)
class CreditorRemittance:
    creditor_id: int
    creditor_name: str
    status: str  # "issued", "offset" or "carried" (net < 0: nothing booked)
    gross: Decimal
    commission: Decimal
    fixed_fees: Decimal
    net: Decimal
    lines: tuple[RemittanceLine, ...] = field(repr=False)
    late_items: int
    remittance_id: int | None = None
    end_to_end_id: str | None = None
    statement_pdf: Path | None = None
    statement_csv: Path | None = None

    @property
    def fees(self) -> Decimal:
        return self.commission + self.fixed_fees


@dataclass(frozen=True)
class RemittanceRun:
    as_of: date
    dry_run: bool
    batch_ref: str | None
    remittances: tuple[CreditorRemittance, ...]  # issued and offset ones
    carried: tuple[CreditorRemittance, ...]  # net < 0: waits for the next collections
    fees_transfer: Decimal  # fees moved to the office's account (< 0: owed back to the compte affecté)
    transfer_file: Path | None
    not_cleared: int  # payments left for a later run: not cleared yet (or not due, with due_only)

    @property
    def total_net(self) -> Decimal:
        return sum((r.net for r in self.remittances), ZERO)

    def as_dict(self) -> dict[str, Any]:
        def one(r: CreditorRemittance) -> dict[str, Any]:
            return {"creditor": r.creditor_name, "remittance_id": r.remittance_id, "status": r.status,
                    "lines": len(r.lines), "late_lines": r.late_items, "gross": str(r.gross),
                    "commission": str(r.commission), "fixed_fees": str(r.fixed_fees), "net": str(r.net),
                    "end_to_end_id": r.end_to_end_id,
                    "statement_pdf": str(r.statement_pdf) if r.statement_pdf else None,
                    "statement_csv": str(r.statement_csv) if r.statement_csv else None}

        return {"as_of": self.as_of.isoformat(), "dry_run": self.dry_run, "batch_ref": self.batch_ref,
                "remittances": [one(r) for r in self.remittances], "carried": [one(r) for r in self.carried],
                "fees_transfer": str(self.fees_transfer), "total_net": str(self.total_net),
                "transfer_file": str(self.transfer_file) if self.transfer_file else None,
                "not_cleared": self.not_cleared}


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def remit(
    uow_factory: Callable,
    *,
    as_of: date,
    now: datetime,
    office: OfficeAccounts,
    out_dir: Path,
    creditor: str | None = None,
    dry_run: bool = False,
    due_only: bool = False,
    clearing_days: Mapping[str, int] | None = None,
    execution_date: date | None = None,
    write_pdf: bool = True,
) -> RemittanceRun:
    """Build, book and write the remittances due as of `as_of` (module docstring); with
    `dry_run`, compute and check everything (the SEPA file included) but book and write
    nothing. `write_pdf=False` leaves out the PDF statements (benchmarks)."""
    clearing_days = dict(clearing_days or {})
    with uow_factory() as uow:
        session = uow.session
        creditors = _creditors(session, creditor)
        if not creditors:
            return RemittanceRun(as_of, dry_run, None, (), (), ZERO, None, 0)
        lines_by_creditor, not_cleared = _collect_lines(session, creditors, as_of, clearing_days, due_only)
        drafts: list[CreditorRemittance] = []
        carried: list[CreditorRemittance] = []
        for cred in sorted(creditors.values(), key=lambda c: c.name):
            lines = lines_by_creditor.get(cred.id)
            if not lines:
                continue
            draft = _draft(session, cred, lines)
            (carried if draft.net < 0 else drafts).append(draft)

        if not drafts:
            return RemittanceRun(as_of, dry_run, None, (), tuple(carried), ZERO, None, not_cleared)
        accounts = _check_accounts(office, creditors, drafts)
        fees_transfer = sum((d.fees for d in drafts), ZERO)

        batch_ref = f"REL-{now:%Y%m%d%H%M%S}-{_next_id_hint(session)}"
        if dry_run:
            # The SEPA file is built and validated all the same: a dry run finds what a real one would refuse.
            _transfer_file(office, accounts, drafts, fees_transfer, batch_ref, execution_date or as_of, now)
            return RemittanceRun(as_of, True, batch_ref, tuple(drafts), tuple(carried), fees_transfer, None,
                                 not_cleared)

        written: list[Path] = []
        try:
            booked = [_book(session, creditors[d.creditor_id], d, as_of=as_of, now=now) for d in drafts]
            batch_ref = f"REL-{now:%Y%m%d%H%M%S}-{min(r.remittance_id for r in booked)}"
            folder = Path(out_dir) / batch_ref
            document = _transfer_file(office, accounts, booked, fees_transfer, batch_ref,
                                      execution_date or as_of, now)
            transfer_path = folder / f"virements-{batch_ref}.xml" if document else None
            if document:
                _write(transfer_path, document, written)
            final = []
            for r in booked:
                cred = creditors[r.creditor_id]
                stem = f"releve-{r.remittance_id}-{_slug(cred.name)}"
                csv_path = folder / f"{stem}.csv"
                _write(csv_path, _statement_csv(r), written)
                pdf_path = None
                if write_pdf:
                    pdf_path = folder / f"{stem}.pdf"
                    _write(pdf_path, _statement_pdf(office, cred, r, as_of, batch_ref), written)
                row = session.get(Remittance, r.remittance_id)
                row.batch_ref = batch_ref
                row.statement_csv, row.statement_pdf = str(csv_path), str(pdf_path) if pdf_path else None
                row.transfer_file = str(transfer_path) if (transfer_path and r.net > 0) else None
                final.append(replace(r, statement_csv=csv_path, statement_pdf=pdf_path))
            session.flush()
            uow.commit()
        except IntegrityError as exc:
            _unlink(written)
            raise RemittanceError("un autre reversement a pris ces paiements entre-temps : "
                                  "rien n'a été enregistré, relancez la commande") from exc
        except BaseException:
            _unlink(written)
            raise
        for r in final:
            log.info("remittance %s booked for creditor %s (%s lines, batch %s)", r.remittance_id, r.creditor_id,
                     len(r.lines), batch_ref)
        return RemittanceRun(as_of, False, batch_ref, tuple(final), tuple(carried), fees_transfer,
                             transfer_path, not_cleared)


# --------------------------------------------------------------------------------------------
# What is due
# --------------------------------------------------------------------------------------------


def _creditors(session, name: str | None) -> dict[int, Creditor]:
    stmt = select(Creditor)
    if name is not None:
        stmt = stmt.where(Creditor.name == name)
    found = {c.id: c for c in session.scalars(stmt.order_by(Creditor.id).with_for_update())}
    if name is not None and not found:
        raise RemittanceError(f"créancier inconnu : {name}")
    return found


def _cents_sum(column):
    return func.sum(cast(func.round(column * 100), BigInteger))


def _euros(cents) -> Decimal:
    return (Decimal(int(cents or 0)) / 100).quantize(Decimal("0.01"))


def _collect_lines(session, creditors: dict[int, Creditor], as_of: date, clearing_days: Mapping[str, int],
                   due_only: bool) -> tuple[dict[int, list[RemittanceLine]], int]:
    creditor_ids = list(creditors)
    remitted = exists().where(RemittanceItem.payment_id == Payment.id,
                              RemittanceItem.kind == RemittanceItemKind.PAYMENT)
    candidates = session.execute(
        select(Payment.id, Payment.dossier_id, Payment.received_on, Payment.method, Dossier.creditor_id,
               Dossier.external_ref, Debtor.external_ref)
        .join(Dossier, Dossier.id == Payment.dossier_id)
        .join(Debtor, Debtor.id == Dossier.debtor_id)
        .where(Payment.status == PaymentStatus.APPLIED, Payment.received_on <= as_of,
               Dossier.creditor_id.in_(creditor_ids), ~remitted)
    ).all()
    gross_of = _collected_per_payment(session, [row[0] for row in candidates])
    out: dict[int, list[RemittanceLine]] = defaultdict(list)
    not_cleared = 0
    for pid, dossier_id, received_on, method, creditor_id, dossier_ref, debtor_ref in candidates:
        gross = gross_of.get(pid, ZERO)
        if gross <= 0:
            continue
        delay = creditors[creditor_id].remittance_delay_days
        deadline = received_on + timedelta(days=delay)
        cleared = received_on + timedelta(days=clearing_days.get(method, 0)) <= as_of
        if not cleared or (due_only and deadline > as_of):
            not_cleared += 1
            continue
        out[creditor_id].append(RemittanceLine(
            pid, RemittanceItemKind.PAYMENT, dossier_id, dossier_ref, debtor_ref, received_on, deadline,
            gross, ZERO, ZERO, gross, as_of > deadline))

    # Claw-backs: remitted payments reversed since, not yet taken back.
    taken = aliased(RemittanceItem)
    clawed = exists().where(taken.payment_id == Payment.id, taken.kind == RemittanceItemKind.CLAWBACK)
    item = RemittanceItem
    reversals = (
        select(item.payment_id, item.dossier_id, item.gross, item.commission, Dossier.creditor_id,
               Dossier.external_ref, Debtor.external_ref, func.min(JournalEntry.posted_on))
        .join(Payment, Payment.id == item.payment_id)
        .join(Dossier, Dossier.id == item.dossier_id)
        .join(Debtor, Debtor.id == Dossier.debtor_id)
        .join(JournalEntry, and_(JournalEntry.reference == cast(Payment.id, String), JournalEntry.kind == "reversal"))
        .where(item.kind == RemittanceItemKind.PAYMENT, Payment.status == PaymentStatus.REVERSED,
               Dossier.creditor_id.in_(creditor_ids), ~clawed)
        .group_by(item.payment_id, item.dossier_id, item.gross, item.commission, Dossier.creditor_id,
                  Dossier.external_ref, Debtor.external_ref)
    )
    for pid, dossier_id, gross, comm, creditor_id, dossier_ref, debtor_ref, reversed_on in session.execute(reversals):
        if reversed_on > as_of:
            continue
        out[creditor_id].append(RemittanceLine(
            pid, RemittanceItemKind.CLAWBACK, dossier_id, dossier_ref, debtor_ref, reversed_on, reversed_on,
            -gross, -comm, ZERO, -gross + comm, False))
    for lines in out.values():
        lines.sort(key=lambda ln: (ln.received_on, ln.payment_id, ln.kind != RemittanceItemKind.PAYMENT))
    return out, not_cleared


def _collected_per_payment(session, payment_ids: Sequence[int]) -> dict[int, Decimal]:
    """What each payment's entries credited to CREDITOR_PAYABLE (reversals and remittance
    entries aside), by payment id; looked up by entry reference, chunk by chunk."""
    out: dict[int, Decimal] = {}
    for start in range(0, len(payment_ids), _CHUNK):
        refs = [str(pid) for pid in payment_ids[start:start + _CHUNK]]
        for reference, cents in session.execute(
                select(JournalEntry.reference, _cents_sum(LedgerLine.amount))
                .join(LedgerLine, LedgerLine.entry_id == JournalEntry.id)
                .where(JournalEntry.reference.in_(refs), JournalEntry.kind.notin_(_NOT_COLLECTIONS),
                       LedgerLine.account == LedgerAccount.CREDITOR_PAYABLE)
                .group_by(JournalEntry.reference)):
            out[int(reference)] = -_euros(cents)  # CREDITOR_PAYABLE is credited: negative lines
    return out


def _draft(session, cred: Creditor, lines: list[RemittanceLine]) -> CreditorRemittance:
    """Commission per line, the fixed fee per dossier on the dossier's first line, the totals."""
    rate, fee = cred.commission_rate, cred.fixed_fee_per_file
    lines = [ln if ln.kind == RemittanceItemKind.CLAWBACK
             else replace(ln, commission=commission(ln.gross, rate)) for ln in lines]
    dossier_ids = sorted({ln.dossier_id for ln in lines})
    before = _dossier_history(session, dossier_ids)
    now_gross: dict[int, Decimal] = defaultdict(lambda: ZERO)
    now_comm: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for ln in lines:
        now_gross[ln.dossier_id] += ln.gross
        now_comm[ln.dossier_id] += ln.commission
    fixed: dict[int, Decimal] = {}
    for d in dossier_ids:
        g, c, charged = before.get(d, (ZERO, ZERO, ZERO))
        fixed[d] = fixed_fee_adjustment(fee, g + now_gross[d], c + now_comm[d], charged)
    out, seen = [], set()
    for ln in lines:
        f = ZERO
        if ln.dossier_id not in seen:
            seen.add(ln.dossier_id)
            f = fixed[ln.dossier_id]
        out.append(replace(ln, fixed_fee=f, net=ln.gross - ln.commission - f))
    gross = sum((ln.gross for ln in out), ZERO)
    comm = sum((ln.commission for ln in out), ZERO)
    fixed_total = sum((ln.fixed_fee for ln in out), ZERO)
    net = gross - comm - fixed_total
    status = "carried" if net < 0 else (RemittanceStatus.ISSUED.value if net > 0 else RemittanceStatus.OFFSET.value)
    return CreditorRemittance(cred.id, cred.name, status, gross, comm, fixed_total, net, tuple(out),
                              sum(1 for ln in out if ln.late))


def _dossier_history(session, dossier_ids: Sequence[int]) -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    """Per dossier, what earlier remittances collected, took as commission and as fixed fee."""
    out = {}
    for start in range(0, len(dossier_ids), _CHUNK):
        chunk = dossier_ids[start:start + _CHUNK]
        for d, g, c, f in session.execute(
                select(RemittanceItem.dossier_id, _cents_sum(RemittanceItem.gross),
                       _cents_sum(RemittanceItem.commission), _cents_sum(RemittanceItem.fixed_fee))
                .where(RemittanceItem.dossier_id.in_(chunk)).group_by(RemittanceItem.dossier_id)):
            out[d] = (_euros(g), _euros(c), _euros(f))
    return out


def _check_accounts(office: OfficeAccounts, creditors: dict[int, Creditor], drafts) -> dict:
    """Every account the run needs, checked before anything is booked."""
    from channels.sepa_transfer import BankAccountError, check_account

    problems, accounts = [], {}
    try:
        accounts["trust"] = check_account(office.trust_iban, office.trust_bic, owner=office.name)
    except BankAccountError as exc:
        problems.append(f"compte affecté de l'office (RELANCE_OFFICE_IBAN/BIC) - {exc}")
    if office.fees_iban:
        try:
            accounts["fees"] = check_account(office.fees_iban, office.fees_bic, owner=office.name)
        except BankAccountError as exc:
            problems.append(f"compte d'honoraires de l'office (RELANCE_OFFICE_FEES_IBAN/BIC) - {exc}")
    for d in drafts:
        if d.net <= 0:
            continue
        cred = creditors[d.creditor_id]
        try:
            accounts[cred.id] = check_account(cred.iban, cred.bic, owner=cred.legal_name or cred.name)
        except BankAccountError as exc:
            problems.append(f"créancier « {cred.name} » - {exc}")
    if problems:
        raise RemittanceError("reversement impossible, rien n'a été enregistré :\n- " + "\n- ".join(problems)
                              + "\n(corrigez les coordonnées bancaires, ou utilisez --creditor pour reverser aux autres)")
    return accounts


def _next_id_hint(session) -> int:
    return (session.scalar(select(func.max(Remittance.id))) or 0) + 1


# --------------------------------------------------------------------------------------------
# Books
# --------------------------------------------------------------------------------------------


def _book(session, cred: Creditor, draft: CreditorRemittance, *, as_of: date, now: datetime) -> CreditorRemittance:
    row = Remittance(
        creditor_id=cred.id, as_of=as_of, status=RemittanceStatus(draft.status),
        commission_rate=cred.commission_rate, fixed_fee_per_file=cred.fixed_fee_per_file,
        gross=draft.gross, commission=draft.commission, fixed_fees=draft.fixed_fees, net=draft.net,
        items_count=len(draft.lines), late_items=draft.late_items, batch_ref="", created_at=now,
        creditor_iban=cred.iban if draft.net > 0 else None, creditor_bic=cred.bic if draft.net > 0 else None,
    )
    session.add(row)
    session.flush()
    e2e = f"RELANCE-REM-{row.id}" if draft.net > 0 else None
    row.end_to_end_id = e2e
    session.execute(insert(RemittanceItem), [
        {"remittance_id": row.id, "payment_id": ln.payment_id, "kind": ln.kind, "dossier_id": ln.dossier_id,
         "received_on": ln.received_on, "deadline": ln.deadline, "gross": ln.gross, "commission": ln.commission,
         "fixed_fee": ln.fixed_fee, "net": ln.net}
        for ln in draft.lines
    ])
    reference = f"remittance:{row.id}"
    fees_by_dossier: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for ln in draft.lines:
        fees_by_dossier[ln.dossier_id] += ln.commission + ln.fixed_fee
    if draft.fees != 0:
        entry = _entry(session, FEE_KIND, reference, as_of, now,
                       {"remittance_id": row.id, "commission": str(draft.commission),
                        "fixed_fees": str(draft.fixed_fees)})
        rows = []
        for dossier_id, amount in sorted(fees_by_dossier.items()):
            if amount == 0:
                continue
            rows.append(_line(entry, LedgerAccount.CREDITOR_PAYABLE, cred.id, dossier_id, amount))
            rows.append(_line(entry, LedgerAccount.FEE_INCOME, cred.id, dossier_id, -amount))
        rows.append(_line(entry, LedgerAccount.TRUST_BANK, cred.id, None, -draft.fees))
        rows.append(_line(entry, LedgerAccount.OFFICE_BANK, cred.id, None, draft.fees))
        session.execute(insert(LedgerLine), rows)
    if draft.net != 0:
        entry = _entry(session, REMITTANCE_KIND, reference, as_of, now,
                       {"remittance_id": row.id, "net": str(draft.net), "end_to_end_id": e2e})
        session.execute(insert(LedgerLine), [
            _line(entry, LedgerAccount.CREDITOR_PAYABLE, cred.id, None, draft.net),
            _line(entry, LedgerAccount.TRUST_BANK, cred.id, None, -draft.net),
        ])
    return replace(draft, remittance_id=row.id, end_to_end_id=e2e)


def _entry(session, kind: str, reference: str, posted_on: date, now: datetime, data: dict) -> JournalEntry:
    entry = JournalEntry(posted_on=posted_on, kind=kind, dossier_id=None, reference=reference, created_at=now,
                         data=data)
    session.add(entry)
    session.flush()
    return entry


def _line(entry: JournalEntry, account: LedgerAccount, creditor_id: int, dossier_id: int | None,
          amount: Decimal) -> dict:
    return {"entry_id": entry.id, "account": account, "creditor_id": creditor_id, "dossier_id": dossier_id,
            "claim_id": None, "component": None, "amount": amount}


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def _transfer_file(office: OfficeAccounts, accounts: dict, remittances: Sequence[CreditorRemittance],
                   fees_transfer: Decimal, batch_ref: str, execution_date: date, now: datetime) -> bytes | None:
    """The pain.001 for the run's transfers; None when there is nothing to transfer."""
    from channels.sepa_transfer import CreditTransfer, credit_transfer_file

    transfers = []
    for n, r in enumerate(remittances, start=1):
        if r.net <= 0:
            continue
        e2e = r.end_to_end_id or f"{batch_ref[:28]}-{n:04d}"
        label = r.remittance_id if r.remittance_id is not None else "projet"
        transfers.append(CreditTransfer(accounts[r.creditor_id], r.net, e2e,
                                        f"Reversement {label} au {execution_date:%d/%m/%Y} - {len(r.lines)} paiements"))
    if fees_transfer > 0 and "fees" in accounts:
        transfers.append(CreditTransfer(accounts["fees"], fees_transfer, f"{batch_ref[:29]}-FRAIS",
                                        f"Honoraires de recouvrement - lot {batch_ref}"))
    if not transfers:
        return None
    return credit_transfer_file(accounts["trust"], transfers, message_id=batch_ref,
                                execution_date=execution_date, created_at=now)


def _fr_amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def _statement_csv(r: CreditorRemittance) -> bytes:
    text = io.StringIO()
    out = csv.writer(text, delimiter=";", lineterminator="\r\n")
    out.writerow(CSV_COLUMNS)
    for ln in r.lines:
        out.writerow([
            "paiement" if ln.kind == RemittanceItemKind.PAYMENT else "reprise", ln.payment_id,
            f"{ln.received_on:%d/%m/%Y}", f"{ln.deadline:%d/%m/%Y}", "oui" if ln.late else "non",
            ln.dossier_ref, ln.debtor_ref, _fr_amount(ln.gross), _fr_amount(ln.commission),
            _fr_amount(ln.fixed_fee), _fr_amount(ln.net),
        ])
    # utf-8-sig: spreadsheets need the BOM to read the accents.
    return text.getvalue().encode("utf-8-sig")


def _statement_pdf(office: OfficeAccounts, cred: Creditor, r: CreditorRemittance, as_of: date,
                   batch_ref: str) -> bytes:
    from channels.letters_pdf import render_document
    from babel.numbers import format_percent

    from channels.templating import iban_groups

    context = {
        "office": {"name": office.name, "address_lines": list(office.address_lines), "siren": office.siren,
                   "email": office.email, "phone": office.phone},
        "creditor": {"name": cred.name, "legal_name": cred.legal_name or cred.name,
                     "address_lines": (cred.address_block or "").split("\n") if cred.address_block else [],
                     "iban": iban_groups(cred.iban) if r.net > 0 else None, "bic": cred.bic,
                     "commission_rate_text": format_percent(cred.commission_rate, "#,##0.## %", locale="fr_FR"), "fixed_fee_per_file": cred.fixed_fee_per_file,
                     "remittance_delay_days": cred.remittance_delay_days},
        "remittance": {"id": r.remittance_id, "as_of": as_of, "status": r.status, "gross": r.gross,
                       "commission": r.commission, "fixed_fees": r.fixed_fees, "fees": r.fees, "net": r.net,
                       "end_to_end_id": r.end_to_end_id, "batch_ref": batch_ref, "late_items": r.late_items,
                       "lines_count": len(r.lines),
                       "collected": sum((ln.gross for ln in r.lines if ln.kind == RemittanceItemKind.PAYMENT), ZERO),
                       "clawed_back": -sum((ln.gross for ln in r.lines if ln.kind == RemittanceItemKind.CLAWBACK), ZERO)},
        "lines": [{"kind": str(ln.kind), "payment_id": ln.payment_id, "date": ln.received_on, "deadline": ln.deadline,
                   "late": ln.late, "dossier_ref": ln.dossier_ref, "debtor_ref": ln.debtor_ref, "gross": ln.gross,
                   "commission": ln.commission, "fixed_fee": ln.fixed_fee, "net": ln.net}
                  for ln in r.lines[:PDF_MAX_LINES]],
        "truncated": len(r.lines) > PDF_MAX_LINES,
        "pdf_max_lines": PDF_MAX_LINES,
    }
    return render_document(STATEMENT_TEMPLATE, context, stylesheet=STATEMENT_STYLESHEET)


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").lower()[:40] or "creancier"


def _write(path: Path, data: bytes, written: list[Path]) -> None:
    """Write atomically (readers see no half file) and remember it, to remove it on failure."""
    write_atomically(path, data)
    written.append(path)


def _unlink(paths: list[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)
    for folder in {p.parent for p in paths}:
        try:
            folder.rmdir()
        except OSError:
            pass
