"""What the import hands from its reader to its parser processes and from them to its writer:
cells picked by column, validated rows as plain values, and the digest that lets a re-import
skip the rows it already holds."""

from __future__ import annotations

import pickle
from datetime import date
from decimal import Decimal
from enum import Enum

from models.phones import PhoneNormaliser
from services.portfolio_file import RawRow, pick_values
from services.portfolio_import import CLAIM_FIELDS, DEBTOR_FIELDS, WriteRow, row_digests, write_form
from services.portfolio_rows import parse_row

COLUMNS = {"dossier_ref": 0, "last_name": 1, "principal": 2, "due_date": 3, "mobile": 4, "interest_mode": 5}


def test_cells_are_picked_stripped_and_a_short_row_reads_as_empty_cells():
    assert pick_values(COLUMNS, [" D-1 ", "Roux", "", "01/01/2026"]) == {
        "dossier_ref": "D-1", "last_name": "Roux", "principal": None, "due_date": "01/01/2026",
        "mobile": None, "interest_mode": None}
    assert pick_values({"principal": 0}, [12.5])["principal"] == 12.5  # XLSX numbers untouched


def test_a_validated_row_reaches_the_writer_as_plain_values_in_column_order():
    cells = ["D-1", "Roux", "1 234,56", "31/12/2025", "06 12 34 56 78", "legal"]
    row = parse_row(RawRow(2, pick_values(COLUMNS, cells), cells), phones=PhoneNormaliser(), as_of=date(2026, 11, 2))
    out = WriteRow._make(pickle.loads(pickle.dumps(write_form(row, "d" * 32))))
    debtor, claim = dict(zip(DEBTOR_FIELDS, out.debtor)), dict(zip(CLAIM_FIELDS, out.claim))
    assert debtor["kind"] == "person" and debtor["last_name"] == "Roux" and debtor["timezone"] == "Europe/Paris"
    assert claim["nature"] == "consumer" and claim["interest_mode"] == "legal"
    assert claim["principal"] == Decimal("1234.56") and claim["due_date"] == date(2025, 12, 31)
    assert out.contacts == (("phone", "+33612345678", True, None, "mobile", "FR", 0),)
    values = [*out.debtor, *out.claim, *(v for c in out.contacts for v in c)]
    assert not any(isinstance(v, Enum) for v in values)  # enums would cost the writer to unpickle


def test_the_row_digest_changes_with_any_cell_and_with_the_column_mapping():
    digest = row_digests(COLUMNS)
    cells = ["D-1", "Roux", "10,00", "01/01/2026", "", ""]
    assert digest(cells) == digest(list(cells)) and len(digest(cells)) == 32
    assert digest(cells) != digest(["D-1", "Roux", "10,01", "01/01/2026", "", ""])
    other = row_digests({**COLUMNS, "last_name": 4, "mobile": 1})
    assert other(cells) != digest(cells)


def test_an_xlsx_row_is_digested_with_its_numbers_dates_and_empty_cells():
    digest = row_digests(COLUMNS)
    row = ["D-1", "Roux", 10.5, date(2026, 1, 1), None, ""]
    assert digest(row) == digest(list(row))
    assert digest(row) != digest(["D-1", "Roux", 10.5, date(2026, 1, 2), None, ""])
    assert digest(row) != digest(["D-1", "Roux", "10.5", "2026-01-01", "None", ""])


def test_a_chunk_goes_on_past_its_size_until_the_dossier_changes():
    from services.portfolio_import import _chunks

    rows = ["A", "A", "B", "B", "B", "C", "D", "D"]
    assert list(_chunks(rows, 3, key=lambda r: r)) == [["A", "A", "B", "B", "B"], ["C", "D", "D"]]
    assert list(_chunks(rows, 2, key=lambda r: r)) == [["A", "A"], ["B", "B", "B"], ["C", "D", "D"]]
    assert list(_chunks(rows, 3)) == [["A", "A", "B"], ["B", "B", "C"], ["D", "D"]]
    assert list(_chunks([], 3, key=lambda r: r)) == []
