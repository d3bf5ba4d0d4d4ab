"""Double-entry books: a journal entry groups ledger lines whose amounts sum to zero.

Amounts are signed: debit positive, credit negative.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import PK, Base, Money
from models.enums import ClaimComponent, LedgerAccount


class JournalEntry(Base):
    __tablename__ = "journal_entry"
    __table_args__ = (
        Index("ix_journal_entry_dossier", "dossier_id"),
        # Entries are found by what they book: a payment's entries by its id (payment, reversal),
        # a remittance's by "remittance:<id>".
        Index("ix_journal_entry_reference", "reference", "kind"),
    )

    id: Mapped[PK]
    posted_on: Mapped[date]
    kind: Mapped[str] = mapped_column(String(24))  # placement, payment, reversal, fee, remittance
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"))
    reference: Mapped[str | None] = mapped_column(String(64))  # payment id, remittance id...
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]

    lines: Mapped[list["LedgerLine"]] = relationship(back_populates="entry", order_by="LedgerLine.id")


class LedgerLine(Base):
    __tablename__ = "ledger_line"
    __table_args__ = (
        Index("ix_ledger_line_entry", "entry_id"),
        Index("ix_ledger_line_account", "account", "creditor_id"),
    )

    id: Mapped[PK]
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"))
    account: Mapped[LedgerAccount]
    creditor_id: Mapped[int | None] = mapped_column(ForeignKey("creditor.id"))
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claim.id"))
    component: Mapped[ClaimComponent | None]
    amount: Mapped[Money]

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
