"""Where a payment came from: the bank statement or PSP file it was read in, what the bank told
about the payer, and how it was matched to a dossier (or left in suspense)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PK, Base, BigId


class PaymentImport(Base):
    """One run of `relance payments import`: the file, its format and what came of it."""

    __tablename__ = "payment_import"

    id: Mapped[PK]
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))  # csv, camt053
    account: Mapped[str | None] = mapped_column(String(34))  # the statement's account (IBAN)
    imported_at: Mapped[datetime]
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PaymentSource(Base):
    """The bank's facts on one payment and its matching. One row per payment read from a file."""

    __tablename__ = "payment_source"
    __table_args__ = (
        Index("ix_payment_source_iban", "debtor_iban"),
        Index("ix_payment_source_import", "import_id"),
    )

    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("payment.id"), primary_key=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("payment_import.id"))
    line: Mapped[int | None]  # line of the CSV, or entry number in the statement
    debtor_name: Mapped[str | None] = mapped_column(String(140))
    debtor_iban: Mapped[str | None] = mapped_column(String(34))
    reference: Mapped[str | None] = mapped_column(String(140))  # structured reference (RF...) if given
    value_on: Mapped[date | None]
    match_rule: Mapped[str | None] = mapped_column(String(16))  # reference, iban, name_amount, manual
    matched_at: Mapped[datetime | None]
    matched_by: Mapped[str | None] = mapped_column(String(64))  # user who assigned it by hand
