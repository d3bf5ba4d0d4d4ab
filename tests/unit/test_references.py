"""ISO 11649 payment references: printing and finding them in bank labels."""

from __future__ import annotations

import pytest
from stdnum import iso11649

from models.references import parse_payment_reference, payment_reference


def test_the_reference_of_dossier_1234_is_rf54_1234():
    # "1234" + "RF00" with R=27, F=15: 1234271500 = 97 x 12724448 + 44; 98 - 44 = 54
    assert payment_reference(1234) == "RF54 1234"
    assert payment_reference(1234, compact=True) == "RF541234"


def test_a_longer_reference_is_printed_in_groups_of_four():
    # 12345271500 mod 97: 123452715 = 97 x 1272708 + 39, 3900 = 97 x 40 + 20; 98 - 20 = 78
    assert payment_reference(12345) == "RF78 1234 5"


@pytest.mark.parametrize("dossier_id", [1, 7, 42, 1234, 98765, 123456789, 10**21 - 1])
def test_every_reference_is_a_valid_iso_11649_reference(dossier_id):
    assert iso11649.is_valid(payment_reference(dossier_id))


@pytest.mark.parametrize("dossier_id", [0, -1, 10**21])
def test_a_dossier_id_out_of_range_is_refused(dossier_id):
    with pytest.raises(ValueError):
        payment_reference(dossier_id)


@pytest.mark.parametrize(
    "label",
    [
        "RF78 1234 5",
        "RF7812345",
        "rf78 12345",
        "VIR SEPA M DUPONT REF RF78 1234 5 FACTURE",
        "Virement de Jean Dupont rf 78 1234 5 merci",
        "PRLV RF78 1234 5 2024",  # an unrelated number after the reference
        "facture 2024-118 RF78 12345",
    ],
)
def test_the_dossier_id_is_found_in_a_bank_label_written_any_way(label):
    assert parse_payment_reference(label) == 12345


@pytest.mark.parametrize(
    "label",
    ["", "VIR SEPA M DUPONT", "RF79 1234 5", "RF78 1234 6", "REF 12345", "RF78 0123 45"],
)
def test_a_label_without_a_valid_reference_gives_none(label):
    assert parse_payment_reference(label) is None


def test_the_first_valid_reference_wins_when_an_invalid_one_comes_before_it():
    assert parse_payment_reference("RF00 1111 puis RF54 1234") == 1234


@pytest.mark.parametrize("dossier_id", [1, 9, 10, 99, 100, 4321, 77777, 2**40])
def test_printing_then_parsing_gives_the_dossier_back(dossier_id):
    assert parse_payment_reference(f"VIR {payment_reference(dossier_id)} MERCI") == dossier_id
    compact = payment_reference(dossier_id, compact=True)
    assert parse_payment_reference(compact.lower()) == dossier_id


def test_the_fast_check_digit_test_agrees_with_iso_11649_on_every_check_of_many_bodies():
    from models.references import _check_digits_hold

    for body in ("1", "7", "42", "1234", "12345", "98765", "100000", "999999999999999999999"):
        for n in range(100):
            check = f"{n:02d}"
            assert _check_digits_hold(check, body) == iso11649.is_valid(f"RF{check}{body}")
