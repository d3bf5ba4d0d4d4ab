"""Creditors (mandants), debtors and their contact points."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import PK, Base, Money, Rate
from models.enums import ContactKind, DebtorKind, LineType


class Creditor(Base):
    """A creditor and the terms of its mandate."""

    __tablename__ = "creditor"

    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    legal_name: Mapped[str | None] = mapped_column(String(200))
    siren: Mapped[str | None] = mapped_column(String(9))
    address_block: Mapped[str | None] = mapped_column(Text)  # NF Z10-011 lines joined by "\n"
    email: Mapped[str | None] = mapped_column(String(254))
    iban: Mapped[str | None] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    # Mandate terms.
    is_private_person: Mapped[bool] = mapped_column(default=False)  # picks the legal-interest rate
    commission_rate: Mapped[Rate] = mapped_column(default=0)  # fraction of collected sums, 0.15 = 15 %
    fixed_fee_per_file: Mapped[Money] = mapped_column(default=0)
    remittance_delay_days: Mapped[int] = mapped_column(default=30)  # R124-6: one month unless agreed
    # Imputation across claims: None = C. civ. 1342-10 order; "pro_rata" or "oldest_first".
    imputation_override: Mapped[str | None] = mapped_column(String(16))
    retention_years: Mapped[int] = mapped_column(default=5)
    created_at: Mapped[datetime]

    dossiers: Mapped[list["Dossier"]] = relationship(back_populates="creditor")  # noqa: F821


class Debtor(Base):
    """A natural person or a company; known to one creditor by its own reference."""

    __tablename__ = "debtor"
    __table_args__ = (UniqueConstraint("creditor_id", "external_ref"),)

    id: Mapped[PK]
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))
    external_ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[DebtorKind]
    civility: Mapped[str | None] = mapped_column(String(16))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    company_name: Mapped[str | None] = mapped_column(String(200))
    siren: Mapped[str | None] = mapped_column(String(9))
    siret: Mapped[str | None] = mapped_column(String(14))
    birth_date: Mapped[date | None]
    deceased: Mapped[bool] = mapped_column(default=False)
    # IANA zone for contact hours; derived from the address or the phone's region at import.
    timezone: Mapped[str] = mapped_column(String(40), default="Europe/Paris")
    # Holiday subdivision (holidays library): "57"/"67"/"68" for Alsace-Moselle, "RE", "GP"... or None.
    holiday_region: Mapped[str | None] = mapped_column(String(8))
    anonymised_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    contact_points: Mapped[list["ContactPoint"]] = relationship(
        back_populates="debtor", order_by="ContactPoint.id"
    )

    @property
    def display_name(self) -> str:
        if self.kind == DebtorKind.COMPANY:
            return self.company_name or ""
        return " ".join(p for p in (self.civility, self.first_name, self.last_name) if p)


class ContactPoint(Base):
    """A phone (E.164), an email or a postal address (NF Z10-011 block), with its validity
    and the debtor's per-channel opt-outs."""

    __tablename__ = "contact_point"
    __table_args__ = (
        UniqueConstraint("debtor_id", "kind", "value"),
        Index("ix_contact_point_value", "value"),
    )

    id: Mapped[PK]
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"))
    kind: Mapped[ContactKind]
    value: Mapped[str] = mapped_column(String(300))
    line_type: Mapped[LineType | None]
    region: Mapped[str | None] = mapped_column(String(2))  # ISO region of the number or address
    rank: Mapped[int] = mapped_column(default=0)  # order of preference within its kind
    valid: Mapped[bool] = mapped_column(default=True)
    invalid_reason: Mapped[str | None] = mapped_column(String(120))
    invalid_since: Mapped[datetime | None]
    consent_sms: Mapped[bool] = mapped_column(default=True)
    opt_out_sms_at: Mapped[datetime | None]
    opt_out_call_at: Mapped[datetime | None]
    opt_out_email_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(16), default="import")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    debtor: Mapped[Debtor] = relationship(back_populates="contact_points")
