"""Remittance tests: the payment tests' tiny portfolio, a creditor with a mandate and an IBAN,
payments applied the way services/payments.py does, and the books checked after each step."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from models.parties import Creditor
from services.books import check_invariants
from services.payments import apply_payment, reverse_payment
from services.remittance import OfficeAccounts, remit
from tests.integration.payments.conftest import dossiers  # noqa: F401 - the fixture, shared

NOW = datetime(2025, 8, 1, 9, 0, tzinfo=UTC)
CREDITOR = "Banque Exemple"
CREDITOR_IBAN = "FR7630004000010001234567830"
CREDITOR_BIC = "BNPAFRPP"
OFFICE = OfficeAccounts(
    name="Cabinet Relance Recouvrement", trust_iban="FR7630006000011234567890189", trust_bic="AGRIFRPP",
    fees_iban="FR7630003000010001112223371", fees_bic="SOGEFRPP",
    address_lines=("12 RUE DE LA REPUBLIQUE", "69002 LYON"), siren="552100554",
    email="contact@relance.example", phone="+33478000000",
)


def assert_books_hold(container) -> None:
    with container.uow() as uow:
        assert check_invariants(uow) == []


@pytest.fixture
def mandate(container):
    """`mandate(rate, fee, ...)` sets the creditor's mandate terms and bank account."""

    def set_terms(rate="0.12", fee="15.00", *, delay=30, iban=CREDITOR_IBAN, bic=CREDITOR_BIC, name=CREDITOR,
                  legal_name="Banque Exemple SA"):
        with container.uow() as uow:
            cred = uow.session.scalar(select(Creditor).where(Creditor.name == name))
            cred.commission_rate, cred.fixed_fee_per_file = Decimal(rate), Decimal(fee)
            cred.remittance_delay_days, cred.iban, cred.bic = delay, iban, bic
            cred.legal_name = legal_name
            uow.commit()

    return set_terms


@pytest.fixture
def pay(container):
    def apply(dossier_id, amount, received_on, external_id, method="transfer"):
        with container.uow() as uow:
            result = apply_payment(uow.session, dossier_id=dossier_id, amount=Decimal(amount),
                                   received_on=received_on, method=method, external_id=external_id,
                                   now=NOW, rates=container.rates)
            uow.commit()
        assert_books_hold(container)
        return result.payment_id

    return apply


@pytest.fixture
def reverse(container):
    def undo(payment_id, on):
        with container.uow() as uow:
            reverse_payment(uow.session, payment_id, on=on, now=NOW, rates=container.rates)
            uow.commit()
        assert_books_hold(container)

    return undo


@pytest.fixture
def run(container, tmp_path):
    out = tmp_path / "reversements"

    def remit_as_of(as_of: date, **kw):
        kw.setdefault("write_pdf", False)
        result = remit(container.uow, as_of=as_of, now=NOW, office=OFFICE, out_dir=out,
                       clearing_days={"cheque": 14}, **kw)
        assert_books_hold(container)
        return result

    remit_as_of.out = out
    return remit_as_of
