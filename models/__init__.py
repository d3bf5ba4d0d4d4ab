"""Entities (SQLAlchemy) and the pure rules that belong to them.

Entity modules: parties, dossiers, ledger, imports (all gathered in `models.entities`). Rule
modules, which import no SQLAlchemy: money, dates, rates, interest, imputation, prescription,
phones, addresses, identifiers, references, enums.

`from models import Dossier` works, but loads the entities (and SQLAlchemy) only on first use,
so that the domain (`scenarios/`) can import `models.enums` without any infrastructure.
"""

from __future__ import annotations

import importlib

_ENTITIES = {
    "Action", "CallTask", "Campaign", "Enrolment", "Installment", "Payment", "PaymentPlan", "Promise",
    "Base", "Claim", "ContactPoint", "Creditor", "Debtor", "Dossier", "DossierEvent", "ImportRun",
    "JournalEntry", "LedgerLine",
}


def __getattr__(name: str):
    if name == "Base":
        return importlib.import_module("models.base").Base
    if name in _ENTITIES:
        return getattr(importlib.import_module("models.entities"), name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")


__all__ = sorted(_ENTITIES)
