"""Reading payment files (services/payment_files.py): CAMT.053 versions, CSV spellings, stable ids."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from services.payment_files import PaymentFileError, read_payment_file

D = Decimal
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payments"


def test_a_camt053_v02_statement_gives_its_booked_credits_once_each():
    f = read_payment_file(FIXTURES / "camt053_v02_duplicate.xml")
    assert (f.format, f.account) == ("camt053", "FR7630006000011234567890189")
    assert [(p.external_id, p.amount, p.booked_on, p.debtor_name) for p in f.payments] == [
        ("camt:FR7630006000011234567890189:ACS-0001", D("300.00"), date(2025, 7, 1), "PAUL MARTIN"),
        ("camt:FR7630006000011234567890189:ACS-0002", D("310.00"), date(2025, 7, 1), "DURAND LEA"),
        ("camt:FR7630006000011234567890189:ACS-0005", D("42.00"), date(2025, 7, 1), "JEAN INCONNU"),
    ]
    assert f.payments[0].reference == "{REF_P1}" and f.payments[0].debtor_iban == "FR7630001007941234567890185"
    assert f.payments[1].label == "REGLEMENT FACTURE F1"
    assert dict(f.skipped) == {"duplicate_in_file": 1, "debit": 1, "not_booked": 1}


def test_a_camt053_v08_statement_reads_the_status_code_and_the_party_name():
    [p] = read_payment_file(FIXTURES / "camt053_v08_iban.xml").payments
    assert (p.external_id, p.debtor_name, p.debtor_iban, p.label) == (
        "camt:FR7630006000011234567890189:TX-0801-1", "M PAUL MARTIN", "FR7630001007941234567890185", "MENSUALITE")


def test_an_xml_bomb_is_refused_without_expanding_it(tmp_path):
    bomb = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&b;</Document>')
    path = tmp_path / "bomb.xml"
    path.write_text(bomb)
    with pytest.raises(PaymentFileError, match="XML invalide"):
        read_payment_file(path)


def test_a_csv_with_french_numbers_and_a_mapping_is_read(tmp_path):
    path = tmp_path / "psp.csv"
    path.write_text("Date règlement,Somme,Payeur\n01/07/2025,\"1 234,56\",Paul Martin\n", encoding="utf-8")
    [p] = read_payment_file(path, mapping={"booked_on": "Date règlement", "amount": "Somme",
                                           "debtor_name": "Payeur"}).payments
    assert (p.amount, p.booked_on, p.debtor_name, p.method) == (D("1234.56"), date(2025, 7, 1), "Paul Martin", "transfer")


def test_csv_rows_without_an_id_get_a_stable_id_that_tells_twin_payments_apart(tmp_path):
    path = tmp_path / "releve.csv"
    path.write_text("date;montant;libelle\n01/07/2025;50,00;VIR\n01/07/2025;50,00;VIR\n", encoding="utf-8")
    first = [p.external_id for p in read_payment_file(path, account="FR7630006000011234567890189").payments]
    again = [p.external_id for p in read_payment_file(path, account="FR7630006000011234567890189").payments]
    other = [p.external_id for p in read_payment_file(path, account="FR1420041010050500013M02606").payments]
    assert first == again and len(set(first)) == 2 and not set(first) & set(other)


def test_every_bad_row_is_reported_with_its_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("date;montant\n01/07/2025;abc\n31/02/2025;10,00\n01/07/2025;12,00\n", encoding="utf-8")
    with pytest.raises(PaymentFileError) as caught:
        read_payment_file(path)
    assert [e.split(" : ")[0] for e in caught.value.errors] == ["ligne 2", "ligne 3"]
