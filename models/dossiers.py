"""Dossiers, their claims (créances) and the timeline of events."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import PK, Base, Money, Rate
from models.enums import (
    ClaimComponent,
    ClaimNature,
    CloseReason,
    DossierStatus,
    EventKind,
    InterestMode,
    Suspension,
)
from models.parties import Creditor, Debtor


class Dossier(Base):
    """One recovery file: one creditor, one debtor, one or more claims."""

    __tablename__ = "dossier"
    __table_args__ = (
        UniqueConstraint("creditor_id", "external_ref"),
        Index("ix_dossier_debtor", "debtor_id"),
        Index("ix_dossier_status", "status"),
    )

    id: Mapped[PK]
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"))
    external_ref: Mapped[str] = mapped_column(String(64))
    status: Mapped[DossierStatus] = mapped_column(default=DossierStatus.NEW)
    suspension: Mapped[Suspension | None]
    close_reason: Mapped[CloseReason | None]
    assigned_agent: Mapped[str | None] = mapped_column(String(64))
    placed_on: Mapped[date]  # the day the creditor entrusted the file
    amount_placed: Mapped[Money] = mapped_column(default=Decimal("0"))
    # R124-4: every later contact repeats the reference and the date of the first letter.
    first_letter_ref: Mapped[str | None] = mapped_column(String(40))
    first_letter_on: Mapped[date | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]

    creditor: Mapped[Creditor] = relationship(back_populates="dossiers")
    debtor: Mapped[Debtor] = relationship()
    claims: Mapped[list["Claim"]] = relationship(back_populates="dossier", order_by="Claim.id")


class ClaimAmounts:
    """What is still owed on a claim, from its columns: shared by the ORM Claim and the plain rows
    of the batch payment path."""

    @property
    def principal_due(self) -> Decimal:
        return self.principal - self.principal_paid

    @property
    def costs_due(self) -> Decimal:
        return self.costs + self.indemnity - self.costs_paid

    @property
    def interest_due(self) -> Decimal:
        """Interest crystallised and not yet paid (interest to today is computed apart)."""
        return self.interest_accrued - self.interest_paid

    @property
    def balance_due(self) -> Decimal:
        return self.principal_due + self.costs_due + self.interest_due

    def add_paid(self, component: ClaimComponent, amount: Decimal) -> None:
        """Add `amount` (negative for a reversal) to the paid column of `component`."""
        column = PAID_COLUMNS[ClaimComponent(component)]
        setattr(self, column, getattr(self, column) + amount)


PAID_COLUMNS = {ClaimComponent.COSTS: "costs_paid", ClaimComponent.INTEREST: "interest_paid",
                ClaimComponent.PRINCIPAL: "principal_paid"}


class Claim(ClaimAmounts, Base):
    """One créance. Paid amounts and crystallised interest are kept here for fast reads; the
    ledger is the record they are derived from."""

    __tablename__ = "claim"
    __table_args__ = (
        UniqueConstraint("dossier_id", "invoice_ref"),
        Index("ix_claim_prescription", "prescription_expires_on"),
    )

    id: Mapped[PK]
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"))
    invoice_ref: Mapped[str] = mapped_column(String(64))
    nature: Mapped[ClaimNature]
    principal: Mapped[Money]
    costs: Mapped[Money] = mapped_column(default=Decimal("0"))  # accessory costs lawfully chargeable
    indemnity: Mapped[Money] = mapped_column(default=Decimal("0"))  # D441-5 fixed 40 EUR (B2B)
    issued_on: Mapped[date | None]
    due_date: Mapped[date]
    interest_mode: Mapped[InterestMode] = mapped_column(default=InterestMode.NONE)
    contractual_rate: Mapped[Rate | None]  # yearly percentage when interest_mode is contractual
    interest_from: Mapped[date | None]  # legal interest runs from the mise en demeure (C. civ. 1231-6)
    judgment_on: Mapped[date | None]
    judgment_enforceable_on: Mapped[date | None]  # +5 points two months after (CMF L313-3)
    principal_paid: Mapped[Money] = mapped_column(default=Decimal("0"))
    interest_paid: Mapped[Money] = mapped_column(default=Decimal("0"))
    costs_paid: Mapped[Money] = mapped_column(default=Decimal("0"))
    interest_accrued: Mapped[Money] = mapped_column(default=Decimal("0"))
    interest_accrued_to: Mapped[date | None]
    # Prescription: start, period, last interruption, computed expiry.
    prescription_start: Mapped[date]
    prescription_years: Mapped[int]
    last_interruption_on: Mapped[date | None]
    last_interruption_kind: Mapped[str | None] = mapped_column(String(24))
    prescription_expires_on: Mapped[date]
    # Digest of the portfolio row this claim was last imported from: a re-import skips the rows
    # it already holds (services.portfolio_import). Null for claims not imported from a file.
    import_digest: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    dossier: Mapped[Dossier] = relationship(back_populates="claims")



class DossierEvent(Base):
    """The dossier's timeline: every action, outcome, payment and change, in order."""

    __tablename__ = "dossier_event"
    __table_args__ = (Index("ix_dossier_event_dossier", "dossier_id", "occurred_at"),)

    id: Mapped[PK]
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"))
    kind: Mapped[EventKind]
    occurred_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))  # import, scenario, agent, webhook, payment, system
    actor: Mapped[str | None] = mapped_column(String(64))  # user name; never personal data of debtors
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set once the scenario engine has reacted to the event.
    processed_at: Mapped[datetime | None]
