"""`relance doctor` on a migrated database, on an empty one and on an unreachable one."""

from __future__ import annotations

from app.bootstrap import bootstrap
from app.settings import Settings
from services.doctor import Level, check_database


def test_a_migrated_database_passes(container):
    checks = check_database(lambda: container)
    assert checks[0].level is Level.OK and "à jour" in checks[0].message


def test_an_empty_database_fails_and_says_to_upgrade(tmp_path):
    empty = bootstrap(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'vide.db'}"))
    [check] = check_database(lambda: empty)
    assert check.level is Level.FAIL and "relance db upgrade" in check.message


def test_an_unreachable_database_fails_without_printing_the_url():
    url = "postgresql+psycopg://relance:motdepasse@127.0.0.1:1/relance"
    [check] = check_database(lambda: bootstrap(Settings(_env_file=None, database_url=url)))
    assert check.level is Level.FAIL and "injoignable" in check.message and "motdepasse" not in check.message
