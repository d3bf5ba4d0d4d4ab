"""The creditor's daily information (CPCE R124-5): every payment received, even partial, and every
proposal other than immediate payment (promises, payment plans), per creditor and day.

    creditor_report(session, day) -> list[CreditorDay]
    write_creditor_reports(reports, out_dir, *, templates_dir=None) -> list[Path]

One CSV per creditor (`<day>_<creditor id>_information.csv`, `;`, UTF-8 with BOM so that
spreadsheet software opens it with its accents; French amounts and dates) and one short HTML
page from `templates/report/creditor_day.html`. A creditor with nothing that day gets no file.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from channels.templating import date_short, make_environment
from models.agreements import Installment, PaymentPlan, Promise
from models.dossiers import Dossier
from models.enums import PaymentStatus
from models.ledger import JournalEntry
from models.parties import Creditor
from models.payments import Payment

__all__ = ["CreditorDay", "ReportLine", "creditor_report", "write_creditor_reports"]

ZERO = Decimal("0.00")
COLUMNS = ("type", "dossier", "date", "montant", "detail", "solde_apres")


@dataclass(frozen=True)
class ReportLine:
    kind: str  # paiement, promesse, echeancier
    dossier_ref: str
    on: date
    amount: Decimal
    detail: str
    balance_after: Decimal | None = None


@dataclass
class CreditorDay:
    creditor_id: int
    creditor_name: str
    day: date
    payments: list[ReportLine] = field(default_factory=list)
    proposals: list[ReportLine] = field(default_factory=list)

    @property
    def collected(self) -> Decimal:
        return sum((p.amount for p in self.payments), ZERO)


_METHODS = {"transfer": "virement", "card": "carte", "cheque": "chèque", "direct_debit": "prélèvement",
            "cash": "espèces"}


def creditor_report(session, day: date) -> list[CreditorDay]:
    """Payments received on `day` (applied to a dossier, reversed ones included with their
    status) and promises made / plans agreed on `day`, grouped by creditor."""
    out: dict[int, CreditorDay] = {}

    def bucket(creditor_id: int, name: str) -> CreditorDay:
        return out.setdefault(creditor_id, CreditorDay(creditor_id, name, day))

    payments = session.execute(
        select(Payment.id, Payment.amount, Payment.method, Payment.status, Dossier.external_ref,
               Creditor.id.label("creditor_id"), Creditor.name)
        .join(Dossier, Dossier.id == Payment.dossier_id)
        .join(Creditor, Creditor.id == Dossier.creditor_id)
        .where(Payment.received_on == day, Payment.status != PaymentStatus.UNMATCHED)
        .order_by(Creditor.id, Payment.id)
    ).all()
    after = {}
    if payments:
        after = {int(r.reference): (r.data or {}) for r in session.execute(
            select(JournalEntry.reference, JournalEntry.data).where(
                JournalEntry.kind == "payment", JournalEntry.reference.in_([str(p.id) for p in payments])))}
    for p in payments:
        data = after.get(p.id, {})
        detail = _METHODS.get(p.method, p.method)
        if data.get("paid_in_full"):
            detail += ", dossier soldé"
        if p.status == PaymentStatus.REVERSED:
            detail += ", paiement annulé (rejet ou remboursement)"
        balance = Decimal(data["balance_after"]) if "balance_after" in data else None
        bucket(p.creditor_id, p.name).payments.append(
            ReportLine("paiement", p.external_ref, day, p.amount, detail, balance))

    for r in session.execute(
        select(Promise.amount, Promise.due_on, Promise.made_by, Dossier.external_ref,
               Creditor.id.label("creditor_id"), Creditor.name)
        .join(Dossier, Dossier.id == Promise.dossier_id).join(Creditor, Creditor.id == Dossier.creditor_id)
        .where(Promise.made_on == day).order_by(Creditor.id, Promise.id)
    ):
        bucket(r.creditor_id, r.name).proposals.append(
            ReportLine("promesse", r.external_ref, day, r.amount, f"paiement promis pour le {date_short(r.due_on)}"))

    plans = session.execute(
        select(PaymentPlan.id, PaymentPlan.total, Dossier.external_ref, Creditor.id.label("creditor_id"), Creditor.name)
        .join(Dossier, Dossier.id == PaymentPlan.dossier_id).join(Creditor, Creditor.id == Dossier.creditor_id)
        .where(PaymentPlan.agreed_on == day).order_by(Creditor.id, PaymentPlan.id)
    ).all()
    schedule: dict[int, list] = defaultdict(list)
    if plans:
        for i in session.execute(select(Installment.plan_id, Installment.due_on, Installment.amount)
                                 .where(Installment.plan_id.in_([p.id for p in plans]))
                                 .order_by(Installment.plan_id, Installment.number)):
            schedule[i.plan_id].append(i)
    for p in plans:
        items = schedule[p.id]
        detail = (f"échéancier de {len(items)} échéance{'s' if len(items) != 1 else ''}"
                  + (f", du {date_short(items[0].due_on)} au {date_short(items[-1].due_on)}" if items else ""))
        bucket(p.creditor_id, p.name).proposals.append(ReportLine("echeancier", p.external_ref, day, p.total, detail))
    return [out[k] for k in sorted(out)]


def _amount(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}".replace(".", ",")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "creancier"


def write_creditor_reports(reports: list[CreditorDay], out_dir: Path, *, templates_dir=None) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    template = make_environment(templates_dir).get_template("report/creditor_day.html")
    written = []
    for r in reports:
        stem = f"{r.day.isoformat()}_{r.creditor_id}_{_slug(r.creditor_name)}"
        csv_path = out_dir / f"{stem}.csv"
        with open(csv_path, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, delimiter=";")
            w.writerow(COLUMNS)
            for line in [*r.payments, *r.proposals]:
                w.writerow([line.kind, line.dossier_ref, date_short(line.on), _amount(line.amount), line.detail,
                            _amount(line.balance_after)])
        html_path = out_dir / f"{stem}.html"
        html_path.write_text(template.render(report=r), encoding="utf-8")
        written += [csv_path, html_path]
    return written
