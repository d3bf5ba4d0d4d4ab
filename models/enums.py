"""Enumerations shared by the entities and the rules (stored as short strings)."""

from __future__ import annotations

from enum import StrEnum


class DebtorKind(StrEnum):
    PERSON = "person"
    COMPANY = "company"


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"


class LineType(StrEnum):
    MOBILE = "mobile"
    FIXED = "fixed"
    VOIP = "voip"
    OTHER = "other"  # toll-free, premium, pager, unknown


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    CALL = "call"


class ClaimNature(StrEnum):
    CONSUMER = "consumer"  # consumer debt owed to a professional: 2-year prescription
    BUSINESS = "business"  # between merchants: 5 years, L441-10 penalties
    OTHER = "other"  # general rule: 5 years


class InterestMode(StrEnum):
    NONE = "none"
    LEGAL = "legal"
    B2B = "b2b"
    CONTRACTUAL = "contractual"


class DossierStatus(StrEnum):
    NEW = "new"  # imported, in no campaign
    ACTIVE = "active"  # enrolled in a scenario
    PROMISE = "promise"  # waiting for a promised payment
    PLAN = "plan"  # on a payment plan
    SUSPENDED = "suspended"  # dispute, over-indebtedness, insolvency, death: no contact
    CLOSED = "closed"


class Suspension(StrEnum):
    DISPUTE = "dispute"
    OVER_INDEBTEDNESS = "over_indebtedness"
    INSOLVENCY = "insolvency"
    DECEASED = "deceased"


class CloseReason(StrEnum):
    PAID = "paid"
    ABANDONED = "abandoned"
    ESCALATED = "escalated"  # sent to judicial recovery (injonction de payer)
    RETURNED = "returned"  # returned to the creditor
    PRESCRIBED = "prescribed"


class EventKind(StrEnum):
    IMPORTED = "imported"
    UPDATED = "updated"
    ENROLLED = "enrolled"
    ACTION_SENT = "action_sent"
    ACTION_FAILED = "action_failed"
    ACTION_DELIVERED = "action_delivered"
    CALL_ATTEMPT = "call_attempt"
    PHONE_CALL = "phone_call"  # a click-to-call's telephony record: status, duration
    RIGHT_PARTY_CONTACT = "right_party_contact"
    PROMISE_MADE = "promise_made"
    PROMISE_KEPT = "promise_kept"
    PROMISE_BROKEN = "promise_broken"
    PLAN_AGREED = "plan_agreed"
    PLAN_DEFAULTED = "plan_defaulted"
    PARTIAL_PAYMENT = "partial_payment"
    PAID_IN_FULL = "paid_in_full"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_CLOSED = "dispute_closed"
    SUSPENSION_LIFTED = "suspension_lifted"  # over-indebtedness or insolvency settled by a person
    CONTACT_INVALID = "contact_invalid"
    OPT_OUT = "opt_out"
    CALLBACK_REQUESTED = "callback_requested"
    INBOUND_MESSAGE = "inbound_message"
    SUSPENDED = "suspended"
    ESCALATED = "escalated"
    CLOSED = "closed"
    NOTE = "note"


class LedgerAccount(StrEnum):
    """Accounts of the double-entry books (chart in services/books.py)."""

    DEBTOR_RECEIVABLE = "debtor_receivable"  # what debtors owe on the claims entrusted
    CREDITOR_PAYABLE = "creditor_payable"  # funds held for creditors
    TRUST_BANK = "trust_bank"  # compte affecté
    FEE_INCOME = "fee_income"  # the office's commission and fees
    ENTRUSTED = "entrusted"  # counterpart of receivables placed by creditors
    SUSPENSE = "suspense"  # money received but not yet matched
    OFFICE_BANK = "office_bank"  # the office's own account, where its fees go (not the compte affecté)


class ClaimComponent(StrEnum):
    COSTS = "costs"
    INTEREST = "interest"
    PRINCIPAL = "principal"


class CampaignStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class ActionStatus(StrEnum):
    """Outbox states; they only move forward (see models/outbox.py)."""

    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REVIEW = "review"  # ambiguous send that could not be reconciled: a person decides


class CallTaskStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


class PromiseStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    PARTLY_KEPT = "partly_kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class PlanStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    DEFAULTED = "defaulted"  # déchéance du terme
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    UNMATCHED = "unmatched"  # suspense: waits for a manager
    APPLIED = "applied"
    REVERSED = "reversed"


class RemittanceStatus(StrEnum):
    ISSUED = "issued"  # booked; the credit transfer is in the batch's SEPA file
    OFFSET = "offset"  # booked; the fees took the whole gross, nothing to transfer


class RemittanceItemKind(StrEnum):
    PAYMENT = "payment"  # a collected payment paid out to the creditor
    CLAWBACK = "clawback"  # a remitted payment reversed since: taken back from the creditor
