"""The operations commands through the CLI: doctor's exit code, archive, purge and export-subject."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()


def test_doctor_fails_on_an_empty_database_and_passes_once_upgraded(relance_env, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr("services.doctor._prefect_api_url", lambda: None)
    before = runner.invoke(app, ["doctor"])
    assert before.exit_code == 1, before.output
    assert "relance db upgrade" in before.output and "échec" in before.output
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    after = runner.invoke(app, ["doctor"])
    assert after.exit_code == 0, after.output
    assert "mode éphémère" in after.output and "Installation prête" in after.output


def test_doctor_fails_when_the_prefect_server_does_not_answer(relance_env, monkeypatch):
    monkeypatch.setattr("services.doctor._prefect_api_url", lambda: "http://127.0.0.1:9/api")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1 and "API injoignable" in result.output


def test_lifecycle_commands_report_what_they_did(relance_env, tmp_path):
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    archived = runner.invoke(app, ["archive", "--as-of", "2027-01-15", "--json"])
    assert archived.exit_code == 0 and json.loads(archived.output)["archived"] == 0
    purged = runner.invoke(app, ["purge", "--as-of", "2032-01-01", "--dry-run"])
    assert purged.exit_code == 0 and "essai à blanc" in purged.output and "comptabilité" in purged.output
    missing = runner.invoke(app, ["export-subject", "C-404", "--out", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "introuvable" in missing.output
    bad = runner.invoke(app, ["dossier", "close", "P-1", "--reason", "paid"])
    assert bad.exit_code == 2
