"""Promises and payment plans: recorded with their checks, interrupting prescription, counted
by payments, settled by the daily evaluation (grace, déchéance du terme)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import Claim, Dossier, DossierEvent, Installment, PaymentPlan, Promise
from models.enums import DossierStatus, EventKind, PlanStatus, PromiseStatus
from services.agreements import AgreementError, agree_plan, evaluate_agreements, record_promise
from services.payments import apply_payment
from tests.integration.payments.books import assert_books_balanced

D = Decimal
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# 1 000,00 consumer debt, no interest, due 2026-01-15 (prescription: 2028-01-15).
ROWS = ["C-1;particulier;Petit;Anne;C1;consommation;1 000,00;15/01/2026;;"]


def promise(container, dossier_id, amount, due_on, made_on=date(2026, 3, 1), **kw):
    with container.uow() as uow:
        promise_id = record_promise(uow.session, dossier_id=dossier_id, amount=D(amount), due_on=due_on,
                                    made_on=made_on, made_by="agent-1", now=NOW, rates=container.rates, **kw)
        uow.commit()
    return promise_id


def plan(container, dossier_id, **kw):
    with container.uow() as uow:
        plan_id = agree_plan(uow.session, dossier_id=dossier_id, made_by="agent-1", now=NOW,
                             rates=container.rates, **kw)
        uow.commit()
    return plan_id


def pay(container, dossier_id, amount, received_on, external_id):
    with container.uow() as uow:
        result = apply_payment(uow.session, dossier_id=dossier_id, amount=D(amount), received_on=received_on,
                               method="card", external_id=external_id, now=NOW, rates=container.rates)
        assert_books_balanced(uow.session)
        uow.commit()
    return result


def evaluate(container, as_of):
    with container.uow() as uow:
        counts = evaluate_agreements(uow.session, as_of=as_of, now=NOW)
        assert_books_balanced(uow.session)
        uow.commit()
    return counts


def get(container, model, ident):
    """The row as it is now, detached from its (closed) session."""
    with container.uow() as uow:
        row = uow.session.get(model, ident)
        uow.session.expunge(row)
        return row


def events(container, kind):
    with container.uow() as uow:
        return [e.data for e in uow.session.scalars(select(DossierEvent).where(DossierEvent.kind == kind)
                                                     .order_by(DossierEvent.id))]


def the_claim(container, dossier_id):
    with container.uow() as uow:
        claim = uow.session.scalars(select(Claim).where(Claim.dossier_id == dossier_id)).one()
        uow.session.expunge(claim)
        return claim


def test_a_promise_is_recorded_with_its_event_and_interrupts_prescription(container, dossiers):
    ids = dossiers(ROWS)
    promise_id = promise(container, ids["C-1"], "300.00", date(2026, 3, 10))
    assert events(container, EventKind.PROMISE_MADE) == [
        {"promise_id": promise_id, "date": "2026-03-10", "amount": "300.00"}]
    assert get(container, Dossier, ids["C-1"]).status == DossierStatus.PROMISE
    claim = the_claim(container, ids["C-1"])
    # A promise acknowledges the debt: two years from 2026-03-01.
    assert (claim.last_interruption_kind, claim.prescription_expires_on) == ("promise", date(2028, 3, 1))


def test_a_promise_beyond_the_balance_or_due_before_it_was_made_is_refused(container, dossiers):
    ids = dossiers(ROWS)
    with pytest.raises(AgreementError):
        promise(container, ids["C-1"], "1000.01", date(2026, 3, 10))
    with pytest.raises(AgreementError):
        promise(container, ids["C-1"], "100.00", date(2026, 2, 28))
    with pytest.raises(AgreementError):
        promise(container, ids["C-1"], "0.00", date(2026, 3, 10))


def test_a_new_promise_cancels_the_open_one(container, dossiers):
    ids = dossiers(ROWS)
    old = promise(container, ids["C-1"], "300.00", date(2026, 3, 10))
    new = promise(container, ids["C-1"], "500.00", date(2026, 3, 20), made_on=date(2026, 3, 2))
    assert get(container, Promise, old).status == PromiseStatus.CANCELLED
    assert get(container, Promise, new).status == PromiseStatus.OPEN


def test_a_promise_paid_within_its_one_day_grace_is_kept(container, dossiers):
    ids = dossiers(ROWS)
    promise_id = promise(container, ids["C-1"], "300.00", date(2026, 3, 10), grace_days=1)
    # 2026-03-11 is the day of grace: 2026-03-10 + 1 = 2026-03-11 is not before 2026-03-11.
    assert evaluate(container, date(2026, 3, 11))["promises_broken"] == 0
    assert get(container, Promise, promise_id).status == PromiseStatus.OPEN
    pay(container, ids["C-1"], "300.00", date(2026, 3, 11), "CB-1")
    kept = get(container, Promise, promise_id)
    assert (kept.status, kept.paid, kept.resolved_on) == (PromiseStatus.KEPT, D("300.00"), date(2026, 3, 11))
    assert events(container, EventKind.PROMISE_KEPT)[0]["promise_id"] == promise_id
    counts = evaluate(container, date(2026, 3, 12))
    assert counts["promises_broken"] == counts["promises_partly_kept"] == 0
    assert get(container, Promise, promise_id).status == PromiseStatus.KEPT
    assert get(container, Dossier, ids["C-1"]).status == DossierStatus.ACTIVE


def test_an_unpaid_promise_is_broken_once_its_grace_has_passed(container, dossiers):
    ids = dossiers(ROWS)
    promise_id = promise(container, ids["C-1"], "300.00", date(2026, 3, 10))
    counts = evaluate(container, date(2026, 3, 12))
    assert counts["promises_broken"] == 1
    broken = get(container, Promise, promise_id)
    assert (broken.status, broken.resolved_on) == (PromiseStatus.BROKEN, date(2026, 3, 12))
    assert events(container, EventKind.PROMISE_BROKEN) == [
        {"promise_id": promise_id, "date": "2026-03-10", "amount": "300.00", "paid": "0.00", "outcome": "broken"}]
    assert get(container, Dossier, ids["C-1"]).status == DossierStatus.ACTIVE


def test_a_promise_paid_in_part_is_partly_kept(container, dossiers):
    ids = dossiers(ROWS)
    promise_id = promise(container, ids["C-1"], "300.00", date(2026, 3, 10))
    pay(container, ids["C-1"], "100.00", date(2026, 3, 5), "CB-PART")
    assert evaluate(container, date(2026, 3, 12))["promises_partly_kept"] == 1
    assert get(container, Promise, promise_id).status == PromiseStatus.PARTLY_KEPT
    assert events(container, EventKind.PROMISE_BROKEN)[0]["outcome"] == "partly_kept"


def test_a_plan_of_three_monthly_installments_splits_the_balance_to_the_cent(container, dossiers):
    ids = dossiers(ROWS)
    plan_id = plan(container, ids["C-1"], count=3, first_due_on=date(2026, 3, 31), frequency_days="monthly")
    with container.uow() as uow:
        items = uow.session.scalars(select(Installment).where(Installment.plan_id == plan_id)
                                    .order_by(Installment.number)).all()
        # 1000.00 / 3 = 333.33 (rounded down) twice, and 1000.00 - 666.66 = 333.34 last;
        # monthly from 31 March: 30 April has no 31st.
        assert [(i.number, i.due_on, i.amount) for i in items] == [
            (1, date(2026, 3, 31), D("333.33")), (2, date(2026, 4, 30), D("333.33")), (3, date(2026, 5, 31), D("333.34"))]
        assert uow.session.get(PaymentPlan, plan_id).total == D("1000.00")
    assert events(container, EventKind.PLAN_AGREED) == [{
        "plan_id": plan_id, "first_due_on": "2026-03-31", "total": "1000.00",
        "installments": [{"number": 1, "due_on": "2026-03-31", "amount": "333.33"},
                         {"number": 2, "due_on": "2026-04-30", "amount": "333.33"},
                         {"number": 3, "due_on": "2026-05-31", "amount": "333.34"}]}]
    assert get(container, Dossier, ids["C-1"]).status == DossierStatus.PLAN
    # Agreed on 2026-03-01 (NOW in Paris): two years more.
    assert the_claim(container, ids["C-1"]).prescription_expires_on == date(2028, 3, 1)


def test_a_plan_too_short_or_too_long_is_refused(container, dossiers):
    ids = dossiers(ROWS)
    with pytest.raises(AgreementError):
        plan(container, ids["C-1"], count=1, first_due_on=date(2026, 3, 31))
    with pytest.raises(AgreementError):  # 26 monthly installments from 2026-03-31 end after 2028-03-01
        plan(container, ids["C-1"], count=26, first_due_on=date(2026, 3, 31), frequency_days="monthly")
    with pytest.raises(AgreementError):
        plan(container, ids["C-1"], count=4, first_due_on=date(2026, 3, 31), frequency_days="monthly", max_months=3)


def test_a_plan_falls_after_two_missed_installments(container, dossiers):
    ids = dossiers(ROWS)
    plan_id = plan(container, ids["C-1"], count=3, first_due_on=date(2026, 3, 10), frequency_days="monthly")
    pay(container, ids["C-1"], "333.33", date(2026, 3, 10), "CB-I1")
    # On 2026-04-11 only the second installment (due 2026-04-10) is missed: one miss.
    assert evaluate(container, date(2026, 4, 11))["plans_defaulted"] == 0
    # On 2026-05-11 the third (due 2026-05-10) is missed too: two misses, déchéance du terme.
    assert evaluate(container, date(2026, 5, 11))["plans_defaulted"] == 1
    fallen = get(container, PaymentPlan, plan_id)
    assert (fallen.status, fallen.ended_on) == (PlanStatus.DEFAULTED, date(2026, 5, 11))
    # The whole balance is due again: 1000.00 - 333.33 = 666.67.
    assert events(container, EventKind.PLAN_DEFAULTED) == [
        {"plan_id": plan_id, "missed": 2, "count": 3, "balance": "666.67"}]
    assert get(container, Dossier, ids["C-1"]).status == DossierStatus.ACTIVE


def test_a_plan_paid_to_the_last_installment_is_completed_and_the_dossier_closed(container, dossiers):
    ids = dossiers(ROWS)
    plan_id = plan(container, ids["C-1"], count=3, first_due_on=date(2026, 3, 10), frequency_days=30)
    for n, (amount, day) in enumerate([("333.33", date(2026, 3, 10)), ("333.33", date(2026, 4, 9)),
                                       ("333.34", date(2026, 5, 9))]):
        result = pay(container, ids["C-1"], amount, day, f"CB-{n}")
    assert result.paid_in_full
    done = get(container, PaymentPlan, plan_id)
    assert (done.status, done.ended_on) == (PlanStatus.COMPLETED, date(2026, 5, 9))
    assert get(container, Dossier, ids["C-1"]).status == DossierStatus.CLOSED
    with container.uow() as uow:
        assert [i.paid for i in uow.session.scalars(select(Installment).order_by(Installment.number))] == [
            D("333.33"), D("333.33"), D("333.34")]
