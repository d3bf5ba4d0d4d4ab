"""What the console shows: the dossier page, the search, the agent's own tasks and the
manager's dashboard figures. Read-only; every function takes a session and plain values and
returns plain dataclasses (the templates never touch the ORM). Access is checked here, once:
`DossierForbidden` when the user may not see the dossier's creditor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select

from models.agreements import PaymentPlan, Promise
from models.campaigns import Campaign, Enrolment
from models.dossiers import Dossier, DossierEvent
from models.enums import CallTaskStatus, ContactKind, DebtorKind, DossierStatus, PlanStatus, PromiseStatus
from models.imports import ImportRun
from models.outbox import Action, CallTask
from models.parties import ContactPoint, Creditor, Debtor
from models.phones import PhoneError, normalise_phone
from services.accounts import Principal, allowed
from services.balances import claim_balances, totals_of

SEARCH_LIMIT = 50


class DossierForbidden(Exception):
    """The dossier belongs to a creditor the user is not assigned to."""


@dataclass(frozen=True)
class ContactView:
    id: int
    kind: str
    value: str
    line_type: str | None
    valid: bool
    invalid_reason: str | None
    opt_outs: list[str]


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # event / action / call
    label: str  # an EventKind, a channel, "call"
    detail: dict[str, Any]
    actor: str | None = None


@dataclass
class DossierView:
    id: int
    reference: str
    status: str
    suspension: str | None
    creditor: str
    creditor_id: int
    debtor_name: str
    debtor_kind: str
    debtor_ref: str
    contacts: list[ContactView]
    claims: list[Any]  # services.balances.ClaimBalanceToDay
    totals: Any  # services.balances.DossierTotals
    as_of: date
    timeline: list[TimelineItem]
    promise: dict | None
    plan: dict | None
    enrolment: dict | None
    open_tasks: list[dict] = field(default_factory=list)


def dossier_view(session, dossier_id: int, principal: Principal, *, now: datetime, as_of: date, rates) -> DossierView:
    dossier = session.get(Dossier, dossier_id)
    if dossier is None:
        raise LookupError(f"dossier introuvable : {dossier_id}")
    if not allowed(principal, dossier.creditor_id):
        raise DossierForbidden()
    creditor = session.get(Creditor, dossier.creditor_id)
    debtor = session.get(Debtor, dossier.debtor_id)
    contacts = [
        ContactView(c.id, str(c.kind), c.value, str(c.line_type) if c.line_type else None, c.valid, c.invalid_reason,
                    [name for name, at in (("SMS", c.opt_out_sms_at), ("appels", c.opt_out_call_at),
                                           ("e-mails", c.opt_out_email_at)) if at is not None])
        for c in session.scalars(select(ContactPoint).where(ContactPoint.debtor_id == debtor.id)
                                 .order_by(ContactPoint.kind, ContactPoint.rank, ContactPoint.id))
    ]
    claims = claim_balances(session, [dossier.id], as_of=as_of, rates=rates,
                            private_creditor_by_dossier={dossier.id: creditor.is_private_person}).get(dossier.id, [])
    promise = session.scalar(select(Promise).where(Promise.dossier_id == dossier.id,
                                                   Promise.status == PromiseStatus.OPEN))
    plan = session.scalar(select(PaymentPlan).where(PaymentPlan.dossier_id == dossier.id,
                                                    PaymentPlan.status == PlanStatus.ACTIVE))
    enrolment = session.scalar(select(Enrolment).where(Enrolment.dossier_id == dossier.id, Enrolment.active))
    enrolment_view = None
    if enrolment is not None:
        campaign = session.get(Campaign, enrolment.campaign_id)
        enrolment_view = {"campaign": campaign.name, "campaign_status": str(campaign.status),
                          "scenario": enrolment.scenario, "status": enrolment.status, "variant": enrolment.variant,
                          "next_due_at": enrolment.next_due_at}
    tasks = [{"id": t.id, "kind": t.kind, "status": str(t.status), "due_at": t.due_at, "leased_by": t.leased_by,
              "priority": t.priority}
             for t in session.scalars(select(CallTask).where(
                 CallTask.dossier_id == dossier.id,
                 CallTask.status.in_([CallTaskStatus.OPEN, CallTaskStatus.CLAIMED])).order_by(CallTask.due_at))]
    return DossierView(
        id=dossier.id, reference=dossier.external_ref, status=str(dossier.status),
        suspension=str(dossier.suspension) if dossier.suspension else None,
        creditor=creditor.name, creditor_id=creditor.id, debtor_name=debtor.display_name,
        debtor_kind=str(debtor.kind), debtor_ref=debtor.external_ref, contacts=contacts, claims=claims,
        totals=totals_of(dossier.id, claims), as_of=as_of, timeline=_timeline(session, dossier.id),
        promise={"amount": promise.amount, "due_on": promise.due_on, "paid": promise.paid} if promise else None,
        plan=({"total": plan.total, "agreed_on": plan.agreed_on,
               "installments": [(i.number, i.due_on, i.amount, i.paid) for i in plan.installments]}
              if plan else None),
        enrolment=enrolment_view, open_tasks=tasks,
    )


def _timeline(session, dossier_id: int) -> list[TimelineItem]:
    items = [TimelineItem(e.occurred_at, "event", str(e.kind), e.data or {}, e.actor)
             for e in session.scalars(select(DossierEvent).where(DossierEvent.dossier_id == dossier_id))]
    items += [TimelineItem(a.sent_at or a.not_before, "action", str(a.channel),
                           {"template": a.template, "status": str(a.status), "step": a.step})
              for a in session.scalars(select(Action).where(Action.dossier_id == dossier_id))]
    return sorted(items, key=lambda i: i.at, reverse=True)


@dataclass(frozen=True)
class SearchHit:
    id: int
    reference: str
    debtor_name: str
    creditor: str
    status: str


def search_dossiers(session, query: str, principal: Principal) -> list[SearchHit]:
    """By dossier reference (exact or prefix), debtor name, phone (any French writing) or email."""
    q = " ".join(query.split())
    if len(q) < 2:
        return []
    like = f"%{q.lower()}%"
    conditions = [Dossier.external_ref == q, Dossier.external_ref.like(f"{q}%"),
                  func.lower(Debtor.last_name).like(like), func.lower(Debtor.company_name).like(like),
                  func.lower(Debtor.first_name + " " + Debtor.last_name).like(like)]
    contact_values = {q.lower()}
    if sum(ch.isdigit() for ch in q) >= 6:
        try:
            contact_values.add(normalise_phone(q).e164)
        except PhoneError:
            pass
    debtors_by_contact = select(ContactPoint.debtor_id).where(
        ContactPoint.kind.in_([ContactKind.PHONE, ContactKind.EMAIL]),
        ContactPoint.value.in_(sorted(contact_values)))
    conditions.append(Dossier.debtor_id.in_(debtors_by_contact))
    stmt = (select(Dossier.id, Dossier.external_ref, Dossier.status, Creditor.name, Debtor)
            .join(Debtor, Debtor.id == Dossier.debtor_id).join(Creditor, Creditor.id == Dossier.creditor_id)
            .where(or_(*conditions)).order_by(Dossier.external_ref).limit(SEARCH_LIMIT))
    if principal.creditor_ids is not None:
        stmt = stmt.where(Dossier.creditor_id.in_(sorted(principal.creditor_ids)))
    return [SearchHit(i, ref, debtor.display_name, cname, str(status))
            for i, ref, status, cname, debtor in session.execute(stmt)]


def my_tasks(session, principal: Principal) -> list[dict]:
    rows = session.execute(
        select(CallTask.id, CallTask.dossier_id, CallTask.kind, CallTask.lease_until, Dossier.external_ref)
        .join(Dossier, Dossier.id == CallTask.dossier_id)
        .where(CallTask.status == CallTaskStatus.CLAIMED, CallTask.leased_by == principal.name)
        .order_by(CallTask.lease_until)).all()
    return [dict(r._mapping) for r in rows]


def queue_counts(session, now: datetime) -> dict[str, int]:
    open_due = session.scalar(select(func.count()).select_from(CallTask).where(
        CallTask.status == CallTaskStatus.OPEN, CallTask.due_at <= now))
    claimed = session.scalar(select(func.count()).select_from(CallTask).where(
        CallTask.status == CallTaskStatus.CLAIMED))
    return {"due": open_due, "claimed": claimed}


def dossier_counts(session) -> dict[str, int]:
    rows = session.execute(select(Dossier.status, func.count()).group_by(Dossier.status)).all()
    counts = {str(s): 0 for s in DossierStatus}
    counts.update({str(s): n for s, n in rows})
    return counts


def recent_imports(session, limit: int = 10) -> list[dict]:
    rows = session.execute(select(ImportRun, Creditor.name).join(Creditor, Creditor.id == ImportRun.creditor_id)
                           .order_by(ImportRun.id.desc()).limit(limit)).all()
    return [{"id": r.id, "creditor": name, "filename": r.filename, "started_at": r.started_at, "rows": r.rows,
             "created": r.created, "updated": r.updated, "unchanged": r.unchanged, "rejected": r.rejected,
             "has_rejects": bool(r.rejected_path)} for r, name in rows]


def creditor_names(session) -> list[str]:
    return list(session.scalars(select(Creditor.name).order_by(Creditor.name)))


def script_context(session, dossier_id: int, *, as_of: date, office, rates) -> dict[str, Any]:
    """The render context of a call script for this dossier, shaped like the outbox's contexts
    (services/rendering.py) so that the same templates/call/ scripts render here."""
    from services.rendering import _claim_rows, _display_name, _office_dict, _open_promises, _plans, _totals
    from models.references import payment_reference

    d = session.execute(
        select(Dossier.id, Dossier.external_ref, Dossier.first_letter_ref, Dossier.first_letter_on,
               Creditor.name.label("creditor_name"), Creditor.legal_name, Creditor.is_private_person,
               Debtor.kind, Debtor.civility, Debtor.first_name, Debtor.last_name, Debtor.company_name)
        .join(Creditor, Creditor.id == Dossier.creditor_id).join(Debtor, Debtor.id == Dossier.debtor_id)
        .where(Dossier.id == dossier_id)).one()
    claims = _claim_rows(session, [dossier_id], as_of=as_of, rates=rates,
                         private={dossier_id: bool(d.is_private_person)}).get(dossier_id, [])
    context: dict[str, Any] = {
        "office": _office_dict(office),
        "creditor": {"name": d.creditor_name, "legal_name": d.legal_name, "address_lines": []},
        "debtor": {"display_name": _display_name(d.kind, d.civility, d.first_name, d.last_name, d.company_name),
                   "civility": d.civility, "last_name": d.last_name, "company_name": d.company_name,
                   "is_company": d.kind == DebtorKind.COMPANY},
        "dossier": {"id": d.id, "reference": d.external_ref, "payment_reference": payment_reference(d.id),
                    "first_letter_ref": d.first_letter_ref, "first_letter_on": d.first_letter_on},
        "claims": [{k: v for k, v in c.items() if not k.startswith("_")} for c in claims],
        "totals": _totals(claims),
        "as_of": as_of,
        "step": {"scenario": None, "name": None},
    }
    promises = _open_promises(session, [dossier_id])
    installments, plans = _plans(session, [dossier_id], as_of)
    if dossier_id in promises:
        context["promise"] = dict(promises[dossier_id])
    if dossier_id in installments:
        context["installment"] = dict(installments[dossier_id])
    if dossier_id in plans:
        context["plan"] = dict(plans[dossier_id])
    return context

