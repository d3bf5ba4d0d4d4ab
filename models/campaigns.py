"""Campaigns and enrolments: which dossiers follow which scenario, and how far they are."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PK, Base
from models.enums import CampaignStatus


class Campaign(Base):
    __tablename__ = "campaign"

    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    scenario: Mapped[str] = mapped_column(String(64))  # the champion
    challenger_scenario: Mapped[str | None] = mapped_column(String(64))
    challenger_percent: Mapped[int] = mapped_column(default=0)
    creditor_id: Mapped[int | None] = mapped_column(ForeignKey("creditor.id"))
    selection: Mapped[str | None] = mapped_column(Text)  # the --where expression, as given
    status: Mapped[CampaignStatus] = mapped_column(default=CampaignStatus.ACTIVE)
    created_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]


class Enrolment(Base):
    """A dossier in a campaign. The columns hold `scenarios.snapshots.EnrolmentState`."""

    __tablename__ = "enrolment"
    __table_args__ = (
        # A dossier is in at most one active campaign.
        Index("uq_enrolment_active_dossier", "dossier_id", unique=True,
              postgresql_where=text("active"), sqlite_where=text("active")),
        Index("ix_enrolment_due", "active", "next_due_at"),
        # The planner walks due enrolments by debtor in chunks: this index gives that order
        # without sorting every due row again for each chunk.
        Index("ix_enrolment_active_debtor", "debtor_id", "id",
              postgresql_where=text("active"), sqlite_where=text("active")),
        Index("ix_enrolment_campaign", "campaign_id"),
    )

    id: Mapped[PK]
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"))
    variant: Mapped[str] = mapped_column(String(16))  # champion / challenger
    active: Mapped[bool] = mapped_column(default=True)
    scenario: Mapped[str] = mapped_column(String(64))
    anchor_on: Mapped[date]
    next_step: Mapped[int] = mapped_column(default=0)
    occurrence: Mapped[int] = mapped_column(default=1)
    cycle: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default="active")  # EnrolmentStatus
    paused_until: Mapped[date | None]
    origin: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cycles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    next_due_at: Mapped[datetime | None]
    end_kind: Mapped[str | None] = mapped_column(String(16))
    enrolled_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
