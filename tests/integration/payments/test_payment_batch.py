"""The batch path (services/payment_batch.py) leaves exactly what `apply_payment`, one payment at
a time, leaves: the same portfolio under two creditors, the same payments, one path each."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select

from models import Claim, Dossier, DossierEvent, Installment, JournalEntry, PaymentPlan, Promise
from models.parties import Creditor
from services.agreements import agree_plan, record_promise
from services.payment_batch import BatchPayment, apply_payments
from services.payments import apply_payment
from tests.integration.payments.books import assert_books_balanced

D = Decimal
NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
ROWS = [
    "P-1;particulier;Martin;Paul;A;autre;1 000,00;01/12/2024;legal;01/01/2025",
    "P-1;particulier;Martin;Paul;B;autre;500,00;01/03/2025;;",
    "F-1;particulier;Durand;Léa;F1;consommation;310,00;31/01/2025;;",
    "C-1;particulier;Petit;Jean;C1;autre;1 000,00;01/01/2025;legal;01/02/2025",
    "E-1;particulier;Roux;Anne;E1;autre;200,00;01/01/2025;;",
]
# (dossier, amount, received on): two payments of P-1 in one batch, F-1 paid in full then
# overpaid, a promise kept on C-1, then a plan on E-1 settled installment by installment.
PAYMENTS = [
    ("P-1", "300.00", date(2025, 7, 1)), ("F-1", "310.00", date(2025, 7, 1)), ("P-1", "1500.00", date(2025, 8, 1)),
    ("C-1", "150.00", date(2025, 7, 2)), ("F-1", "10.00", date(2025, 7, 3)), ("E-1", "80.00", date(2025, 7, 5)),
    ("E-1", "70.00", date(2025, 8, 5)), ("C-1", "25.50", date(2025, 9, 1)),
]


def _ids(session, creditor: str) -> dict[str, int]:
    return dict(session.execute(select(Dossier.external_ref, Dossier.id).join(Creditor)
                                .where(Creditor.name == creditor)).all())


def _agreements(session, ids):
    record_promise(session, dossier_id=ids["C-1"], amount=D("150.00"), due_on=date(2025, 7, 1),
                   made_on=date(2025, 6, 20), made_by="agent", now=NOW)
    agree_plan(session, dossier_id=ids["E-1"], count=3, first_due_on=date(2025, 7, 5), frequency_days=30,
               made_by="agent", now=NOW, agreed_on=date(2025, 6, 30))


def _snapshot(session, creditor: str) -> dict:
    """Everything the paths change, with ids replaced by references."""
    ids = _ids(session, creditor)
    ref = {v: k for k, v in ids.items()}
    claims = {c.id: c for c in session.scalars(select(Claim).where(Claim.dossier_id.in_(ids.values())))}
    cref = {i: c.invoice_ref for i, c in claims.items()}
    out = {"claims": sorted(
        (c.invoice_ref, c.principal_paid, c.interest_paid, c.costs_paid, c.interest_accrued, c.interest_accrued_to,
         c.last_interruption_on, c.last_interruption_kind, c.prescription_expires_on) for c in claims.values())}
    out["dossiers"] = sorted((ref[d.id], str(d.status), str(d.close_reason)) for d in
                             session.scalars(select(Dossier).where(Dossier.id.in_(ids.values()))))
    entries = session.scalars(select(JournalEntry).where(JournalEntry.dossier_id.in_(ids.values()),
                                                         JournalEntry.kind == "payment").order_by(JournalEntry.id)).all()

    def scrub(data: dict) -> dict:
        data = dict(data)
        data.pop("payment_id")
        data["crystallised"] = [{**c, "claim_id": cref[c["claim_id"]]} for c in data["crystallised"]]
        if data["promise"]:
            data["promise"] = {**data["promise"], "id": "promise"}
        data["plan_id"] = data["plan_id"] and "plan"
        data["installments"] = [i["amount"] for i in data["installments"]]
        return data

    out["entries"] = [(ref[e.dossier_id], e.posted_on, scrub(e.data),
                       [(str(ln.account), cref.get(ln.claim_id), str(ln.component), ln.amount) for ln in e.lines])
                      for e in entries]
    out["events"] = [(ref[e.dossier_id], str(e.kind), {k: v for k, v in e.data.items() if k not in ("payment_id", "promise_id")})
                     for e in session.scalars(select(DossierEvent).where(
                         DossierEvent.dossier_id.in_(ids.values()), DossierEvent.source == "payment").order_by(DossierEvent.id))]
    out["promises"] = [(ref[p.dossier_id], p.paid, str(p.status), p.resolved_on)
                       for p in session.scalars(select(Promise).where(Promise.dossier_id.in_(ids.values())))]
    plans = session.scalars(select(PaymentPlan).where(PaymentPlan.dossier_id.in_(ids.values()))).all()
    out["plans"] = [(ref[p.dossier_id], str(p.status), p.ended_on,
                     [i.paid for i in session.scalars(select(Installment).where(Installment.plan_id == p.id)
                                                      .order_by(Installment.number))]) for p in plans]
    return out


def test_the_batch_path_and_the_single_path_leave_identical_claims_books_and_events(container, dossiers):
    dossiers(ROWS, creditor="Banque Une")
    dossiers(ROWS, creditor="Banque Deux")
    with container.uow() as uow:
        one, two = _ids(uow.session, "Banque Une"), _ids(uow.session, "Banque Deux")
        _agreements(uow.session, one)
        _agreements(uow.session, two)
        uow.commit()
    with container.uow() as uow:
        for n, (ref, amount, day) in enumerate(PAYMENTS):
            apply_payment(uow.session, dossier_id=one[ref], amount=D(amount), received_on=day, method="transfer",
                          external_id=f"one-{n}", now=NOW, rates=container.rates)
        uow.commit()
    with container.uow() as uow:
        # Two chunks, the second holding later payments of dossiers of the first.
        batch = [BatchPayment(two[ref], D(amount), day, "transfer", f"two-{n}") for n, (ref, amount, day) in enumerate(PAYMENTS)]
        first = apply_payments(uow.session, batch[:5], now=NOW, rates=container.rates)
        uow.commit()
    with container.uow() as uow:
        second = apply_payments(uow.session, batch[5:], now=NOW, rates=container.rates)
        again = apply_payments(uow.session, batch[:2], now=NOW, rates=container.rates)
        uow.commit()
    assert [r.duplicate for r in first + second] == [False] * len(PAYMENTS)
    assert [r.duplicate for r in again] == [True, True]
    assert [r.allocations for r in again] == [r.allocations for r in first[:2]]
    with container.uow() as uow:
        single, batched = _snapshot(uow.session, "Banque Une"), _snapshot(uow.session, "Banque Deux")
        assert batched == single
        assert_books_balanced(uow.session)
    # The figures themselves are those of test_payments.py: 300.00 on P-1 = 18.40 interest + 281.60.
    assert single["entries"][0][3][2:4] == [("debtor_receivable", "A", "interest", D("-18.40")),
                                            ("debtor_receivable", "A", "principal", D("-281.60"))]
    assert ("C-1", "promise_kept", {"date": "2025-07-01", "amount": "150.00", "paid": "150.00", "outcome": "kept"}) in single["events"]
    assert [p[1] for p in single["plans"]] == ["active"]


def test_a_batch_mixing_known_and_new_external_ids_applies_only_the_new_ones_and_answers_the_others(
        container, dossiers):
    from models import Payment

    dossiers(ROWS)
    with container.uow() as uow:
        ids = dict(uow.session.execute(select(Dossier.external_ref, Dossier.id)).all())
        first = apply_payments(uow.session, [BatchPayment(ids["P-1"], D("100.00"), date(2025, 7, 1), "transfer", "k-1")],
                               now=NOW, rates=container.rates)
        uow.commit()
    with container.uow() as uow:
        mixed = apply_payments(uow.session, [
            BatchPayment(ids["F-1"], D("10.00"), date(2025, 7, 1), "transfer", "k-2"),
            BatchPayment(ids["P-1"], D("100.00"), date(2025, 7, 1), "transfer", "k-1"),
            BatchPayment(ids["E-1"], D("20.00"), date(2025, 7, 1), "transfer", "k-3"),
        ], now=NOW, rates=container.rates)
        uow.commit()
    assert [r.duplicate for r in mixed] == [False, True, False]
    assert mixed[1].payment_id == first[0].payment_id and mixed[1].allocations == first[0].allocations
    with container.uow() as uow:
        s = uow.session
        assert sorted(s.scalars(select(Payment.external_id))) == ["k-1", "k-2", "k-3"]
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 3
        assert_books_balanced(s)
