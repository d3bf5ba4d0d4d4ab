"""The remittance commands end to end on a fresh SQLite database: mandate terms, a dry run, a
remittance with its files, the books check, and a bad IBAN refused."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import app

PORTFOLIO = (
    "reference_dossier;type_debiteur;nom;prenom;reference_facture;nature;montant_principal;date_echeance;"
    "adresse1;code_postal;ville\n"
    "A-1;particulier;Martin;Paul;FA;consommation;1 000,00;01/12/2024;12 rue Pasteur;75011;Paris\n"
    "B-1;particulier;Durand;Léa;FB;consommation;1 000,00;01/12/2024;3 rue Haute;69002;Lyon\n"
)


def _invoke(*args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_a_manager_sets_the_mandate_and_remits_with_statements_and_a_sepa_file(tmp_path, monkeypatch):
    monkeypatch.setenv("RELANCE_DATABASE_URL", f"sqlite:///{tmp_path / 'relance.db'}")
    monkeypatch.setenv("RELANCE_OUTBOX_DIR", str(tmp_path / "outbox"))
    portfolio = tmp_path / "portefeuille.csv"
    portfolio.write_text(PORTFOLIO, encoding="utf-8")
    assert _invoke("import", str(portfolio), "--creditor", "Banque Exemple", "--as-of", "2025-01-02",
                   "--json").exit_code == 0

    bad = _invoke("creditor", "mandate", "Banque Exemple", "--iban", "FR7630004000010001234567831")
    assert bad.exit_code == 2 and "IBAN invalide" in bad.output
    ok = _invoke("creditor", "mandate", "Banque Exemple", "--iban", "FR76 3000 4000 0100 0123 4567 830",
                 "--bic", "BNPAFRPP", "--commission", "12", "--fixed-fee", "15,00", "--json")
    assert json.loads(ok.output) == {
        "name": "Banque Exemple", "legal_name": "Banque Exemple", "iban": "FR7630004000010001234567830", "bic": "BNPAFRPP",
        "commission_rate": "0.12", "fixed_fee_per_file": "15.00", "remittance_delay_days": 30}

    from app.bootstrap import bootstrap
    from models.dossiers import Dossier
    from services.payments import apply_payment

    c = bootstrap()
    with c.uow() as uow:
        ids = dict(uow.session.execute(select(Dossier.external_ref, Dossier.id)).all())
        for n, (ref, amount, day) in enumerate([("A-1", "120.00", 1), ("A-1", "80.50", 10), ("B-1", "300.00", 20)]):
            apply_payment(uow.session, dossier_id=ids[ref], amount=Decimal(amount), received_on=date(2025, 7, day),
                          method="transfer", external_id=f"VIR-{n}", now=datetime(2025, 7, 21, tzinfo=UTC))
        uow.commit()
    c.engine.dispose()

    out = tmp_path / "reversements"
    dry = json.loads(_invoke("remit", "--as-of", "2025-08-01", "--out", str(out), "--dry-run", "--json").output)
    assert dry["dry_run"] and dry["total_net"] == "410.44" and not out.exists()

    done = json.loads(_invoke("remit", "--as-of", "2025-08-01", "--out", str(out), "--json").output)
    [r] = done["remittances"]
    assert (r["gross"], r["commission"], r["fixed_fees"], r["net"], r["lines"]) == (
        "500.50", "60.06", "30.00", "410.44", 3)
    assert done["fees_transfer"] == "90.06"
    for key in ("statement_pdf", "statement_csv"):
        assert (out / done["batch_ref"]).joinpath(r[key].rsplit("/", 1)[-1]).is_file()
    assert b"<CtrlSum>500.50</CtrlSum>" in open(done["transfer_file"], "rb").read()

    again = _invoke("remit", "--as-of", "2025-08-01", "--out", str(out))
    assert again.exit_code == 0 and "aucun paiement à reverser" in again.output
    books = _invoke("books", "check", "--json")
    assert books.exit_code == 0 and json.loads(books.output)["violations"] == []
    assert json.loads(books.output)["balance"]["fee_income"] == "-90.06"
