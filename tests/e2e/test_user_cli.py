"""`relance user add`: the password from stdin, hashed; bad input refused with nothing written."""

from __future__ import annotations

from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from app.cli import app
from models.accounts import AuditEntry, User, UserCreditor


def test_user_add_hashes_the_password_and_assigns_the_creditor(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'relance.db'}"
    monkeypatch.setenv("RELANCE_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    from app.bootstrap import bootstrap
    from services.portfolio_import import get_or_create_creditor

    c = bootstrap()
    with c.uow() as uow:
        get_or_create_creditor(uow.session, "Banque Exemple")
        uow.commit()
    c.engine.dispose()

    result = runner.invoke(app, ["user", "add", "claire", "--role", "agent", "--creditor", "Banque Exemple",
                                 "--password-stdin"], input="un-mot-de-passe-long\n")
    assert result.exit_code == 0, result.output
    refused = runner.invoke(app, ["user", "add", "paul", "--role", "chef", "--password-stdin"],
                            input="un-mot-de-passe-long\n")
    assert refused.exit_code == 2 and "rôle inconnu" in refused.output

    engine = create_engine(url)
    with engine.connect() as conn:
        users = conn.execute(select(User.name, User.password_hash)).all()
        assert [u.name for u in users] == ["claire"]
        assert users[0].password_hash.startswith("$argon2id$")
        assert conn.scalar(select(UserCreditor.creditor_id)) is not None
        assert conn.scalar(select(AuditEntry.action)) == "user.add"
    engine.dispose()
