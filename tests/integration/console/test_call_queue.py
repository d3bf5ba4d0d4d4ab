"""The call queue: order, leases, creditor scope and the outcomes the scenario reacts to."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from models.accounts import AuditEntry
from models.campaigns import Enrolment
from models.dossiers import Dossier, DossierEvent
from models.enums import CallTaskStatus, DossierStatus, EventKind
from models.outbox import CallTask
from models.parties import ContactPoint
from scenarios.catalogue import load_catalogue
from services.agreements import AgreementError
from services.call_queue import CallQueueError, Outcome, OutcomeInput, claim_next, record_outcome
from services.campaigns import launch_campaign
from tests.integration.console.support import NOW, add_task, import_cases, make_user, task_row


@pytest.fixture
def cases(container, tmp_path):
    return import_cases(container, tmp_path)


def claim(container, agent, now=NOW, **kw):
    with container.uow() as uow:
        return claim_next(uow, agent, now, **kw)


def test_the_queue_serves_priority_then_open_window_then_age(container, cases):
    a = cases["A-1"]
    old_closed = add_task(container, a, key="k1", due_at=NOW - timedelta(hours=6), window_end=NOW - timedelta(hours=1))
    young_open = add_task(container, a, key="k2", due_at=NOW - timedelta(minutes=5))
    old_open = add_task(container, a, key="k3", due_at=NOW - timedelta(hours=2))
    urgent = add_task(container, a, key="k4", priority=100, due_at=NOW - timedelta(minutes=1))
    add_task(container, a, key="k5", priority=200, due_at=NOW + timedelta(minutes=1))  # not due yet
    agent = make_user(container, "agent1")
    order = [claim(container, agent).id for _ in range(4)]
    assert order == [urgent, old_open, young_open, old_closed]
    assert claim(container, agent) is None


def test_among_open_windows_the_one_closing_first_comes_before_tasks_without_a_window(container, cases):
    a = cases["A-1"]
    passed = add_task(container, a, key="k1", due_at=NOW - timedelta(hours=5), window_end=NOW - timedelta(minutes=1))
    no_window = add_task(container, a, key="k2", due_at=NOW - timedelta(hours=4), window_end=None)
    closes_late = add_task(container, a, key="k3", due_at=NOW - timedelta(hours=3), window_end=NOW + timedelta(hours=2))
    closes_soon = add_task(container, a, key="k4", due_at=NOW - timedelta(minutes=1),
                           window_end=NOW + timedelta(minutes=30))
    agent = make_user(container, "agent1")
    assert [claim(container, agent).id for _ in range(4)] == [closes_soon, closes_late, no_window, passed]


def test_a_claim_is_written_in_the_audit_log_with_the_agent_and_the_task(container, cases):
    task_id = add_task(container, cases["A-1"], key="k1")
    task = claim(container, make_user(container, "agent1"))
    assert task.id == task_id and task.lease_until == NOW + timedelta(minutes=15)
    with container.uow() as uow:
        entries = uow.session.execute(select(AuditEntry.actor, AuditEntry.target, AuditEntry.at)
                                      .where(AuditEntry.action == "call.claim")).all()
    assert [(e.actor, e.target) for e in entries] == [("agent1", f"call_task:{task_id}")]
    assert entries[0].at == NOW


def test_an_expired_lease_returns_the_task_to_the_queue(container, cases):
    task_id = add_task(container, cases["A-1"], key="k1")
    first, second = make_user(container, "agent1"), make_user(container, "agent2")
    assert claim(container, first, lease=timedelta(minutes=10)).id == task_id
    assert claim(container, second, now=NOW + timedelta(minutes=5)) is None
    again = claim(container, second, now=NOW + timedelta(minutes=11))
    assert again.id == task_id
    assert task_row(container, task_id).leased_by == "agent2"


def test_no_task_goes_to_two_agents_claiming_at_once(container, cases):
    ids = {add_task(container, cases["A-1"], key=f"k{n}") for n in range(20)}
    agents = [make_user(container, f"agent{n}") for n in range(5)]

    def work(agent):
        got = []
        while (task := claim(container, agent)) is not None:
            got.append(task.id)
        return got

    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(work, agents))
    claimed = [t for r in results for t in r]
    assert sorted(claimed) == sorted(ids)
    assert len(set(claimed)) == len(claimed)


def test_an_agent_assigned_to_a_creditor_gets_only_its_tasks(container, cases, tmp_path):
    from services.portfolio_import import get_or_create_creditor

    with container.uow() as uow:
        get_or_create_creditor(uow.session, "Autre Créancier")
        uow.commit()
    add_task(container, cases["A-1"], key="k1")
    agent = make_user(container, "agent1", creditors=["Autre Créancier"])
    assert claim(container, agent) is None
    assert claim(container, make_user(container, "agent2", creditors=["Banque Exemple"])) is not None


def test_a_task_of_a_suspended_dossier_is_cancelled_not_handed_out(container, cases):
    task_id = add_task(container, cases["A-1"], key="k1")
    with container.uow() as uow:
        uow.session.get(Dossier, cases["A-1"].dossier_id).status = DossierStatus.SUSPENDED
        uow.commit()
    assert claim(container, make_user(container, "agent1")) is None
    assert task_row(container, task_id).status == CallTaskStatus.CANCELLED


def test_a_task_on_a_number_opted_out_of_calls_is_cancelled_and_the_next_one_handed_out(container, cases):
    a = cases["A-1"]
    opted_out = add_task(container, a, key="k1", priority=10)
    other = add_task(container, a, key="k2")
    with container.uow() as uow:
        uow.session.get(ContactPoint, a.contacts["phone"]).opt_out_call_at = NOW - timedelta(days=1)
        uow.commit()
    with container.uow() as uow:  # the second task has no number: it stays callable
        uow.session.get(CallTask, other).phone_id = None
        uow.commit()
    assert claim(container, make_user(container, "agent1")).id == other
    row = task_row(container, opted_out)
    assert (row.status, row.outcome) == (CallTaskStatus.CANCELLED, "not_callable")


def _events(container, dossier_id):
    with container.uow() as uow:
        return [e.kind for e in uow.session.scalars(
            select(DossierEvent).where(DossierEvent.dossier_id == dossier_id).order_by(DossierEvent.id))]


def test_a_promise_on_a_call_switches_the_scenario_to_its_follow_up_and_closes_the_task(container, cases):
    catalogue = load_catalogue()
    case = cases["A-1"]
    launch_campaign(container.uow, catalogue, name="C1", scenario="amiable-particulier", now=NOW)
    task_id = add_task(container, case, key="k1")
    agent = make_user(container, "agent1")
    claimed = claim(container, agent)
    record_outcome(container.uow, agent=agent, dossier_id=case.dossier_id, task_id=claimed.id, now=NOW,
                   catalogue=catalogue,
                   outcome=OutcomeInput(Outcome.PROMISE, amount=Decimal("500.00"), due_on=date(2026, 12, 10)))
    assert task_row(container, task_id).status == CallTaskStatus.DONE
    kinds = _events(container, case.dossier_id)
    assert [EventKind.CALL_ATTEMPT, EventKind.RIGHT_PARTY_CONTACT, EventKind.PROMISE_MADE] == kinds[-3:]
    with container.uow() as uow:
        enrolment = uow.session.scalar(select(Enrolment).where(Enrolment.dossier_id == case.dossier_id))
        # The campaign's scenario waits: the promise's follow-up runs until the promised date.
        assert enrolment.scenario == "suivi-promesse"
        assert uow.session.get(Dossier, case.dossier_id).status == DossierStatus.PROMISE


def test_no_answer_puts_the_task_back_later_and_the_third_closes_it(container, cases):
    case = cases["A-1"]
    task_id = add_task(container, case, key="k1")
    agent = make_user(container, "agent1")
    now = NOW
    for attempt in (1, 2, 3):
        claimed = claim(container, agent, now=now)
        assert claimed.id == task_id
        record_outcome(container.uow, agent=agent, dossier_id=case.dossier_id, task_id=task_id, now=now,
                       outcome=OutcomeInput(Outcome.NO_ANSWER))
        row = task_row(container, task_id)
        assert row.attempts == attempt
        now = now + timedelta(hours=3)
    assert row.status == CallTaskStatus.DONE


def test_a_wrong_number_marks_the_phone_invalid(container, cases):
    case = cases["A-1"]
    task_id = add_task(container, case, key="k1")
    agent = make_user(container, "agent1")
    claim(container, agent)
    record_outcome(container.uow, agent=agent, dossier_id=case.dossier_id, task_id=task_id, now=NOW,
                   outcome=OutcomeInput(Outcome.WRONG_NUMBER))
    with container.uow() as uow:
        phone = uow.session.get(ContactPoint, task_row(container, task_id).phone_id)
        assert not phone.valid
    assert EventKind.CONTACT_INVALID in _events(container, case.dossier_id)


def test_a_callback_creates_a_call_task_at_the_asked_time(container, cases):
    case = cases["A-1"]
    agent = make_user(container, "agent1")
    at = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
    record_outcome(container.uow, agent=agent, dossier_id=case.dossier_id, now=NOW,
                   outcome=OutcomeInput(Outcome.CALLBACK, callback_at=at))
    with container.uow() as uow:
        task = uow.session.scalar(select(CallTask).where(CallTask.kind == "callback"))
        assert task.due_at == at and task.status == CallTaskStatus.OPEN


def test_a_dispute_suspends_the_dossier(container, cases):
    catalogue = load_catalogue()
    case = cases["A-1"]
    launch_campaign(container.uow, catalogue, name="C1", scenario="amiable-particulier", now=NOW)
    agent = make_user(container, "agent1")
    record_outcome(container.uow, agent=agent, dossier_id=case.dossier_id, now=NOW, catalogue=catalogue,
                   outcome=OutcomeInput(Outcome.DISPUTE, reason="Facture déjà réglée"))
    with container.uow() as uow:
        assert uow.session.get(Dossier, case.dossier_id).status == DossierStatus.SUSPENDED


def test_a_plan_beyond_the_maximum_duration_is_refused_and_nothing_is_written(container, cases):
    case = cases["A-1"]
    agent = make_user(container, "agent1")
    before = _events(container, case.dossier_id)
    with pytest.raises(AgreementError):
        record_outcome(container.uow, agent=agent, dossier_id=case.dossier_id, now=NOW, plan_max_months=6,
                       outcome=OutcomeInput(Outcome.PLAN, count=12, first_due_on=date(2026, 12, 5)))
    assert _events(container, case.dossier_id) == before


def test_an_outcome_on_a_task_leased_to_someone_else_is_refused(container, cases):
    case = cases["A-1"]
    task_id = add_task(container, case, key="k1")
    claim(container, make_user(container, "agent1"))
    with pytest.raises(CallQueueError):
        record_outcome(container.uow, agent=make_user(container, "agent2"), dossier_id=case.dossier_id,
                       task_id=task_id, now=NOW, outcome=OutcomeInput(Outcome.BUSY))
