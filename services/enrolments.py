"""Enrolments between the database and the scenario engine: rows <-> `EnrolmentState`, and the
frozen snapshots the planner works on, loaded set-based (a few queries per chunk, not per dossier).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select

from models.agreements import Installment, PaymentPlan, Promise
from models.dossiers import Claim, Dossier, DossierEvent
from models.enums import (
    ActionStatus,
    Channel,
    ContactKind,
    EventKind,
    LineType,
    PlanStatus,
    PromiseStatus,
)
from models.outbox import Action
from models.parties import ContactPoint, Debtor
from scenarios.snapshots import (
    ContactHistory,
    ContactSnapshot,
    DossierSnapshot,
    EnrolmentSnapshot,
    EnrolmentState,
    EnrolmentStatus,
    InstallmentSnapshot,
    Origin,
    PromiseSnapshot,
)
from services.balances import outstanding
from services.bulk import one_of

HISTORY_DAYS = 7
_CONTACT_CHANNELS = (Channel.SMS, Channel.EMAIL, Channel.LETTER)
_LIVE = (ActionStatus.PLANNED, ActionStatus.SENDING, ActionStatus.SENT, ActionStatus.DELIVERED, ActionStatus.REVIEW)


def state_of(row) -> EnrolmentState:
    origin = None
    if row.origin:
        o = row.origin
        origin = Origin(o["scenario"], o.get("step"), o["cycle"], date.fromisoformat(o["anchor_on"]),
                        o.get("occurrence", 1))
    return EnrolmentState(
        scenario=row.scenario, anchor_on=row.anchor_on, next_step=row.next_step,
        occurrence=row.occurrence, cycle=row.cycle, status=EnrolmentStatus(row.status),
        paused_until=row.paused_until, origin=origin, variant=row.variant,
        cycles=tuple((s, c) for s, c in (row.cycles or [])),
    )


def state_columns(state: EnrolmentState) -> dict:
    origin = None
    if state.origin:
        o = state.origin
        origin = {"scenario": o.scenario, "step": o.step, "cycle": o.cycle,
                  "anchor_on": o.anchor_on.isoformat(), "occurrence": o.occurrence}
    return {
        "scenario": state.scenario, "anchor_on": state.anchor_on, "next_step": state.next_step,
        "occurrence": state.occurrence, "cycle": state.cycle, "status": str(state.status),
        "paused_until": state.paused_until, "origin": origin,
        "cycles": [[s, c] for s, c in state.cycles],
    }


def load_snapshots(session, enrolments: list, *, now: datetime) -> tuple[list[EnrolmentSnapshot], dict[int, ContactHistory]]:
    """Snapshots of the given enrolment rows and the contact history of their debtors."""
    if not enrolments:
        return [], {}
    dossier_ids = [e.dossier_id for e in enrolments]
    debtor_ids = list({e.debtor_id for e in enrolments})

    dossiers = {
        r.id: r for r in session.execute(
            select(Dossier.id, Dossier.debtor_id, Dossier.creditor_id, Dossier.status, Dossier.suspension)
            .where(one_of(session, Dossier.id, dossier_ids))
        )
    }
    debtors = {
        r.id: r for r in session.execute(
            select(Debtor.id, Debtor.timezone, Debtor.holiday_region, Debtor.deceased)
            .where(one_of(session, Debtor.id, debtor_ids))
        )
    }
    balances = outstanding(session, dossier_ids)
    natures: dict[int, set] = defaultdict(set)
    expiry: dict[int, date] = {}
    owed = (Claim.principal - Claim.principal_paid + Claim.costs + Claim.indemnity - Claim.costs_paid) > 0
    for did, nature, expires in session.execute(
        select(Claim.dossier_id, Claim.nature, Claim.prescription_expires_on)
        .where(one_of(session, Claim.dossier_id, dossier_ids), owed)
    ):
        natures[did].add(nature)
        if did not in expiry or expires > expiry[did]:
            expiry[did] = expires
    contacts = _contacts(session, debtor_ids)

    promises = {
        r.dossier_id: PromiseSnapshot(r.amount, r.due_on, r.paid)
        for r in session.execute(
            select(Promise.dossier_id, Promise.amount, Promise.due_on, Promise.paid)
            .where(one_of(session, Promise.dossier_id, dossier_ids), Promise.status == PromiseStatus.OPEN)
        )
    }
    installments: dict[int, list[InstallmentSnapshot]] = defaultdict(list)
    for r in session.execute(
        select(PaymentPlan.dossier_id, Installment.number, Installment.due_on, Installment.amount, Installment.paid)
        .join(Installment, Installment.plan_id == PaymentPlan.id)
        .where(one_of(session, PaymentPlan.dossier_id, dossier_ids), PaymentPlan.status == PlanStatus.ACTIVE)
        .order_by(PaymentPlan.dossier_id, Installment.number)
    ):
        installments[r.dossier_id].append(InstallmentSnapshot(r.number, r.due_on, r.amount, r.paid))

    snaps = []
    for e in enrolments:
        d = dossiers[e.dossier_id]
        debtor = debtors[d.debtor_id]
        balance = balances.get(e.dossier_id, Decimal("0.00"))
        dossier = DossierSnapshot(
            dossier_id=d.id, debtor_id=d.debtor_id, creditor_id=d.creditor_id, status=d.status,
            balance=balance, natures=frozenset(natures.get(d.id, ())),
            contacts=contacts.get(d.debtor_id, ContactSnapshot()), suspension=d.suspension,
            prescription_expires_on=expiry.get(d.id), deceased=debtor.deceased,
            timezone=debtor.timezone, holiday_subdivision=debtor.holiday_region,
        )
        snaps.append(EnrolmentSnapshot(e.id, dossier, state_of(e), promises.get(e.dossier_id),
                                       tuple(installments.get(e.dossier_id, ()))))
    return snaps, load_histories(session, debtor_ids, now=now)


def _contacts(session, debtor_ids) -> dict[int, ContactSnapshot]:
    """The best valid point per channel (lowest rank, then oldest) and the channel opt-outs."""
    best: dict[int, dict] = defaultdict(dict)
    opted: dict[int, set] = defaultdict(set)
    rows = session.execute(
        select(ContactPoint.id, ContactPoint.debtor_id, ContactPoint.kind, ContactPoint.line_type,
               ContactPoint.valid, ContactPoint.opt_out_sms_at, ContactPoint.opt_out_call_at,
               ContactPoint.opt_out_email_at)
        .where(one_of(session, ContactPoint.debtor_id, debtor_ids))
        .order_by(ContactPoint.debtor_id, ContactPoint.rank, ContactPoint.id)
    )
    for r in rows:
        b = best[r.debtor_id]
        if r.kind == ContactKind.PHONE:
            if r.opt_out_sms_at and r.line_type == LineType.MOBILE:
                opted[r.debtor_id].add(Channel.SMS)
            if r.opt_out_call_at:
                opted[r.debtor_id].add(Channel.CALL)
            if not r.valid:
                continue
            if r.line_type == LineType.MOBILE and not r.opt_out_sms_at:
                b.setdefault("mobile", r.id)
            if not r.opt_out_call_at:
                b.setdefault("phone", r.id)
        elif r.kind == ContactKind.EMAIL:
            if r.opt_out_email_at:
                opted[r.debtor_id].add(Channel.EMAIL)
            elif r.valid:
                b.setdefault("email", r.id)
        elif r.valid:
            b.setdefault("address", r.id)
    out = {}
    for debtor_id in set(best) | set(opted):
        b = best.get(debtor_id, {})
        # A channel counts as opted out only when no other point of it remains usable.
        blocked = frozenset(c for c in opted.get(debtor_id, ()) if {
            Channel.SMS: "mobile", Channel.CALL: "phone", Channel.EMAIL: "email"}[c] not in b)
        out[debtor_id] = ContactSnapshot(b.get("mobile"), b.get("phone"), b.get("email"), b.get("address"), blocked)
    return out


def load_histories(session, debtor_ids, *, now: datetime) -> dict[int, ContactHistory]:
    """Contacts (messages sent or planned, conversations) and call attempts in the policy window,
    all dossiers of each debtor together. Planned actions count: they will be sent."""
    since = now - timedelta(days=HISTORY_DAYS)
    until = now + timedelta(days=HISTORY_DAYS)
    contacts: dict[int, list] = defaultdict(list)
    calls: dict[int, list] = defaultdict(list)
    for debtor_id, channel, status, at in session.execute(
        select(Action.debtor_id, Action.channel, Action.status, func.coalesce(Action.sent_at, Action.not_before))
        .where(one_of(session, Action.debtor_id, debtor_ids), Action.status.in_(_LIVE),
               Action.not_before >= since, Action.not_before < until)
    ):
        if channel != Channel.CALL:
            contacts[debtor_id].append(at)
        elif status == ActionStatus.PLANNED:
            # A call handed to agents is counted by its attempts (CALL_ATTEMPT events) instead.
            calls[debtor_id].append(at)
    last_rpc: dict[int, datetime] = {}
    for debtor_id, kind, at in session.execute(
        select(Dossier.debtor_id, DossierEvent.kind, DossierEvent.occurred_at)
        .join(Dossier, Dossier.id == DossierEvent.dossier_id)
        .where(and_(one_of(session, Dossier.debtor_id, debtor_ids),
                    DossierEvent.kind.in_([EventKind.RIGHT_PARTY_CONTACT, EventKind.CALL_ATTEMPT]),
                    DossierEvent.occurred_at >= since))
    ):
        if kind == EventKind.RIGHT_PARTY_CONTACT:
            contacts[debtor_id].append(at)
            if debtor_id not in last_rpc or at > last_rpc[debtor_id]:
                last_rpc[debtor_id] = at
        calls[debtor_id].append(at)
    return {
        d: ContactHistory(tuple(sorted(contacts.get(d, ()))), tuple(sorted(calls.get(d, ()))), last_rpc.get(d))
        for d in set(contacts) | set(calls) | set(last_rpc)
    }
