"""Every SQLAlchemy entity, imported together so that the metadata knows all tables."""

from models.dossiers import Claim, Dossier, DossierEvent
from models.imports import ImportRun
from models.ledger import JournalEntry, LedgerLine
from models.parties import ContactPoint, Creditor, Debtor

__all__ = [
    "Claim", "ContactPoint", "Creditor", "Debtor", "Dossier", "DossierEvent", "ImportRun",
    "JournalEntry", "LedgerLine",
]
