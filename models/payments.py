"""Payments received for dossiers (bank transfers, PSP, cheques)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PK, Base, Money
from models.enums import PaymentStatus


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (Index("ix_payment_dossier", "dossier_id"), Index("ix_payment_status", "status"))

    id: Mapped[PK]
    # The bank's or PSP's own id: importing the same statement twice creates nothing.
    external_id: Mapped[str] = mapped_column(String(120), unique=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"))
    amount: Mapped[Money]
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    received_on: Mapped[date]
    method: Mapped[str] = mapped_column(String(16))  # transfer, card, cheque, direct_debit, cash
    label: Mapped[str | None] = mapped_column(String(300))  # the bank label (may hold the reference)
    status: Mapped[PaymentStatus] = mapped_column(default=PaymentStatus.UNMATCHED)
    applied_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
