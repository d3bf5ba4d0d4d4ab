"""Portfolio import against SQLite and PostgreSQL: bad rows are reported with their line and
reason while good rows land; importing twice changes nothing; a changed row updates."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Claim, ContactPoint, Debtor, Dossier, DossierEvent
from models.enums import ClaimNature, ContactKind, DebtorKind, InterestMode, LineType
from services.portfolio_import import ImportFileError, import_portfolio

AS_OF = date(2026, 11, 2)
HEADER = ("reference_dossier;type_debiteur;civilite;nom;prenom;raison_sociale;siren;reference_facture;"
          "nature;montant_principal;frais;date_echeance;interets;mobile;telephone;email;adresse1;code_postal;ville")


def write(path: Path, lines: list[str], encoding="utf-8") -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding=encoding)
    return path


GOOD = [
    "A-1;particulier;Mme;Lefèvre;Hélène;;;F1;consommation;1 234,56;;31/12/2025;legal;06 12 34 56 78;;helene@exemple.fr;12 rue Pasteur;75011;Paris",
    "A-2;entreprise;;;;Garage Dupont SARL;732829320;F2;commerciale;2500.00;;2025-06-30;b2b;;01 42 68 53 00;compta@garage.fr;3 avenue Jean Jaurès;67000;Strasbourg",
    "A-2;entreprise;;;;Garage Dupont SARL;732829320;F3;commerciale;100,00;;2025-07-31;b2b;;01 42 68 53 00;compta@garage.fr;3 avenue Jean Jaurès;67000;Strasbourg",
    "A-3;particulier;M.;Payet;Loïc;;;F4;;310,00;;15/03/2026;;0692 12 34 56;;;5 chemin des Vignes;97400;Saint-Denis",
]
BAD = [
    "B-1;particulier;M.;Sans;Montant;;;F5;;douze euros;;31/12/2025;;;;;;;",  # line 6
    ";particulier;M.;Sans;Ref;;;F6;;10,00;;31/12/2025;;;;;;;",  # line 7
    "B-3;particulier;M.;Date;Fausse;;;F7;;10,00;;31/02/2025;;;;;;;",  # line 8
    "B-4;entreprise;;;;Siren Faux SA;732829321;F8;;10,00;;01/01/2025;;;;;;;",  # line 9
    "B-5;particulier;M.;Frais;Conso;;;F9;consommation;10,00;15,00;01/01/2025;;;;;;;",  # line 10
]


def run_import(container, path, tmp_path, **kw):
    return import_portfolio(container.uow, path, creditor="Banque Exemple", as_of=AS_OF,
                            rejects_path=tmp_path / "rejets.csv", **kw)


def count(container, model):
    with container.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


def test_good_rows_land_and_each_bad_row_is_reported_with_its_line_and_reason(container, tmp_path):
    path = write(tmp_path / "p.csv", GOOD + BAD)
    report = run_import(container, path, tmp_path)
    assert (report.rows, report.created, report.rejected) == (9, 3, 5)
    assert count(container, Dossier) == 3 and count(container, Claim) == 4
    with open(report.rejected_path, encoding="utf-8-sig") as fh:
        rejected = list(csv.reader(fh, delimiter=";"))
    assert rejected[0][:2] == ["ligne", "motif"]
    lines = {int(r[0]): r[1] for r in rejected[1:]}
    assert sorted(lines) == [6, 7, 8, 9, 10]
    assert "montant" in lines[6] and "référence" in lines[7] and "date" in lines[8]
    assert "SIREN" in lines[9].upper() and "L111-8" in lines[10]
    assert rejected[1][2] == "B-1"  # the original row follows, to be corrected and re-sent


def test_the_imported_data_is_normalised(container, tmp_path):
    run_import(container, write(tmp_path / "p.csv", GOOD), tmp_path)
    with container.uow() as uow:
        s = uow.session
        d1 = s.scalar(select(Dossier).where(Dossier.external_ref == "A-1"))
        assert d1.amount_placed == Decimal("1234.56")
        debtor = s.get(Debtor, d1.debtor_id)
        assert debtor.kind == DebtorKind.PERSON and debtor.timezone == "Europe/Paris"
        phones = {c.value: c for c in debtor.contact_points if c.kind == ContactKind.PHONE}
        assert phones["+33612345678"].line_type == LineType.MOBILE
        claim = d1.claims[0]
        assert claim.nature == ClaimNature.CONSUMER and claim.interest_mode == InterestMode.LEGAL
        # Consumer debt: two years from the due date (C. conso L218-2).
        assert claim.prescription_expires_on == date(2027, 12, 31)

        d2 = s.scalar(select(Dossier).where(Dossier.external_ref == "A-2"))
        assert [c.invoice_ref for c in d2.claims] == ["F2", "F3"]
        # B2B: 40 EUR indemnity per late invoice (D441-5), penalties from the day after due date.
        assert d2.amount_placed == Decimal("2680.00")
        assert d2.claims[0].interest_from == date(2025, 7, 1)
        company = s.get(Debtor, d2.debtor_id)
        assert company.siren == "732829320" and company.holiday_region is not None

        d3 = s.scalar(select(Dossier).where(Dossier.external_ref == "A-3"))
        reunion = s.get(Debtor, d3.debtor_id)
        assert reunion.timezone == "Indian/Reunion"
        assert any(c.value == "+262692123456" for c in reunion.contact_points)
        address = next(c for c in reunion.contact_points if c.kind == ContactKind.ADDRESS)
        assert address.value.splitlines()[-1] == "97400 SAINT DENIS"  # no punctuation on the last line


def test_importing_the_same_file_twice_changes_nothing(container, tmp_path):
    path = write(tmp_path / "p.csv", GOOD)
    run_import(container, path, tmp_path)
    before = [count(container, m) for m in (Dossier, Claim, Debtor, ContactPoint, DossierEvent)]
    report = run_import(container, path, tmp_path)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert [count(container, m) for m in (Dossier, Claim, Debtor, ContactPoint, DossierEvent)] == before


def test_a_changed_row_updates_its_claims_and_adds_the_new_contact_point(container, tmp_path):
    run_import(container, write(tmp_path / "p.csv", GOOD), tmp_path)
    changed = [GOOD[0].replace("1 234,56", "1 300,00").replace("06 12 34 56 78", "07 81 22 33 44"), *GOOD[1:]]
    report = run_import(container, write(tmp_path / "p2.csv", changed), tmp_path)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    with container.uow() as uow:
        d1 = uow.session.scalar(select(Dossier).where(Dossier.external_ref == "A-1"))
        assert d1.claims[0].principal == Decimal("1300.00") and d1.amount_placed == Decimal("1300.00")
        values = {c.value for c in d1.debtor.contact_points}
        assert {"+33612345678", "+33781223344"} <= values


def test_an_invalid_phone_is_kept_as_an_invalid_contact_point_and_the_row_lands(container, tmp_path):
    row = "C-1;particulier;M.;Roux;Jean;;;F1;;50,00;;01/01/2026;;12345;;pas-un-email;;;"
    report = run_import(container, write(tmp_path / "p.csv", [row]), tmp_path)
    assert report.created == 1 and report.warnings == 2
    with container.uow() as uow:
        points = uow.session.scalars(select(ContactPoint)).all()
        assert {(p.kind, p.valid) for p in points} == {(ContactKind.PHONE, False), (ContactKind.EMAIL, False)}
        assert all(p.invalid_reason for p in points)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_bom_and_latin_encodings_with_comma_separator_are_read(container, tmp_path, encoding):
    lines = [HEADER.replace(";", ","), "E-1,particulier,Mme,Gérard,Zoé,,,F1,,\"1 234,56\",,31/12/2025,,,,,,,"]
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    report = run_import(container, path, tmp_path)
    assert report.created == 1
    with container.uow() as uow:
        debtor = uow.session.scalars(select(Debtor)).one()
        assert (debtor.last_name, debtor.first_name) == ("Gérard", "Zoé")


def test_an_xlsx_portfolio_is_read_with_its_native_dates_and_numbers(container, tmp_path):
    from datetime import datetime

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.split(";"))
    ws.append(["X-1", "particulier", "M.", "Morel", "Éric", None, None, "F1", None, 1234.56, None,
               datetime(2025, 12, 31), None, "0612345678", None, None, None, None, None])
    ws.append(["X-2", "particulier", "M.", "Morel", "Éric", None, None, "F1", None, "n/a", None,
               datetime(2025, 12, 31), None, None, None, None, None, None, None])
    wb.save(tmp_path / "p.xlsx")
    report = run_import(container, tmp_path / "p.xlsx", tmp_path)
    assert (report.created, report.rejected) == (1, 1)
    with container.uow() as uow:
        claim = uow.session.scalars(select(Claim)).one()
        assert claim.principal == Decimal("1234.56") and claim.due_date == date(2025, 12, 31)


def test_a_file_without_the_required_columns_is_refused_and_nothing_lands(container, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("nom;prenom\nMartin;Jean\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="reference_dossier"):
        run_import(container, path, tmp_path)
    assert count(container, Dossier) == 0


def test_a_mapping_file_names_the_creditors_own_columns(container, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("N° contrat;Client;Solde dû;Exigible le\nK-1;Durand;99,90;01/10/2026\n", encoding="utf-8")
    mapping = tmp_path / "map.toml"
    mapping.write_text('dossier_ref = "N° contrat"\nlast_name = "Client"\nprincipal = "Solde dû"\n'
                       'due_date = "Exigible le"\n', encoding="utf-8")
    report = run_import(container, path, tmp_path, mapping_path=mapping)
    assert report.created == 1


def test_rows_of_one_dossier_split_across_chunks_still_make_one_dossier(container, tmp_path):
    rows = [GOOD[1], GOOD[0], GOOD[3], GOOD[2]]  # A-2's two claims far apart
    report = run_import(container, write(tmp_path / "p.csv", rows), tmp_path, chunk_rows=2)
    assert report.created == 3
    assert count(container, Claim) == 4


def test_the_cli_prints_the_json_summary(container, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from app.cli import app

    monkeypatch.setenv("RELANCE_DATABASE_URL", container.settings.database_url)
    path = write(tmp_path / "p.csv", GOOD + BAD[:1])
    result = CliRunner().invoke(app, ["import", str(path), "--creditor", "Banque Exemple", "--json",
                                      "--rejects", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("rows", "created", "updated", "rejected")} == {
        "rows": 5, "created": 3, "updated": 0, "rejected": 1}
    assert data["rejected_path"].endswith("r.csv")


def count_parsed_rows(monkeypatch) -> list[int]:
    """Counts the rows validated in this process (small files are parsed in-process)."""
    import services.portfolio_import as portfolio_import

    seen: list[int] = []
    real = portfolio_import.parse_row

    def counting(raw_row, **kw):
        seen.append(raw_row.line)
        return real(raw_row, **kw)

    monkeypatch.setattr(portfolio_import, "parse_row", counting)
    return seen


def test_reimporting_an_unchanged_file_validates_none_of_its_rows_again(container, tmp_path, monkeypatch):
    path = write(tmp_path / "p.csv", GOOD + BAD)
    run_import(container, path, tmp_path)
    parsed = count_parsed_rows(monkeypatch)
    report = run_import(container, path, tmp_path)
    assert (report.rows, report.created, report.updated, report.unchanged, report.rejected) == (9, 0, 0, 3, 5)
    assert sorted(parsed) == [6, 7, 8, 9, 10]  # only the rejected rows, reported again


def test_a_row_rewritten_with_the_same_values_changes_nothing_and_is_skipped_next_time(container, tmp_path,
                                                                                       monkeypatch):
    run_import(container, write(tmp_path / "p.csv", GOOD), tmp_path)
    rewritten = [GOOD[0].replace("1 234,56", "1234,56").replace("31/12/2025", "2025-12-31"), *GOOD[1:]]
    before = [count(container, m) for m in (Claim, ContactPoint, DossierEvent)]
    report = run_import(container, write(tmp_path / "p2.csv", rewritten), tmp_path)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert [count(container, m) for m in (Claim, ContactPoint, DossierEvent)] == before
    parsed = count_parsed_rows(monkeypatch)
    run_import(container, write(tmp_path / "p3.csv", rewritten), tmp_path)
    assert parsed == []


def test_a_claim_repeated_in_a_file_ends_with_its_last_row_on_every_import(container, tmp_path):
    first = "A-9;particulier;M.;Roux;Jean;;;F9;;100,00;;01/01/2026;;;;;;;"
    last = first.replace("100,00", "250,00")
    rows = [first, GOOD[0], GOOD[3], last]
    for chunk_rows in (5000, 1):
        report = run_import(container, write(tmp_path / "p.csv", rows), tmp_path, chunk_rows=chunk_rows)
        assert report.rejected == 0
        with container.uow() as uow:
            dossier = uow.session.scalar(select(Dossier).where(Dossier.external_ref == "A-9"))
            assert [c.principal for c in dossier.claims] == [Decimal("250.00")]


def test_a_file_parsed_in_parser_processes_lands_the_same_rows_and_rejected_lines(container, tmp_path):
    rows = GOOD + BAD + [r.replace("A-", "Z-") for r in GOOD]
    report = run_import(container, write(tmp_path / "p.csv", rows), tmp_path, chunk_rows=2, workers=2)
    assert (report.rows, report.created, report.rejected, report.warnings) == (13, 6, 5, 0)
    assert count(container, Claim) == 8
    with open(report.rejected_path, encoding="utf-8-sig") as fh:
        assert [int(r[0]) for r in list(csv.reader(fh, delimiter=";"))[1:]] == [6, 7, 8, 9, 10]
    again = run_import(container, write(tmp_path / "p.csv", rows), tmp_path, chunk_rows=2, workers=2)
    assert (again.created, again.updated, again.rejected) == (0, 0, 5)
