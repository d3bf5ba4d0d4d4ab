"""Every SQLAlchemy entity, imported together so that the metadata knows all tables."""

from models.accounts import AuditEntry, LoginFailure, User, UserCreditor
from models.agreements import Installment, PaymentPlan, Promise
from models.campaigns import Campaign, Enrolment
from models.dossiers import Claim, Dossier, DossierEvent
from models.imports import ImportRun
from models.ledger import JournalEntry, LedgerLine
from models.outbox import Action, CallTask
from models.parties import ContactPoint, Creditor, Debtor
from models.payment_intake import PaymentImport, PaymentSource
from models.payments import Payment
from models.remittance import Remittance, RemittanceItem
from models.reporting import ReportRow

__all__ = [
    "Action", "CallTask", "Campaign", "Enrolment", "Installment", "Payment", "PaymentPlan", "Promise",
    "Claim", "ContactPoint", "Creditor", "Debtor", "Dossier", "DossierEvent", "ImportRun",
    "JournalEntry", "LedgerLine", "Remittance", "RemittanceItem", "ReportRow",
    "AuditEntry", "LoginFailure", "User", "UserCreditor",
    "PaymentImport", "PaymentSource",
]
