"""Every SQLAlchemy entity, imported together so that the metadata knows all tables."""

from models.agreements import Installment, PaymentPlan, Promise
from models.campaigns import Campaign, Enrolment
from models.dossiers import Claim, Dossier, DossierEvent
from models.imports import ImportRun
from models.ledger import JournalEntry, LedgerLine
from models.outbox import Action, CallTask
from models.parties import ContactPoint, Creditor, Debtor
from models.payment_intake import PaymentImport, PaymentSource
from models.payments import Payment

__all__ = [
    "Action", "CallTask", "Campaign", "Enrolment", "Installment", "Payment", "PaymentPlan", "Promise",
    "Claim", "ContactPoint", "Creditor", "Debtor", "Dossier", "DossierEvent", "ImportRun",
    "JournalEntry", "LedgerLine", "PaymentImport", "PaymentSource",
]
