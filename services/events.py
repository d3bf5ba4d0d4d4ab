"""Dossier events -> the scenario engine: each unprocessed event of a reactable kind moves the
dossier's active enrolment (`scenarios.reactions.react`), once. Processing marks the event, so a
rerun or a retried task reacts to nothing twice."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select, update

from models.campaigns import Enrolment
from models.dossiers import Dossier, DossierEvent
from models.enums import CallTaskStatus, DossierStatus, EventKind, Suspension
from models.outbox import CallTask
from models.parties import Debtor
from scenarios.language import REACTABLE_EVENTS, EndKind, Scenario
from scenarios.reactions import EventDataError, react
from scenarios.snapshots import EnrolmentStatus
from services.enrolments import state_columns, state_of
from services.relance_plan import close_dossier
from services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

_SUSPENSION_OF = {EventKind.DISPUTE_OPENED: Suspension.DISPUTE}


def process_events(
    uow_factory: Callable[[], UnitOfWork],
    catalogue: Mapping[str, Scenario],
    *,
    now: datetime,
    batch: int = 1000,
    dossier_ids: list[int] | None = None,
) -> Counter:
    """React to every unprocessed event, oldest first, in batches (one transaction each);
    with `dossier_ids`, only to those dossiers' events (the console after a call outcome)."""
    counts: Counter = Counter()
    kinds = [str(k) for k in REACTABLE_EVENTS | {EventKind.SUSPENSION_LIFTED}]
    while True:
        with uow_factory() as uow:
            s = uow.session
            events = list(s.scalars(
                select(DossierEvent).where(DossierEvent.processed_at.is_(None), DossierEvent.kind.in_(kinds),
                                           *_only(dossier_ids))
                .order_by(DossierEvent.occurred_at, DossierEvent.id).limit(batch)
            ))
            if not events:
                break
            for event in events:
                counts[_react_one(s, event, catalogue, now)] += 1
                event.processed_at = now
            uow.commit()
    # Events nobody reacts to (notes, imports...) are simply marked.
    with uow_factory() as uow:
        uow.session.execute(update(DossierEvent).where(DossierEvent.processed_at.is_(None),
                                                       DossierEvent.kind.notin_(kinds), *_only(dossier_ids))
                            .values(processed_at=now))
        uow.commit()
    if counts:
        log.info("events processed at %s: %s", now.isoformat(), dict(counts))
    return counts


def _only(dossier_ids: list[int] | None) -> tuple:
    return () if dossier_ids is None else (DossierEvent.dossier_id.in_(dossier_ids),)


def _react_one(s, event: DossierEvent, catalogue, now: datetime) -> str:
    dossier = s.get(Dossier, event.dossier_id)
    if dossier.archived_at is not None:
        return "archived"  # read-only: a late event is kept on the timeline, nothing moves
    _apply_to_dossier(s, dossier, event, now)
    enrolment = s.scalar(select(Enrolment).where(Enrolment.dossier_id == event.dossier_id, Enrolment.active))
    if enrolment is None:
        return "no_enrolment"
    tz = s.scalar(select(Debtor.timezone).where(Debtor.id == enrolment.debtor_id))
    kind = EventKind(event.kind)
    if kind == EventKind.SUSPENSION_LIFTED:
        kind = EventKind.DISPUTE_CLOSED  # scenarios resume the same way after any suspension
    try:
        transition = react(state_of(enrolment), kind, event.data or {}, catalogue=catalogue, now=now,
                           timezone=tz or "Europe/Paris")
    except EventDataError as exc:
        log.warning("event %s on dossier %s not applied: %s", event.id, event.dossier_id, exc)
        return "invalid_data"
    if transition.effect is None:
        return "no_reaction"
    for key, value in state_columns(transition.state).items():
        setattr(enrolment, key, value)
    enrolment.next_due_at = transition.next_due_at
    enrolment.updated_at = now
    if transition.agent_task is not None:
        _callback_task(s, enrolment, transition.agent_task, now)
    if transition.state.status is EnrolmentStatus.ENDED:
        enrolment.active = False
        enrolment.ended_at = now
        enrolment.end_kind = str(transition.end or EndKind.CLOSE)
        close_dossier(s, enrolment.dossier_id, transition.end or EndKind.CLOSE, now=now)
    return str(transition.effect)


def _apply_to_dossier(s, dossier: Dossier, event: DossierEvent, now: datetime) -> None:
    """The dossier's own status follows the events that concern it as a whole."""
    kind = EventKind(event.kind)
    if dossier.status == DossierStatus.CLOSED:
        return
    if kind in _SUSPENSION_OF:
        dossier.status, dossier.suspension = DossierStatus.SUSPENDED, _SUSPENSION_OF[kind]
    elif kind in (EventKind.DISPUTE_CLOSED, EventKind.SUSPENSION_LIFTED):
        dossier.status, dossier.suspension = DossierStatus.ACTIVE, None
    elif kind == EventKind.PROMISE_MADE:
        dossier.status = DossierStatus.PROMISE
    elif kind == EventKind.PLAN_AGREED:
        dossier.status = DossierStatus.PLAN
    elif kind in (EventKind.PROMISE_BROKEN, EventKind.PROMISE_KEPT, EventKind.PLAN_DEFAULTED):
        dossier.status = DossierStatus.ACTIVE
    dossier.updated_at = now


def _callback_task(s, enrolment, task, now: datetime) -> None:
    key = task.idempotency_key(enrolment.dossier_id)
    if s.scalar(select(CallTask.id).where(CallTask.idempotency_key == key)):
        return
    s.add(CallTask(idempotency_key=key, dossier_id=enrolment.dossier_id, debtor_id=enrolment.debtor_id,
                   kind="callback", script=task.template, priority=100, due_at=task.due_at,
                   window_end=task.due_at + timedelta(hours=2), status=CallTaskStatus.OPEN,
                   created_at=now, updated_at=now))
