"""Applying payments: interest crystallised to the day, imputation across claims, books that
balance after every operation, idempotence, closing on full payment, prescription interrupted,
and reversal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import Claim, Dossier, DossierEvent, JournalEntry, Payment
from models.enums import ClaimComponent, CloseReason, DossierStatus, EventKind, LedgerAccount, PaymentStatus
from services.balances import dossier_totals
from services.payments import PaymentError, apply_payment, reverse_payment
from tests.integration.payments.books import assert_books_balanced, balances

D = Decimal
P, I = ClaimComponent.PRINCIPAL, ClaimComponent.INTEREST  # noqa: E741 (the ledger's own letters)
NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
ROWS = [
    "P-1;particulier;Martin;Paul;A;autre;1 000,00;01/12/2024;legal;01/01/2025",
    "P-1;particulier;Martin;Paul;B;autre;500,00;01/03/2025;;",
    "F-1;particulier;Durand;Léa;F1;consommation;310,00;31/01/2025;;",
]


def pay(container, dossier_id, amount, received_on, external_id, **kw):
    with container.uow() as uow:
        result = apply_payment(uow.session, dossier_id=dossier_id, amount=D(amount), received_on=received_on,
                               method="transfer", external_id=external_id, now=NOW, rates=container.rates, **kw)
        assert_books_balanced(uow.session)
        uow.commit()
    return result


def claims_of(uow, dossier_id):
    return {c.invoice_ref: c for c in uow.session.scalars(select(Claim).where(Claim.dossier_id == dossier_id))}


def test_a_partial_payment_pays_interest_then_principal_of_the_older_claim_then_the_next(container, dossiers):
    ids = dossiers(ROWS)
    result = pay(container, ids["P-1"], "1200.00", date(2025, 7, 1), "VIR-1")

    # A's interest to 2025-07-01: 1000 x 3.71 % x 181 / 365 = 18.3975... -> 18.40.
    # A is due first (2024-12-01): 18.40 interest, then 1000.00 principal (1018.40);
    # the rest, 1200.00 - 1018.40 = 181.60, goes to B's principal.
    with container.uow() as uow:
        c = claims_of(uow, ids["P-1"])
        a, b = c["A"].id, c["B"].id
        assert [(x.claim_id, x.component, x.amount) for x in result.allocations] == [
            (a, I, D("18.40")), (a, P, D("1000.00")), (b, P, D("181.60"))]
        assert (result.unapplied, result.paid_in_full, result.duplicate) == (D("0.00"), False, False)
        assert (c["A"].interest_accrued, c["A"].interest_accrued_to, c["A"].interest_paid) == (
            D("18.40"), date(2025, 7, 1), D("18.40"))
        assert (c["A"].principal_paid, c["B"].principal_paid) == (D("1000.00"), D("181.60"))
        event = uow.session.scalars(select(DossierEvent).where(DossierEvent.kind == EventKind.PARTIAL_PAYMENT)).one()
        assert event.data == {"payment_id": result.payment_id, "amount": "1200.00", "received_on": "2025-07-01",
                              "unapplied": "0.00"}
        totals = dossier_totals(uow.session, [ids["P-1"]], as_of=date(2025, 9, 1), rates=container.rates)
        # Left: B's 500.00 - 181.60 = 318.40; A's principal is paid, so no more interest runs.
        assert totals[ids["P-1"]].balance == D("318.40")
        books = balances(uow.session)
        assert books[LedgerAccount.TRUST_BANK] == D("1200.00") and books[LedgerAccount.CREDITOR_PAYABLE] == D("-1200.00")


def test_the_same_bank_payment_applied_twice_is_recorded_once(container, dossiers):
    ids = dossiers(ROWS)
    first = pay(container, ids["P-1"], "300.00", date(2025, 7, 1), "VIR-SAME")
    again = pay(container, ids["P-1"], "300.00", date(2025, 7, 1), "VIR-SAME")
    assert again.duplicate and again.payment_id == first.payment_id
    assert (again.allocations, again.unapplied) == (first.allocations, first.unapplied)
    with container.uow() as uow:
        s = uow.session
        assert s.scalar(select(func.count()).select_from(Payment)) == 1
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 1
        # 300.00 = A's 18.40 interest + 281.60 principal, once.
        assert claims_of(uow, ids["P-1"])["A"].principal_paid == D("281.60")


def test_a_payment_in_full_closes_the_dossier_and_records_paid_in_full(container, dossiers):
    ids = dossiers(ROWS)
    result = pay(container, ids["F-1"], "310.00", date(2025, 7, 1), "VIR-FULL")
    assert result.paid_in_full and result.unapplied == D("0.00")
    with container.uow() as uow:
        dossier = uow.session.get(Dossier, ids["F-1"])
        assert (dossier.status, dossier.close_reason, dossier.closed_at) == (DossierStatus.CLOSED, CloseReason.PAID, NOW)
        event = uow.session.scalars(select(DossierEvent).where(DossierEvent.kind == EventKind.PAID_IN_FULL)).one()
        assert event.dossier_id == ids["F-1"] and event.data["payment_id"] == result.payment_id
        assert event.data["amount"] == "310.00"


def test_an_overpayment_is_held_in_suspense_to_be_refunded(container, dossiers):
    ids = dossiers(ROWS)
    result = pay(container, ids["F-1"], "400.00", date(2025, 7, 1), "VIR-OVER")
    # 400.00 received, 310.00 owed: 90.00 left over.
    assert result.paid_in_full and result.unapplied == D("90.00")
    with container.uow() as uow:
        books = balances(uow.session)
        assert books[LedgerAccount.TRUST_BANK] == D("400.00")
        assert (books[LedgerAccount.CREDITOR_PAYABLE], books[LedgerAccount.SUSPENSE]) == (D("-310.00"), D("-90.00"))


def test_a_payment_interrupts_prescription_for_a_full_new_period(container, dossiers):
    ids = dossiers(ROWS)
    with container.uow() as uow:
        # Consumer debt: two years from the due date 2025-01-31.
        assert claims_of(uow, ids["F-1"])["F1"].prescription_expires_on == date(2027, 1, 31)
    pay(container, ids["F-1"], "10.00", date(2025, 7, 1), "VIR-PRESC")
    with container.uow() as uow:
        claim = claims_of(uow, ids["F-1"])["F1"]
        # Two years from the payment: 2025-07-01 + 2 years.
        assert (claim.last_interruption_on, claim.last_interruption_kind, claim.prescription_expires_on) == (
            date(2025, 7, 1), "payment", date(2027, 7, 1))
        assert claim.prescription_start == date(2025, 1, 31)


def test_the_debtors_choice_of_claim_comes_first(container, dossiers):
    ids = dossiers(ROWS)
    with container.uow() as uow:
        b = claims_of(uow, ids["P-1"])["B"].id
    result = pay(container, ids["P-1"], "100.00", date(2025, 7, 1), "VIR-CHOICE", debtor_choice=[b])
    assert [(x.claim_id, x.component, x.amount) for x in result.allocations] == [(b, P, D("100.00"))]


def test_a_payment_that_is_not_a_positive_number_of_cents_is_refused(container, dossiers):
    ids = dossiers(ROWS)
    with container.uow() as uow:
        for amount in (D("0"), D("-5"), D("10.005")):
            with pytest.raises(PaymentError):
                apply_payment(uow.session, dossier_id=ids["F-1"], amount=amount, received_on=date(2025, 7, 1),
                              method="transfer", external_id="VIR-BAD", now=NOW, rates=container.rates)


def test_a_reversal_puts_the_books_and_the_claims_back(container, dossiers):
    ids = dossiers(ROWS)
    result = pay(container, ids["P-1"], "1200.00", date(2025, 7, 1), "VIR-BOUNCE")
    with container.uow() as uow:
        reversal = reverse_payment(uow.session, result.payment_id, on=date(2025, 7, 10), now=NOW, rates=container.rates)
        assert_books_balanced(uow.session)
        uow.commit()
    assert not reversal.already_reversed
    with container.uow() as uow:
        again = reverse_payment(uow.session, result.payment_id, on=date(2025, 7, 11), now=NOW, rates=container.rates)
        assert again.already_reversed
        c = claims_of(uow, ids["P-1"])
        assert [(x.principal_paid, x.interest_paid) for x in (c["A"], c["B"])] == [(D("0.00"), D("0.00"))] * 2
        # The interest crystallised on 2025-07-01 stays owed: 1000 + 18.40 + 500 = 1518.40.
        totals = dossier_totals(uow.session, [ids["P-1"]], as_of=date(2025, 7, 1), rates=container.rates)
        assert totals[ids["P-1"]].balance == D("1518.40")
        assert uow.session.get(Payment, result.payment_id).status == PaymentStatus.REVERSED
        books = balances(uow.session)
        assert all(books[a] == 0 for a in LedgerAccount)
        # The debtor acknowledged the debt by paying: the interruption stays.
        assert c["A"].last_interruption_on == date(2025, 7, 1)


def test_a_reversal_gives_back_the_interest_the_principal_would_have_borne(container, dossiers):
    ids = dossiers(ROWS)
    first = pay(container, ids["P-1"], "1200.00", date(2025, 7, 1), "VIR-1")
    # A second payment on 2025-10-01 crystallises A again (no principal due: nothing) and pays B.
    pay(container, ids["P-1"], "100.00", date(2025, 10, 1), "VIR-2")
    with container.uow() as uow:
        reverse_payment(uow.session, first.payment_id, on=date(2025, 10, 15), now=NOW, rates=container.rates)
        assert_books_balanced(uow.session)
        uow.commit()
    with container.uow() as uow:
        c = claims_of(uow, ids["P-1"])
        # A's 1000.00 bears interest again from 2025-07-01 to 2025-10-01, 92 days of 2025 S2 at 2.76 %:
        # 1000 x 2.76 % x 92 / 365 = 27.60 x 92 / 365 = 2539.20 / 365 = 6.9567... -> 6.96;
        # with the 18.40 of S1 crystallised on 2025-07-01: 25.36.
        assert (c["A"].interest_accrued, c["A"].interest_paid, c["A"].principal_paid) == (D("25.36"), 0, 0)
        assert c["B"].principal_paid == D("100.00")


def test_reversing_a_payment_in_full_reopens_the_dossier(container, dossiers):
    ids = dossiers(ROWS)
    result = pay(container, ids["F-1"], "310.00", date(2025, 7, 1), "VIR-FULL")
    with container.uow() as uow:
        reverse_payment(uow.session, result.payment_id, on=date(2025, 7, 5), now=NOW, rates=container.rates)
        assert_books_balanced(uow.session)
        uow.commit()
    with container.uow() as uow:
        dossier = uow.session.get(Dossier, ids["F-1"])
        assert (dossier.status, dossier.close_reason, dossier.closed_at) == (DossierStatus.NEW, None, None)
        note = uow.session.scalars(select(DossierEvent).where(DossierEvent.kind == EventKind.NOTE)).one()
        assert note.data == {"kind": "payment_reversed", "payment_id": result.payment_id, "amount": "310.00",
                             "on": "2025-07-05"}


def test_a_payment_past_the_last_known_rate_crystallises_what_is_known_and_says_so(container, dossiers):
    ids = dossiers(["M-1;particulier;Roux;Jean;M1;autre;1 000,00;01/12/2025;legal;01/01/2026"])
    result = pay(container, ids["M-1"], "100.00", date(2026, 9, 1), "VIR-LATE")
    assert result.interest_incomplete and not result.paid_in_full
    with container.uow() as uow:
        claim = claims_of(uow, ids["M-1"])["M1"]
        # Interest stops on 2026-07-01 (2026 S2 unknown): 1000 x 2.62 % x 181 / 365 = 12.9923... -> 12.99;
        # 100.00 pays those 12.99, then 87.01 of principal.
        assert (claim.interest_accrued, claim.interest_accrued_to) == (D("12.99"), date(2026, 7, 1))
        assert (claim.interest_paid, claim.principal_paid) == (D("12.99"), D("87.01"))
