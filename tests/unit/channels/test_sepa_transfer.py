"""Bank accounts and pain.001 files (channels/sepa_transfer.py), without a database."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from channels.sepa_transfer import BankAccountError, CreditTransfer, check_account, credit_transfer_file

OFFICE = check_account("FR7630006000011234567890189", "AGRIFRPP", owner="Cabinet Relance")
CREDITOR = check_account("FR76 3000 4000 0100 0123 4567 830", "bnpafrpp", owner="Banque Exemple SA")
WHEN = dict(message_id="REL-20250801090000-1", execution_date=date(2025, 8, 1),
            created_at=datetime(2025, 8, 1, 9, 0, tzinfo=UTC))


def test_an_account_is_normalised_compact_and_upper_case():
    assert (CREDITOR.iban, CREDITOR.bic) == ("FR7630004000010001234567830", "BNPAFRPP")
    assert check_account("DE89370400440532013000", None, owner="X").bic is None


@pytest.mark.parametrize("iban, bic, message", [
    (None, None, "Banque Exemple : aucun IBAN"),
    ("  ", None, "aucun IBAN"),
    ("FR7630004000010001234567831", None, "IBAN invalide"),
    ("FR76300040000100012345678", None, "IBAN invalide"),
    ("FR7630004000010001234567830", "BNPA", "BIC invalide"),
])
def test_a_missing_or_wrong_account_is_refused_with_the_owners_name(iban, bic, message):
    with pytest.raises(BankAccountError, match=message):
        check_account(iban, bic, owner="Banque Exemple")


def test_the_same_batch_always_gives_the_same_file():
    transfers = [CreditTransfer(CREDITOR, D("410.44"), "RELANCE-REM-1", "Reversement 1")]
    assert credit_transfer_file(OFFICE, transfers, **WHEN) == credit_transfer_file(OFFICE, transfers, **WHEN)
    assert b"<MsgId>REL-20250801090000-1</MsgId>" in credit_transfer_file(OFFICE, transfers, **WHEN)


def test_a_transfer_that_is_not_a_positive_number_of_cents_is_refused():
    for amount in (D("0.00"), D("-1.00"), D("1.001")):
        with pytest.raises(ValueError, match="positive amount in cents"):
            credit_transfer_file(OFFICE, [CreditTransfer(CREDITOR, amount, "E2E-1", "x")], **WHEN)


def test_ids_outside_the_sepa_character_set_or_too_long_are_refused():
    with pytest.raises(ValueError, match="end_to_end_id"):
        credit_transfer_file(OFFICE, [CreditTransfer(CREDITOR, D("1.00"), "É" * 3, "x")], **WHEN)
    with pytest.raises(ValueError, match="message_id"):
        credit_transfer_file(OFFICE, [CreditTransfer(CREDITOR, D("1.00"), "E2E", "x")],
                             **{**WHEN, "message_id": "M" * 36})
