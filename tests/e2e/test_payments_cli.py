"""`relance payments ...` end to end: import a portfolio, then a bank statement, look at the
suspense list, assign by hand, write the creditor's daily information."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from models.references import payment_reference

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payments"
PORTFOLIO = ("reference_dossier;type_debiteur;nom;prenom;reference_facture;nature;montant_principal;date_echeance;"
             "interets;date_mise_en_demeure;adresse1;code_postal;ville\n"
             "P-1;particulier;Martin;Paul;A;autre;1 000,00;01/12/2024;legal;01/01/2025;12 rue Pasteur;75011;Paris\n"
             "P-1;particulier;Martin;Paul;B;autre;500,00;01/03/2025;;;12 rue Pasteur;75011;Paris\n"
             "F-1;particulier;Durand;Léa;F1;consommation;310,00;31/01/2025;;;3 rue Haute;69001;Lyon\n")


def test_a_statement_is_imported_matched_assigned_and_reported_from_the_command_line(relance_env):
    from app.cli import app

    runner = CliRunner()
    portfolio = relance_env / "portefeuille.csv"
    portfolio.write_text(PORTFOLIO, encoding="utf-8")
    result = runner.invoke(app, ["import", str(portfolio), "--creditor", "Banque Exemple", "--as-of", "2025-01-02",
                                 "--json"])
    assert result.exit_code == 0, result.output
    # Dossier ids follow the file: P-1 is 1.
    statement = relance_env / "releve.xml"
    statement.write_text((FIXTURES / "camt053_v02_duplicate.xml").read_text("utf-8")
                         .replace("{REF_P1}", payment_reference(1, compact=True)), "utf-8")

    result = runner.invoke(app, ["payments", "import", str(statement), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["created"], report["matched_total"], report["unmatched"], report["quittances"]) == (3, 2, 1, 2)

    result = runner.invoke(app, ["payments", "import", str(statement), "--json"])
    assert json.loads(result.output)["created"] == 0

    result = runner.invoke(app, ["payments", "suspense", "--json"])
    [waiting] = json.loads(result.output)
    assert (waiting["amount"], waiting["debtor_name"]) == ("42.00", "JEAN INCONNU")

    result = runner.invoke(app, ["payments", "assign", str(waiting["payment_id"]), "1", "--by", "manager", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["paid_in_full"] is False
    result = runner.invoke(app, ["payments", "assign", str(waiting["payment_id"]), "1"])
    assert result.exit_code == 2 and "n'est pas en attente" in result.output

    out = relance_env / "rapports"
    result = runner.invoke(app, ["payments", "creditor-report", "--day", "01/07/2025", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    files = sorted(Path(f).name for f in json.loads(result.output)["files"])
    assert files == ["2025-07-01_1_Banque-Exemple.csv", "2025-07-01_1_Banque-Exemple.html"]


def test_a_bad_statement_is_refused_with_its_reason(relance_env):
    from app.cli import app

    bad = relance_env / "releve.xml"
    bad.write_text("<Document><Stmt>", "utf-8")
    result = CliRunner().invoke(app, ["payments", "import", str(bad)])
    assert result.exit_code == 2 and "XML invalide" in result.output
