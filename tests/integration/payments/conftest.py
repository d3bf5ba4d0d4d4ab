"""A tiny portfolio for the payment and agreement tests, imported the way managers do."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Dossier
from services.portfolio_import import import_portfolio

HEADER = ("reference_dossier;type_debiteur;nom;prenom;reference_facture;nature;montant_principal;"
          "date_echeance;interets;date_mise_en_demeure;adresse1;code_postal;ville")
ADDRESS = "12 rue Pasteur;75011;Paris"
IMPORTED_ON = date(2025, 1, 2)


@pytest.fixture
def dossiers(container, tmp_path):
    """`dossiers(rows)` imports `rows` (without the address columns) and returns
    {dossier reference: dossier id}."""

    def load(rows: list[str], *, creditor: str = "Banque Exemple") -> dict[str, int]:
        path = Path(tmp_path) / "portefeuille.csv"
        path.write_text("\n".join([HEADER, *(f"{r};{ADDRESS}" for r in rows)]) + "\n", encoding="utf-8")
        report = import_portfolio(container.uow, path, creditor=creditor, as_of=IMPORTED_ON,
                                  rejects_path=Path(tmp_path) / "rejets.csv")
        assert report.rejected == 0, report
        with container.uow() as uow:
            return dict(uow.session.execute(select(Dossier.external_ref, Dossier.id)).all())

    return load
