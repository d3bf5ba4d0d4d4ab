"""The books' checks (services/books.py) find what is broken: they are not a rubber stamp."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models.enums import LedgerAccount, RemittanceItemKind
from models.ledger import JournalEntry, LedgerLine
from models.remittance import RemittanceItem
from services.books import check_invariants, trial_balance

NOW = datetime(2025, 8, 1, tzinfo=UTC)
ROWS = ["A-1;particulier;Martin;Paul;FA;consommation;1 000,00;01/12/2024;;"]


def _book(uow, *lines):
    entry = JournalEntry(posted_on=date(2025, 8, 1), kind="test", reference="t", created_at=NOW, data={})
    entry.lines = [LedgerLine(account=a, creditor_id=c, amount=D(x)) for a, c, x in lines]
    uow.session.add(entry)
    uow.session.flush()
    return entry.id


def test_an_entry_that_does_not_balance_and_a_trust_account_short_of_the_payables_are_reported(
        container, dossiers):
    dossiers(ROWS)
    with container.uow() as uow:
        assert check_invariants(uow) == []
        bad = _book(uow, (LedgerAccount.TRUST_BANK, 1, "10.00"), (LedgerAccount.CREDITOR_PAYABLE, 1, "-9.99"))
        problems = check_invariants(uow)
        assert [(p.rule, p.detail) for p in problems] == [
            ("entry_balance", f"journal entry {bad} is off by 0.01"),
            ("trust_account", "creditor 1: trust bank 10.00 != payables + suspense (off by 0.01)")]


def test_fees_recognised_but_not_moved_to_the_office_are_reported(container, dossiers):
    dossiers(ROWS)
    with container.uow() as uow:
        _book(uow, (LedgerAccount.CREDITOR_PAYABLE, 1, "5.00"), (LedgerAccount.FEE_INCOME, 1, "-5.00"))
        assert {p.rule for p in check_invariants(uow)} == {"trust_account", "office_fees"}
        assert trial_balance(uow)[LedgerAccount.FEE_INCOME] == D("-5.00")


def test_the_database_refuses_to_remit_a_payment_twice(container, dossiers, mandate, pay, run):
    ids = dossiers(ROWS)
    mandate()
    payment_id = pay(ids["A-1"], "120.00", date(2025, 7, 1), "VIR-1")
    [r] = run(date(2025, 8, 1)).remittances
    with container.uow() as uow:
        item = uow.session.scalar(select(RemittanceItem))
        uow.session.add(RemittanceItem(
            remittance_id=r.remittance_id, payment_id=payment_id, kind=RemittanceItemKind.PAYMENT,
            dossier_id=ids["A-1"], received_on=item.received_on, deadline=item.deadline, gross=item.gross,
            commission=item.commission, fixed_fee=item.fixed_fee, net=item.net))
        with pytest.raises(IntegrityError):
            uow.session.flush()
