"""Promises of payment and payment plans (échéanciers) agreed with the debtor."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import PK, Base, Money
from models.enums import PlanStatus, PromiseStatus


class Promise(Base):
    __tablename__ = "promise"
    __table_args__ = (Index("ix_promise_open", "status", "due_on"), Index("ix_promise_dossier", "dossier_id"))

    id: Mapped[PK]
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"))
    amount: Mapped[Money]
    due_on: Mapped[date]
    made_on: Mapped[date]
    made_by: Mapped[str | None] = mapped_column(String(64))  # agent user name, or "debtor" (self-service)
    grace_days: Mapped[int] = mapped_column(default=1)
    paid: Mapped[Money] = mapped_column(default=Decimal("0"))
    status: Mapped[PromiseStatus] = mapped_column(default=PromiseStatus.OPEN)
    resolved_on: Mapped[date | None]
    created_at: Mapped[datetime]


class PaymentPlan(Base):
    __tablename__ = "payment_plan"
    __table_args__ = (Index("ix_payment_plan_dossier", "dossier_id"),)

    id: Mapped[PK]
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"))
    agreed_on: Mapped[date]
    agreed_by: Mapped[str | None] = mapped_column(String(64))
    total: Mapped[Money]
    missed_allowed: Mapped[int] = mapped_column(default=2)  # misses before déchéance du terme
    status: Mapped[PlanStatus] = mapped_column(default=PlanStatus.ACTIVE)
    ended_on: Mapped[date | None]
    created_at: Mapped[datetime]

    installments: Mapped[list["Installment"]] = relationship(order_by="Installment.number")


class Installment(Base):
    __tablename__ = "installment"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[PK]
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plan.id"))
    number: Mapped[int]
    due_on: Mapped[date]
    amount: Mapped[Money]
    paid: Mapped[Money] = mapped_column(default=Decimal("0"))
