"""Everything held on one debtor, for a data-subject access request (RGPD art. 15).

    export_subject(uow_factory, key, *, out_dir, outbox_roots, now, creditor=None) -> SubjectExport

Writes `<out_dir>/debiteur-<id>/donnees.json` (the debtor, his contact points, his dossiers with
their claims, timeline, enrolments, outbox actions, call tasks, promises, plans, payments and
book entries) and copies the files the channels wrote for him (SMS, emails, letters) under
`fichiers/`, keeping their path relative to the outbox. Rows are serialised column by column from
the table metadata, so a column added later is exported without touching this module.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import select

from models.agreements import Installment, PaymentPlan, Promise
from models.campaigns import Campaign, Enrolment
from models.dossiers import Claim, Dossier, DossierEvent
from models.ledger import JournalEntry, LedgerLine
from models.outbox import Action, CallTask
from models.parties import ContactPoint, Creditor, Debtor
from models.payments import Payment
from services.bulk import one_of
from services.lifecycle import LifecycleError
from services.unit_of_work import UnitOfWork

FORMAT_VERSION = 1


@dataclass(frozen=True)
class SubjectExport:
    debtor_id: int
    folder: Path
    json_path: Path
    counts: dict[str, int]
    files: tuple[str, ...]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _row(obj) -> dict[str, Any]:
    return {c.key: _plain(getattr(obj, c.key)) for c in obj.__table__.columns}


def find_debtor(session, key: str, creditor: str | None = None) -> Debtor:
    q = select(Debtor)
    if creditor:
        q = q.join(Creditor, Creditor.id == Debtor.creditor_id).where(Creditor.name == creditor)
    if key.isdigit() and not creditor:
        found = session.get(Debtor, int(key))
        if found is not None:
            return found
    matches = list(session.scalars(q.where(Debtor.external_ref == key)))
    if len(matches) > 1:
        raise LifecycleError(f"référence débiteur « {key} » ambiguë ({len(matches)} créanciers) : "
                             "précisez --creditor ou donnez l'identifiant")
    if not matches:
        raise LifecycleError(f"débiteur introuvable : {key}")
    return matches[0]


def export_subject(
    uow_factory: Callable[[], UnitOfWork],
    key: str,
    *,
    out_dir: Path,
    outbox_roots: Sequence[Path] = (),
    now: datetime,
    creditor: str | None = None,
) -> SubjectExport:
    with uow_factory() as uow:
        s = uow.session
        debtor = find_debtor(s, key, creditor)
        debtor_id = debtor.id
        dossiers = list(s.scalars(select(Dossier).where(Dossier.debtor_id == debtor.id).order_by(Dossier.id)))
        ids = [d.id for d in dossiers]

        def rows(model, column, values, order=None):
            if not values:
                return []
            q = select(model).where(one_of(s, column, values)).order_by(order if order is not None else model.id)
            return [_row(r) for r in s.scalars(q)]

        plans = rows(PaymentPlan, PaymentPlan.dossier_id, ids)
        entries = rows(JournalEntry, JournalEntry.dossier_id, ids)
        enrolments = rows(Enrolment, Enrolment.dossier_id, ids)
        campaign_ids = sorted({e["campaign_id"] for e in enrolments})
        creditor_row = s.get(Creditor, debtor.creditor_id)
        data = {
            "format": FORMAT_VERSION,
            "exported_at": now.isoformat(),
            "creditor": {"id": creditor_row.id, "name": creditor_row.name, "legal_name": creditor_row.legal_name,
                         "retention_years": creditor_row.retention_years},
            "debtor": _row(debtor),
            "contact_points": rows(ContactPoint, ContactPoint.debtor_id, [debtor.id]),
            "dossiers": [_row(d) for d in dossiers],
            "claims": rows(Claim, Claim.dossier_id, ids),
            "events": rows(DossierEvent, DossierEvent.dossier_id, ids),
            "campaigns": [{"id": c.id, "name": c.name, "scenario": c.scenario}
                          for c in s.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)))],
            "enrolments": enrolments,
            "actions": rows(Action, Action.debtor_id, [debtor.id]),
            "call_tasks": rows(CallTask, CallTask.debtor_id, [debtor.id]),
            "promises": rows(Promise, Promise.dossier_id, ids),
            "payment_plans": plans,
            "installments": rows(Installment, Installment.plan_id, [p["id"] for p in plans]),
            "payments": rows(Payment, Payment.dossier_id, ids),
            "journal_entries": entries,
            "ledger_lines": rows(LedgerLine, LedgerLine.dossier_id, ids),
        }
    action_ids = {a["id"] for a in data["actions"]}
    folder = Path(out_dir) / f"debiteur-{debtor_id}"
    folder.mkdir(parents=True, exist_ok=True)
    copied = _copy_files(outbox_roots, action_ids, folder / "fichiers")
    data["files"] = copied
    json_path = folder / "donnees.json"
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, json_path)
    counts = {k: len(v) for k, v in data.items() if isinstance(v, list)}
    return SubjectExport(debtor_id, folder, json_path, counts, tuple(copied))


def _copy_files(roots: Sequence[Path], action_ids: set[int], target: Path) -> list[str]:
    """Files named after one of the debtor's actions (`<action_id>.txt|eml|json|pdf`)."""
    copied: list[str] = []
    for n, root in enumerate(Path(r) for r in roots):
        if not root.is_dir():
            continue
        for dirpath, _dirs, names in os.walk(root):
            for name in sorted(names):
                stem = name.split(".", 1)[0]
                if not (stem.isdigit() and int(stem) in action_ids) or name.endswith(".tmp"):
                    continue
                source = Path(dirpath) / name
                relative = Path(f"{n}-{root.name}") / source.relative_to(root)
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / relative)
                copied.append(str(relative))
    return sorted(copied)
