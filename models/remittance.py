"""Remittances (reversements): the creditors' collected funds paid out of the compte affecté.

One `Remittance` per creditor per run; its `RemittanceItem`s are the payment lines it pays out
(kind "payment") or takes back (kind "clawback": a payment reversed after it was remitted).
The unique (payment_id, kind) pair is what makes a payment remitted at most once and clawed
back at most once, whatever runs concurrently. The rules live in services/remittance.py.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import PK, Base, Money, Rate
from models.enums import RemittanceItemKind, RemittanceStatus


class Remittance(Base):
    __tablename__ = "remittance"
    __table_args__ = (
        Index("ix_remittance_creditor", "creditor_id", "as_of"),
        Index("ix_remittance_batch", "batch_ref"),
    )

    id: Mapped[PK]
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))
    as_of: Mapped[date]
    status: Mapped[RemittanceStatus]
    # What the mandate said when the remittance was made (it may change later).
    commission_rate: Mapped[Rate]
    fixed_fee_per_file: Mapped[Money]
    gross: Mapped[Money]  # collected for the creditor, claw-backs deducted
    commission: Mapped[Money]
    fixed_fees: Mapped[Money]
    net: Mapped[Money]  # gross - commission - fixed_fees: what the creditor receives
    items_count: Mapped[int]
    late_items: Mapped[int]  # lines paid out after their R124-6 deadline
    # The SEPA batch (pain.001 GrpHdr/MsgId) and this transfer's end-to-end id.
    batch_ref: Mapped[str] = mapped_column(String(35))
    end_to_end_id: Mapped[str | None] = mapped_column(String(35), unique=True)
    creditor_iban: Mapped[str | None] = mapped_column(String(34))
    creditor_bic: Mapped[str | None] = mapped_column(String(11))
    statement_pdf: Mapped[str | None] = mapped_column(String(500))
    statement_csv: Mapped[str | None] = mapped_column(String(500))
    transfer_file: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]

    items: Mapped[list["RemittanceItem"]] = relationship(
        back_populates="remittance", order_by="RemittanceItem.id")


class RemittanceItem(Base):
    __tablename__ = "remittance_item"
    __table_args__ = (
        UniqueConstraint("payment_id", "kind"),
        Index("ix_remittance_item_remittance", "remittance_id"),
        Index("ix_remittance_item_dossier", "dossier_id"),
    )

    id: Mapped[PK]
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittance.id"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"))
    kind: Mapped[RemittanceItemKind]
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"))
    received_on: Mapped[date]
    deadline: Mapped[date]  # received_on + the mandate's remittance delay (R124-6)
    # Signed: a claw-back line is negative. net = gross - commission - fixed_fee.
    gross: Mapped[Money]
    commission: Mapped[Money]
    fixed_fee: Mapped[Money]  # the dossier's fixed fee (or its adjustment) on its first line
    net: Mapped[Money]

    remittance: Mapped[Remittance] = relationship(back_populates="items")
