"""The agents' call queue: claim the next call task with a lease, record the call's outcome.

`claim_next` hands one task to one agent, atomically:
- PostgreSQL: one round trip, the `relance_claim_call_task` function (migration 0010); it reads
  candidate rows `FOR UPDATE SKIP LOCKED`, so fifty agents claiming at once each lock a different
  row and nobody waits on another's transaction;
- SQLite: the claim runs in a `BEGIN IMMEDIATE` transaction (the database's single writer lock,
  held for a few milliseconds), so two claims never interleave.
Queue order: priority (higher first), then the calling window (a task whose window is open now
before one whose window has passed; among open windows, the one closing soonest first), then age
(oldest due first). Only tasks already due
(`due_at <= now`: the planner put them within the contact policy's hours) are handed out. A task
whose lease expired goes back to the queue with its place. A dossier suspended or closed since the
task was planned, or a number the debtor opted out of calls on, cancels the task instead.

`record_outcome` writes the call's outcome as dossier events through the existing services
(`agreements.record_promise` / `agree_plan`), then lets the scenario react at once
(`events.process_events` on that dossier): a promise pauses the scenario until its date, a plan
switches to plan follow-up, a dispute suspends the dossier, a callback creates a call task.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from models.accounts import AuditEntry
from models.campaigns import Enrolment
from models.dossiers import Dossier, DossierEvent
from models.enums import CallTaskStatus, ContactKind, DossierStatus, EventKind
from models.outbox import CallTask
from models.parties import ContactPoint
from models.types import UTCDateTime
from services.accounts import Principal, audit
from services.agreements import MONTHLY, AgreementError, agree_plan, record_promise

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 3
RETRY_AFTER = {"no_answer": timedelta(hours=3), "busy": timedelta(minutes=30)}


class Outcome(StrEnum):
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"
    PROMISE = "promise"
    PLAN = "plan"
    DISPUTE = "dispute"
    CALLBACK = "callback"
    REFUSAL = "refusal"


RIGHT_PARTY = {Outcome.PROMISE, Outcome.PLAN, Outcome.DISPUTE, Outcome.CALLBACK, Outcome.REFUSAL}


class CallQueueError(ValueError):
    """An outcome that cannot be recorded as given (message in French)."""


@dataclass(frozen=True)
class ClaimedTask:
    id: int
    dossier_id: int
    kind: str
    script: str | None
    lease_until: datetime


@dataclass(frozen=True)
class OutcomeInput:
    kind: Outcome
    amount: Decimal | None = None  # promise
    due_on: date | None = None  # promise
    count: int | None = None  # plan
    first_due_on: date | None = None  # plan
    frequency: str | int = MONTHLY  # plan: "monthly" or a number of days
    reason: str | None = None  # dispute, refusal, wrong number (free text, kept in the event)
    callback_at: datetime | None = None  # callback (aware)


# --- claiming ------------------------------------------------------------------------------------


def claim_next(uow, agent: Principal, now: datetime, *, lease: timedelta = DEFAULT_LEASE) -> ClaimedTask | None:
    """Lease the next task to `agent` and commit; None when the queue is empty for them.
    Core statements, not ORM objects: a claim is on every agent's critical path. On PostgreSQL the
    whole claim is one call of the `relance_claim_call_task` function (migration 0010), which does
    the same steps as below on the server."""
    s = uow.session
    until = now + lease
    if s.get_bind().dialect.name == "postgresql":
        return _claim_on_server(uow, agent, now, until)
    while True:
        # Take SQLite's write lock first: a deferred transaction that reads then writes could
        # be refused (SQLITE_BUSY_SNAPSHOT) after another claim committed in between.
        s.connection().exec_driver_sql("BEGIN IMMEDIATE")
        _take_back_expired(s, now)
        task = _pick(s, agent, now)
        if task is None:
            uow.commit()
            return None
        if _no_longer_callable(s, task):
            s.execute(update(CallTask).where(CallTask.id == task.id).values(
                status=CallTaskStatus.CANCELLED, outcome="not_callable", leased_by=None, lease_until=None,
                updated_at=now))
            uow.commit()
            continue
        s.execute(update(CallTask).where(CallTask.id == task.id).values(
            status=CallTaskStatus.CLAIMED, leased_by=agent.name, lease_until=until, updated_at=now))
        s.execute(insert(AuditEntry).values(at=now, actor=agent.name, action="call.claim",
                                            target=f"call_task:{task.id}", data={}))
        uow.commit()
        log.info("call task %s claimed by user %s", task.id, agent.id)
        return ClaimedTask(task.id, task.dossier_id, task.kind, task.script, until)


_CLAIM_ON_SERVER = text(
    "select task_id, task_dossier_id, task_kind, task_script, cancelled, taken_back "
    "from relance_claim_call_task(:now, :agent, :until, :creditors)"
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime()),
             bindparam("creditors", type_=ARRAY(BigInteger)))


def _claim_on_server(uow, agent: Principal, now: datetime, until: datetime) -> ClaimedTask | None:
    creditors = None if agent.creditor_ids is None else sorted(agent.creditor_ids)
    row = uow.session.execute(_CLAIM_ON_SERVER, {"now": now, "agent": agent.name, "until": until,
                                                 "creditors": creditors}).one()
    uow.commit()
    if row.taken_back:
        log.info("%s expired call task leases taken back", row.taken_back)
    if row.cancelled:
        log.info("%s call tasks cancelled at claim: dossier or number no longer callable", row.cancelled)
    if row.task_id is None:
        return None
    log.info("call task %s claimed by user %s", row.task_id, agent.id)
    return ClaimedTask(row.task_id, row.task_dossier_id, row.task_kind, row.task_script, until)


_CLAIM_COLUMNS = (CallTask.id, CallTask.dossier_id, CallTask.kind, CallTask.script, CallTask.phone_id)


def _pick(s, agent: Principal, now: datetime):
    """The next task in queue order (a row of _CLAIM_COLUMNS), under SQLite's write lock.

    Each query below is one seek in the partial index (priority DESC, window_end, due_at) of open
    tasks, so a claim costs the same with a thousand tasks or a million: per priority level, from
    the highest, the task whose window is open and closes soonest, else one without a window,
    else the one whose window passed first. Priority levels are found by a loose index scan."""
    def scoped(q):
        if agent.creditor_ids is None:
            return q
        return q.where(CallTask.dossier_id.in_(
            select(Dossier.id).where(Dossier.creditor_id.in_(sorted(agent.creditor_ids)))))

    due = scoped(select(*_CLAIM_COLUMNS).where(CallTask.status == CallTaskStatus.OPEN, CallTask.due_at <= now))
    for priority in _priority_levels(s):
        at = due.where(CallTask.priority == priority)
        for q in (at.where(CallTask.window_end > now).order_by(CallTask.window_end, CallTask.due_at),
                  at.where(CallTask.window_end.is_(None)).order_by(CallTask.due_at),
                  at.where(CallTask.window_end <= now).order_by(CallTask.window_end, CallTask.due_at)):
            task = s.execute(q.limit(1)).first()
            if task is not None:
                return task
    return None


def _priority_levels(s) -> Iterator[int]:
    """The distinct priorities of open tasks, highest first, found lazily: one index seek per
    level (a handful) rather than a scan of the queue."""
    below = None
    while True:
        # The id too: a plain index scan marks the entries of claimed tasks' old row versions
        # dead as it passes them (an index-only scan would fetch them again on every claim).
        q = select(CallTask.priority, CallTask.id).where(CallTask.status == CallTaskStatus.OPEN)
        if below is not None:
            q = q.where(CallTask.priority < below)
        row = s.execute(q.order_by(CallTask.priority.desc()).limit(1)).first()
        if row is None:
            return
        below = row.priority
        yield below


def _take_back_expired(s, now: datetime) -> None:
    """Leases that ran out: the tasks go back to the queue, with their place (due time kept)."""
    q = select(CallTask.id).where(CallTask.status == CallTaskStatus.CLAIMED, CallTask.lease_until < now).limit(100)
    ids = list(s.scalars(q))
    if ids:
        s.execute(update(CallTask).where(CallTask.id.in_(ids), CallTask.status == CallTaskStatus.CLAIMED)
                  .values(status=CallTaskStatus.OPEN, leased_by=None, lease_until=None, updated_at=now)
                  .execution_options(synchronize_session=False))
        log.info("%s expired call task leases taken back", len(ids))


def _no_longer_callable(s, task) -> bool:
    """The dossier was suspended or closed since the task was planned, or the debtor opted out
    of calls on that number: one query."""
    q = select(Dossier.status, ContactPoint.opt_out_call_at).select_from(Dossier).outerjoin(
        ContactPoint, ContactPoint.id == task.phone_id).where(Dossier.id == task.dossier_id)
    row = s.execute(q).first()
    return row is None or row.status in (DossierStatus.CLOSED, DossierStatus.SUSPENDED) \
        or row.opt_out_call_at is not None


def release(uow, task_id: int, agent: Principal, now: datetime) -> None:
    """Give a claimed task back to the queue untouched (the agent could not make the call)."""
    task = _own_task(uow.session, task_id, agent, now)
    task.status, task.leased_by, task.lease_until, task.updated_at = CallTaskStatus.OPEN, None, None, now
    audit(uow.session, actor=agent.name, action="call.release", target=f"call_task:{task_id}", now=now)
    uow.commit()


def _own_task(s, task_id: int, agent: Principal, now: datetime) -> CallTask:
    task = s.scalar(select(CallTask).where(CallTask.id == task_id).with_for_update())
    if task is None:
        raise CallQueueError("tâche d'appel introuvable")
    if task.status != CallTaskStatus.CLAIMED or task.leased_by != agent.name:
        raise CallQueueError("cette tâche d'appel ne vous est plus attribuée")
    if task.lease_until is not None and task.lease_until < now:
        # Taken back by the queue; still ours if nobody claimed it since.
        log.info("call task %s completed after its lease", task.id)
    return task


# --- outcomes ------------------------------------------------------------------------------------


def record_outcome(uow_factory, *, agent: Principal, dossier_id: int, outcome: OutcomeInput, now: datetime,
                   task_id: int | None = None, catalogue=None, rates=None, plan_max_months: int = 24) -> None:
    """Record a call's outcome on the dossier (with its task, when the call came from the queue),
    then let the scenario react. Raises CallQueueError / AgreementError with a French message;
    then nothing is written."""
    kind = Outcome(outcome.kind)
    with uow_factory() as uow:
        s = uow.session
        task = _own_task(s, task_id, agent, now) if task_id is not None else None
        if task is not None and task.dossier_id != dossier_id:
            raise CallQueueError("la tâche d'appel ne concerne pas ce dossier")
        dossier = s.get(Dossier, dossier_id)
        if dossier is None:
            raise CallQueueError("dossier introuvable")

        def event(ev_kind: EventKind, data: dict) -> None:
            s.add(DossierEvent(dossier_id=dossier_id, kind=ev_kind, occurred_at=now, source="agent",
                               actor=agent.name, data=data))

        event(EventKind.CALL_ATTEMPT, {"call_task_id": task_id, "outcome": str(kind)})
        if kind in RIGHT_PARTY:
            event(EventKind.RIGHT_PARTY_CONTACT, {"call_task_id": task_id, "outcome": str(kind)})
        today = now.date()
        if kind == Outcome.PROMISE:
            if outcome.amount is None or outcome.due_on is None:
                raise CallQueueError("une promesse demande un montant et une date")
            record_promise(s, dossier_id=dossier_id, amount=outcome.amount, due_on=outcome.due_on,
                           made_on=today, made_by=agent.name, now=now, rates=rates)
        elif kind == Outcome.PLAN:
            if not outcome.count or outcome.first_due_on is None:
                raise CallQueueError("un échéancier demande un nombre d'échéances et une première date")
            agree_plan(s, dossier_id=dossier_id, count=outcome.count, first_due_on=outcome.first_due_on,
                       frequency_days=outcome.frequency, made_by=agent.name, max_months=plan_max_months,
                       now=now, rates=rates)
        elif kind == Outcome.DISPUTE:
            if not (outcome.reason or "").strip():
                raise CallQueueError("indiquez le motif de la contestation")
            event(EventKind.DISPUTE_OPENED, {"reason": outcome.reason.strip()[:500]})
        elif kind == Outcome.CALLBACK:
            _callback(s, dossier, outcome.callback_at, now, event)
        elif kind == Outcome.REFUSAL:
            event(EventKind.NOTE, {"refusal": (outcome.reason or "").strip()[:500]})
        elif kind == Outcome.WRONG_NUMBER:
            _wrong_number(s, dossier, task, outcome.reason, now, event)

        if task is not None:
            _close_task(task, kind, now)
        audit(s, actor=agent.name, action=f"call.{kind}", target=f"dossier:{dossier_id}", now=now,
              data={"task_id": task_id})
        uow.commit()
    log.info("outcome %s recorded on dossier %s by user %s", kind, dossier_id, agent.id)
    if catalogue is not None:
        from services.events import process_events

        process_events(uow_factory, catalogue, now=now, dossier_ids=[dossier_id])


def _close_task(task: CallTask, kind: Outcome, now: datetime) -> None:
    task.attempts += 1
    task.outcome, task.updated_at = str(kind), now
    task.leased_by = task.lease_until = None
    if kind in RETRY_AFTER and task.attempts < MAX_ATTEMPTS:
        # Try again later the same day; the queue's window order puts it after fresher calls.
        task.status, task.due_at = CallTaskStatus.OPEN, now + RETRY_AFTER[kind]
    else:
        task.status = CallTaskStatus.DONE


def _callback(s, dossier: Dossier, at: datetime | None, now: datetime, event) -> None:
    if at is None or at.tzinfo is None:
        raise CallQueueError("indiquez la date et l'heure du rappel")
    if at <= now:
        raise CallQueueError("le rappel doit être dans le futur")
    if at > now + timedelta(days=90):
        raise CallQueueError("le rappel doit avoir lieu dans les 90 jours")
    event(EventKind.CALLBACK_REQUESTED, {"at": at.isoformat()})
    enrolled = s.scalar(select(Enrolment.id).where(Enrolment.dossier_id == dossier.id, Enrolment.active))
    if enrolled:
        return  # the scenario's reaction creates the callback task (services.events)
    key = f"{dossier.id}:console:callback:{at:%Y%m%dT%H%MZ}"
    if not s.scalar(select(CallTask.id).where(CallTask.idempotency_key == key)):
        s.add(CallTask(idempotency_key=key, dossier_id=dossier.id, debtor_id=dossier.debtor_id, kind="callback",
                       script="call/rappel_demande", priority=100, due_at=at, window_end=at + timedelta(hours=2),
                       status=CallTaskStatus.OPEN, created_at=now, updated_at=now))


def _wrong_number(s, dossier: Dossier, task: CallTask | None, reason: str | None, now: datetime, event) -> None:
    phone_id = task.phone_id if task is not None else None
    if phone_id is None:
        phone_id = s.scalar(select(ContactPoint.id).where(
            ContactPoint.debtor_id == dossier.debtor_id, ContactPoint.kind == ContactKind.PHONE,
            ContactPoint.valid).order_by(ContactPoint.rank, ContactPoint.id).limit(1))
    if phone_id is None:
        raise CallQueueError("aucun numéro valide à marquer comme erroné")
    s.execute(update(ContactPoint).where(ContactPoint.id == phone_id, ContactPoint.valid)
              .values(valid=False, invalid_reason="faux numéro (appel)", invalid_since=now, updated_at=now))
    event(EventKind.CONTACT_INVALID, {"contact_point_id": phone_id, "channel": "call",
                                      "reason": (reason or "").strip()[:200]})


__all__ = ["AgreementError", "CallQueueError", "ClaimedTask", "Outcome", "OutcomeInput", "claim_next",
           "record_outcome", "release"]
