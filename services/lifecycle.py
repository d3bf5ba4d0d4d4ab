"""The data lifecycle of a dossier: closed, archived, then anonymised when its period is over.

    close_dossier_by_hand(uow_factory, key, reason, *, now, actor)    abandoned / returned to creditor
    archive_closed(uow_factory, *, now, after_days)                    closed -> archived (read-only)
    purge(uow_factory, *, as_of, now, accounting_years, outbox_roots, uploads, dry_run) -> PurgeReport
    refuse_archived(dossier)                                           the guard every writing service calls

Archived means read-only and out of every queue: its enrolments are ended, its planned actions
cancelled, its open call tasks cancelled, and the writing services (payments, promises, plans,
event reactions) refuse it with `ArchivedDossierError`. It stays searchable.

Two retention periods run from the day the dossier closed:
- personal data: the mandate's `creditor.retention_years` (5 by default). When every dossier of a
  debtor is archived and past it, the debtor is anonymised: names, identifiers, birth date, phones,
  emails and addresses, the free text of his timeline (inbound SMS...), bank labels of his payments,
  and the files the channels wrote for him (SMS, emails, letters; print-batch manifests are
  rewritten without the address, the merged batch PDF is deleted).
- accounting records: `accounting_years` (10 by default, C. com. L123-22). The books (journal
  entries, ledger lines, amounts, claims) are never deleted or changed by a purge; once this
  period is over too, the creditor's references that tie them to a person (dossier, debtor and
  invoice references) are replaced by `anon-<id>`.

Uploaded portfolio files and their rejected-row files (the console's import page) are deleted
`uploads.retention_days` after they were written: they are the creditor's raw data, needed only
until the bad rows are corrected and sent again.

A purge deletes the files first, then commits the database: a crash in between leaves the debtor
not yet marked anonymised, and the next purge does it again (deleting a missing file is a no-op).
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, func, literal, or_, select, update

from models.agreements import PaymentPlan, Promise
from models.campaigns import Enrolment
from models.dates import add_years
from models.dossiers import Claim, Dossier, DossierEvent
from models.enums import (ActionStatus, CallTaskStatus, CloseReason, DossierStatus, EventKind, PlanStatus,
                          PromiseStatus)
from models.outbox import Action, CallTask
from models.parties import ContactPoint, Creditor, Debtor
from models.payments import Payment
from services.bulk import one_of
from services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

ANONYMISED = "anonymisé"
# Reasons a manager may close a file by hand; paid and escalated come from payments and scenarios.
MANUAL_CLOSE_REASONS = (CloseReason.ABANDONED, CloseReason.RETURNED)
# Timeline data keys that hold ids, codes, dates and amounts only. Any other key (an inbound SMS
# body, a future field) is dropped by the purge: unknown means possibly personal.
SAFE_EVENT_KEYS = frozenset({
    "action_id", "amount", "balance", "campaign_id", "channel", "code", "contact_point_id", "count",
    "date", "enrolment_id", "first_due_on", "import_line", "installments", "kind", "message_sid",
    "missed", "number", "occurrence", "paid_in_full", "payment_id", "plan_id", "promise_id", "reason",
    "received_on", "reverses_entry", "scenario", "sg_event_id", "step", "total", "unapplied", "variant",
    "due_on", "interest_incomplete",
})
# Manifest columns that identify a letter without saying who it went to.
_MANIFEST_KEEP = ("action_id", "letter_reference", "dossier_id", "template", "first_page", "page_count")
_CHUNK = 500


class LifecycleError(ValueError):
    """A lifecycle operation that cannot be done as asked (message in French)."""


class ArchivedDossierError(LifecycleError):
    def __init__(self, dossier_id: int, archived_at: datetime):
        super().__init__(f"le dossier {dossier_id} est archivé depuis le {archived_at:%d/%m/%Y} : "
                         "il est en lecture seule")
        self.dossier_id = dossier_id


def refuse_archived(dossier: Dossier) -> None:
    """Every service that writes on a dossier calls this first."""
    if dossier.archived_at is not None:
        raise ArchivedDossierError(dossier.id, dossier.archived_at)


# ------------------------------------------------------------------------------------------------
# Closing and archiving
# ------------------------------------------------------------------------------------------------


def _stop_contact(s, dossier_ids: Sequence[int], now: datetime, *, end_kind: str) -> dict[str, int]:
    """Take dossiers out of every queue and run: enrolments ended, planned actions and open call
    tasks cancelled. Actions already `sending` are left to reconciliation (never lost)."""
    counts = {"enrolments": 0, "actions": 0, "call_tasks": 0}
    for start in range(0, len(dossier_ids), _CHUNK):
        ids = list(dossier_ids[start:start + _CHUNK])
        counts["enrolments"] += s.execute(
            update(Enrolment).where(one_of(s, Enrolment.dossier_id, ids), Enrolment.active)
            .values(active=False, status="ended", ended_at=now, end_kind=end_kind, next_due_at=None,
                    updated_at=now)
            .execution_options(synchronize_session=False)).rowcount
        counts["actions"] += s.execute(
            update(Action).where(one_of(s, Action.dossier_id, ids), Action.status == ActionStatus.PLANNED)
            .values(status=ActionStatus.CANCELLED, updated_at=now)
            .execution_options(synchronize_session=False)).rowcount
        counts["call_tasks"] += s.execute(
            update(CallTask).where(one_of(s, CallTask.dossier_id, ids),
                                   CallTask.status.in_([CallTaskStatus.OPEN, CallTaskStatus.CLAIMED]))
            .values(status=CallTaskStatus.CANCELLED, leased_by=None, lease_until=None, updated_at=now)
            .execution_options(synchronize_session=False)).rowcount
    return counts


def close_dossier_by_hand(uow_factory: Callable[[], UnitOfWork], key: str, reason: CloseReason | str, *,
                          now: datetime, actor: str | None = None) -> int:
    """A manager closes a file: abandoned (not worth pursuing) or returned to the creditor.
    Contact stops at once; the dossier is archived by the next `archive_closed`. Returns its id."""
    from services.explain import find_dossier

    try:
        reason = CloseReason(reason)
    except ValueError:
        reason = None
    if reason not in MANUAL_CLOSE_REASONS:
        raise LifecycleError("motif de clôture attendu : " + " ou ".join(r.value for r in MANUAL_CLOSE_REASONS))
    with uow_factory() as uow:
        s = uow.session
        try:
            dossier = find_dossier(s, key)
        except LookupError as exc:
            raise LifecycleError(str(exc)) from exc
        refuse_archived(dossier)
        if dossier.status == DossierStatus.CLOSED:
            raise LifecycleError(f"le dossier {dossier.id} est déjà clôturé ({dossier.close_reason})")
        dossier.status, dossier.close_reason, dossier.closed_at, dossier.updated_at = (
            DossierStatus.CLOSED, reason, now, now)
        s.add(DossierEvent(dossier_id=dossier.id, kind=EventKind.CLOSED, occurred_at=now, source="agent",
                           actor=actor, processed_at=now, data={"reason": reason.value}))
        _stop_contact(s, [dossier.id], now, end_kind="closed")
        _end_agreements(s, [dossier.id], now.date())
        uow.commit()
        log.info("dossier %s closed by hand (%s)", dossier.id, reason.value)
        return dossier.id


def _end_agreements(s, dossier_ids: Sequence[int], on: date) -> None:
    for start in range(0, len(dossier_ids), _CHUNK):
        ids = list(dossier_ids[start:start + _CHUNK])
        s.execute(update(Promise).where(one_of(s, Promise.dossier_id, ids), Promise.status == PromiseStatus.OPEN)
                  .values(status=PromiseStatus.CANCELLED, resolved_on=on)
                  .execution_options(synchronize_session=False))
        s.execute(update(PaymentPlan).where(one_of(s, PaymentPlan.dossier_id, ids),
                                            PaymentPlan.status == PlanStatus.ACTIVE)
                  .values(status=PlanStatus.CANCELLED, ended_on=on)
                  .execution_options(synchronize_session=False))


@dataclass
class ArchiveReport:
    archived: list[int] = field(default_factory=list)
    stopped: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"archived": len(self.archived), "dossier_ids": self.archived, **self.stopped}


def archive_closed(uow_factory: Callable[[], UnitOfWork], *, now: datetime, after_days: int = 30,
                   chunk: int = 2000, dry_run: bool = False) -> ArchiveReport:
    """Archive every dossier closed at least `after_days` ago. The delay leaves time for what can
    still reopen a closed file (a bounced cheque reverses a payment in full)."""
    if after_days < 0:
        raise LifecycleError("le délai d'archivage est un nombre de jours positif ou nul")
    cutoff = now - timedelta(days=after_days)
    report = ArchiveReport()
    totals: dict[str, int] = {"enrolments": 0, "actions": 0, "call_tasks": 0}
    after = 0
    while True:
        with uow_factory() as uow:
            s = uow.session
            ids = list(s.scalars(
                select(Dossier.id).where(Dossier.status == DossierStatus.CLOSED, Dossier.archived_at.is_(None),
                                         Dossier.closed_at <= cutoff, Dossier.id > after)
                .order_by(Dossier.id).limit(chunk)))
            if not ids:
                break
            after = ids[-1]
            s.execute(update(Dossier).where(one_of(s, Dossier.id, ids), Dossier.archived_at.is_(None))
                      .values(archived_at=now, updated_at=now).execution_options(synchronize_session=False))
            for k, v in _stop_contact(s, ids, now, end_kind="archived").items():
                totals[k] += v
            _end_agreements(s, ids, now.date())
            report.archived += ids
            if dry_run:
                uow.rollback()
            else:
                uow.commit()
    report.stopped = totals
    log.info("archived %s dossiers (dry_run=%s)", len(report.archived), dry_run)
    return report


@dataclass(frozen=True)
class DossierFound:
    id: int
    reference: str
    creditor: str
    debtor_id: int
    status: str
    close_reason: str | None
    closed_at: datetime | None
    archived_at: datetime | None


def search_dossiers(uow_factory: Callable[[], UnitOfWork], text: str, *, limit: int = 50) -> list[DossierFound]:
    """Managers find a dossier, archived or not, by its reference, the debtor's reference or name."""
    text = (text or "").strip()
    if not text:
        raise LifecycleError("texte de recherche vide")
    like = f"%{text.lower()}%"
    with uow_factory() as uow:
        s = uow.session
        rows = s.execute(
            select(Dossier.id, Dossier.external_ref, Creditor.name, Dossier.debtor_id, Dossier.status,
                   Dossier.close_reason, Dossier.closed_at, Dossier.archived_at)
            .join(Creditor, Creditor.id == Dossier.creditor_id)
            .join(Debtor, Debtor.id == Dossier.debtor_id)
            .where(or_(func.lower(Dossier.external_ref).like(like), func.lower(Debtor.external_ref).like(like),
                       func.lower(Debtor.last_name).like(like), func.lower(Debtor.company_name).like(like)))
            .order_by(Dossier.id).limit(limit)).all()
    return [DossierFound(r[0], r[1], r[2], r[3], str(r[4]), str(r[5]) if r[5] else None, r[6], r[7]) for r in rows]


# ------------------------------------------------------------------------------------------------
# Purge
# ------------------------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    as_of: date
    dry_run: bool
    debtors: list[int] = field(default_factory=list)  # anonymised
    dossiers: list[int] = field(default_factory=list)  # of those debtors
    contact_points: int = 0
    events: int = 0
    payment_labels: int = 0
    actions: int = 0  # outbox rows whose rendered files were removed
    files_deleted: list[str] = field(default_factory=list)
    manifests_rewritten: list[str] = field(default_factory=list)
    references_cleared: list[int] = field(default_factory=list)  # dossiers past the accounting period
    uploads_deleted: list[str] = field(default_factory=list)  # portfolio uploads and their rejected rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(), "dry_run": self.dry_run,
            "debtors_anonymised": len(self.debtors), "debtor_ids": self.debtors,
            "dossiers": len(self.dossiers), "dossier_ids": self.dossiers,
            "contact_points": self.contact_points, "events_scrubbed": self.events,
            "payment_labels": self.payment_labels, "actions": self.actions,
            "files_deleted": len(self.files_deleted), "manifests_rewritten": len(self.manifests_rewritten),
            "references_cleared": len(self.references_cleared),
            "references_cleared_dossier_ids": self.references_cleared,
            "uploads_deleted": len(self.uploads_deleted),
        }


def outbox_roots(settings) -> list[Path]:
    """Where the channels write files: the outbox, and the letter spool when it lies elsewhere."""
    roots = [Path(settings.outbox_dir)]
    spool = getattr(getattr(settings, "channels", None), "letter_spool_dir", None)
    if spool is not None:
        spool, base = Path(spool).resolve(), roots[0].resolve()
        if base != spool and base not in spool.parents:
            roots.append(Path(spool))
    return roots


def _past(closed_at: datetime | None, years: int, as_of: date) -> bool:
    return closed_at is not None and add_years(closed_at.date(), years) <= as_of


def _expired_debtors(s, as_of: date) -> list[int]:
    """Debtors whose every dossier is archived and past its mandate's period, and who hold data
    not yet anonymised (a debtor placed again after a purge was updated since: purged again)."""
    rows = s.execute(
        select(Dossier.debtor_id, Dossier.archived_at, Dossier.closed_at, Creditor.retention_years)
        .join(Debtor, Debtor.id == Dossier.debtor_id)
        .join(Creditor, Creditor.id == Dossier.creditor_id)
        .where(or_(Debtor.anonymised_at.is_(None), Debtor.updated_at > Debtor.anonymised_at))
        .where(Dossier.debtor_id.in_(select(Dossier.debtor_id).where(Dossier.archived_at.is_not(None))))
    ).all()
    verdict: dict[int, bool] = {}
    for debtor_id, archived_at, closed_at, years in rows:
        ok = archived_at is not None and _past(closed_at, years, as_of)
        verdict[debtor_id] = verdict.get(debtor_id, True) and ok
    return sorted(d for d, ok in verdict.items() if ok)


def _scrub(data: Any) -> Any:
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if k in SAFE_EVENT_KEYS}


def _outbox_files(roots: Iterable[Path], action_ids: set[int]) -> tuple[list[Path], list[Path]]:
    """(files named after one of the actions, print-batch manifests) under the roots."""
    files, manifests = [], []
    seen: set[Path] = set()
    for root in roots:
        root = Path(root)
        if not root.is_dir() or root.resolve() in seen:
            continue
        seen.add(root.resolve())
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                path = Path(dirpath) / name
                stem = name.split(".", 1)[0]
                if stem.isdigit() and int(stem) in action_ids:
                    files.append(path)
                elif name.endswith(".csv") and path.parent.parent.name == "batches":
                    manifests.append(path)
    return sorted(files), sorted(manifests)


def _rewrite_manifest(path: Path, action_ids: set[int], dry_run: bool) -> bool:
    """Blank the address of the purged letters; the merged batch PDF, which prints them, goes."""
    from channels.files import write_atomically

    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
        columns = list(rows[0].keys()) if rows else []
    hit = [r for r in rows if (r.get("action_id") or "").isdigit() and int(r["action_id"]) in action_ids]
    if not hit:
        return False
    if dry_run:
        return True
    for row in hit:
        for column in columns:
            if column not in _MANIFEST_KEEP:
                row[column] = ""
    text = io.StringIO()
    out = csv.DictWriter(text, fieldnames=columns, delimiter=";", lineterminator="\r\n")
    out.writeheader()
    out.writerows(rows)
    write_atomically(path, text.getvalue().encode("utf-8-sig"))
    path.with_suffix(".pdf").unlink(missing_ok=True)
    return True


def purge(
    uow_factory: Callable[[], UnitOfWork],
    *,
    as_of: date,
    now: datetime,
    accounting_years: int = 10,
    outbox_roots: Sequence[Path] = (),
    uploads: UploadsRetention | None = None,
    dry_run: bool = False,
) -> PurgeReport:
    """Anonymise what is past its retention period on `as_of` (see the module docstring)."""
    if accounting_years < 1:
        raise LifecycleError("la durée de conservation comptable est d'au moins un an")
    report = PurgeReport(as_of=as_of, dry_run=dry_run)
    with uow_factory() as uow:
        debtors = _expired_debtors(uow.session, as_of)
    for start in range(0, len(debtors), _CHUNK):
        _purge_debtors(uow_factory, debtors[start:start + _CHUNK], now, outbox_roots, dry_run, report)
    _clear_references(uow_factory, as_of, now, accounting_years, dry_run, report)
    if uploads is not None:
        _purge_uploads(uploads, as_of, dry_run, report)
    log.info("purge as of %s (dry_run=%s): %s debtors, %s dossiers, %s files, %s references cleared",
             as_of, dry_run, len(report.debtors), len(report.dossiers), len(report.files_deleted),
             len(report.references_cleared))
    return report


@dataclass(frozen=True)
class UploadsRetention:
    folder: Path
    retention_days: int


def _purge_uploads(uploads: UploadsRetention, as_of: date, dry_run: bool, report: PurgeReport) -> None:
    """Files of the uploads folder last written `retention_days` or more before `as_of`."""
    if not uploads.folder.is_dir():
        return
    limit = as_of - timedelta(days=uploads.retention_days)
    for entry in sorted(os.scandir(uploads.folder), key=lambda e: e.name):
        if not entry.is_file() or date.fromtimestamp(entry.stat().st_mtime) > limit:
            continue
        report.uploads_deleted.append(entry.path)
        if not dry_run:
            Path(entry.path).unlink(missing_ok=True)


def _purge_debtors(uow_factory, debtor_ids: list[int], now: datetime, roots: Sequence[Path], dry_run: bool,
                   report: PurgeReport) -> None:
    with uow_factory() as uow:
        s = uow.session
        dossier_ids = list(s.scalars(select(Dossier.id).where(one_of(s, Dossier.debtor_id, debtor_ids))
                                     .order_by(Dossier.id)))
        action_ids = set(s.scalars(select(Action.id).where(one_of(s, Action.debtor_id, debtor_ids))))
        # Files first (see the module docstring).
        files, manifests = _outbox_files(roots, action_ids)
        for path in manifests:
            if _rewrite_manifest(path, action_ids, dry_run):
                report.manifests_rewritten.append(str(path))
        for path in files:
            if not dry_run:
                path.unlink(missing_ok=True)
            report.files_deleted.append(str(path))

        report.contact_points += s.execute(
            update(ContactPoint).where(one_of(s, ContactPoint.debtor_id, debtor_ids))
            .values(value=_anon("anon:", ContactPoint.id), valid=False, invalid_reason=ANONYMISED, invalid_since=func.coalesce(ContactPoint.invalid_since, now),
                    updated_at=now)
            .execution_options(synchronize_session=False)).rowcount
        s.execute(
            update(Debtor).where(one_of(s, Debtor.id, debtor_ids))
            .values(civility=None, first_name=None, last_name=None, company_name=None, siren=None, siret=None,
                    birth_date=None, anonymised_at=now, updated_at=now)
            .execution_options(synchronize_session=False))
        # The import's row digest is computed from the debtor's name, phones and address.
        if dossier_ids:
            s.execute(update(Claim).where(one_of(s, Claim.dossier_id, dossier_ids), Claim.import_digest.is_not(None))
                      .values(import_digest=None).execution_options(synchronize_session=False))
        events = s.execute(select(DossierEvent.id, DossierEvent.data)
                           .where(one_of(s, DossierEvent.dossier_id, dossier_ids))).all()
        changes = [{"id": i, "data": _scrub(d)} for i, d in events if _scrub(d) != (d or {})]
        if changes:
            s.execute(update(DossierEvent), changes)
        report.events += len(changes)
        report.payment_labels += s.execute(
            update(Payment).where(one_of(s, Payment.dossier_id, dossier_ids), Payment.label.is_not(None))
            .values(label=None).execution_options(synchronize_session=False)).rowcount
        report.actions += len(action_ids)
        report.debtors += debtor_ids
        report.dossiers += dossier_ids
        if dry_run:
            uow.rollback()
        else:
            uow.commit()


def _clear_references(uow_factory, as_of: date, now: datetime, accounting_years: int, dry_run: bool,
                      report: PurgeReport) -> None:
    """Past the accounting period (and the mandate's), the books stay but no longer name the
    creditor's references."""
    with uow_factory() as uow:
        s = uow.session
        rows = s.execute(
            select(Dossier.id, Dossier.debtor_id, Dossier.closed_at, Creditor.retention_years)
            .join(Creditor, Creditor.id == Dossier.creditor_id)
            .where(Dossier.archived_at.is_not(None), ~Dossier.external_ref.like("anon-%"))).all()
        ids = [r.id for r in rows if _past(r.closed_at, max(accounting_years, r.retention_years), as_of)]
        chosen = set(ids)
        debtor_ids = sorted({r.debtor_id for r in rows if r.id in chosen})
        for start in range(0, len(ids), _CHUNK):
            part = ids[start:start + _CHUNK]
            s.execute(update(Dossier).where(one_of(s, Dossier.id, part))
                      .values(external_ref=_anon("anon-", Dossier.id), updated_at=now)
                      .execution_options(synchronize_session=False))
            s.execute(update(Claim).where(one_of(s, Claim.dossier_id, part))
                      .values(invoice_ref=_anon("anon-", Claim.id), updated_at=now)
                      .execution_options(synchronize_session=False))
        s.flush()
        # A debtor's reference goes when none of his dossiers still needs it.
        for start in range(0, len(debtor_ids), _CHUNK):
            part = debtor_ids[start:start + _CHUNK]
            still = select(Dossier.debtor_id).where(one_of(s, Dossier.debtor_id, part),
                                                    ~Dossier.external_ref.like("anon-%"))
            s.execute(update(Debtor).where(one_of(s, Debtor.id, part), Debtor.id.notin_(still))
                      # updated_at untouched: it tells the purge when a debtor was placed again.
                      .values(external_ref=_anon("anon-", Debtor.id))
                      .execution_options(synchronize_session=False))
        report.references_cleared += ids
        if dry_run:
            uow.rollback()
        else:
            uow.commit()


def _anon(prefix: str, column):
    """`prefix || id` on both databases: unique, and says what it replaced."""
    return literal(prefix, String()) + cast(column, String())
