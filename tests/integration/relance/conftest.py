from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scenarios.catalogue import load_catalogue
from services.portfolio_import import import_portfolio

PARIS = ZoneInfo("Europe/Paris")
HEADER = ("reference_dossier;reference_debiteur;type_debiteur;nom;prenom;montant_principal;date_echeance;"
          "mobile;email;adresse1;code_postal;ville")
ROWS = [
    "P-1;C-1;particulier;Martin;Jean;500,00;01/09/2026;06 12 34 56 78;jean@exemple.fr;3 rue Pasteur;75011;Paris",
    "P-2;C-2;particulier;Petit;Anne;300,00;01/09/2026;;anne@exemple.fr;8 rue Victor Hugo;69003;Lyon",
    "P-3;C-1;particulier;Martin;Jean;120,00;01/09/2026;06 12 34 56 78;jean@exemple.fr;3 rue Pasteur;75011;Paris",
    "P-4;C-4;particulier;Payet;Loïc;250,00;01/09/2026;0692 12 34 56;;5 chemin des Vignes;97400;Saint-Denis",
]


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A moment in November / December 2026, Paris time (26 Nov 2026 is a Thursday)."""
    month, d = (11, day) if day <= 30 else (12, day - 30)
    return datetime(2026, month, d, hour, minute, tzinfo=PARIS)


@pytest.fixture(scope="session")
def catalogue():
    return load_catalogue()


@pytest.fixture
def portfolio(container, tmp_path) -> Path:
    path = tmp_path / "p.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    import_portfolio(container.uow, path, creditor="Banque Test", as_of=date(2026, 11, 2),
                     rejects_path=tmp_path / "r.csv")
    return path
