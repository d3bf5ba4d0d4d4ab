"""The reporting table: one row per day x creditor x campaign x scenario x step x channel x variant.

Rows hold counts and sums only; every rate is a ratio of sums computed when reading
(services/report_math.py), so that any breakdown adds up to the total. The table is derived
data: services/reporting_build.py rebuilds it from the outbox, the call events, the agreements
and the payments, day by day. Text dimensions use "" (never NULL) for "none", so that grouping
and the delete-by-day of a refresh behave the same on SQLite and PostgreSQL.

The indexes at the bottom sit on tables of other modules: they serve the rebuild's day slices
and the attribution of payments to the last action before them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from models.agreements import PaymentPlan, Promise
from models.base import PK, Base, Cost, Money
from models.campaigns import Enrolment
from models.dossiers import DossierEvent
from models.outbox import Action
from models.payments import Payment

MINUTES = Numeric(14, 2)


class ReportRow(Base):
    __tablename__ = "report_row"
    __table_args__ = (
        Index("ix_report_row_day", "day"),
        Index("ix_report_row_campaign", "campaign_id", "day"),
    )

    id: Mapped[PK]
    day: Mapped[date]
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    scenario: Mapped[str] = mapped_column(String(64), default="")
    step: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(16), default="")
    variant: Mapped[str] = mapped_column(String(16), default="")
    # Dossiers entering the campaign that day, and what their creditors entrusted.
    dossiers: Mapped[int] = mapped_column(default=0)
    amount_placed: Mapped[Money] = mapped_column(default=Decimal("0"))
    # The outbox, on the day each action was handed to its provider.
    actions_attempted: Mapped[int] = mapped_column(default=0)
    actions_sent: Mapped[int] = mapped_column(default=0)
    actions_delivered: Mapped[int] = mapped_column(default=0)
    actions_failed: Mapped[int] = mapped_column(default=0)
    sms_segments: Mapped[int] = mapped_column(default=0)
    letter_pages: Mapped[int] = mapped_column(default=0)
    # Agents' calls.
    call_attempts: Mapped[int] = mapped_column(default=0)
    right_party_contacts: Mapped[int] = mapped_column(default=0)
    agent_minutes: Mapped[Decimal] = mapped_column(MINUTES, default=Decimal("0"))
    # Agreements: made on their day; promises counted again on their due day once resolved.
    promises_made: Mapped[int] = mapped_column(default=0)
    promises_amount: Mapped[Money] = mapped_column(default=Decimal("0"))
    promises_due: Mapped[int] = mapped_column(default=0)
    promises_kept: Mapped[int] = mapped_column(default=0)
    plans_agreed: Mapped[int] = mapped_column(default=0)
    plans_amount: Mapped[Money] = mapped_column(default=Decimal("0"))
    # Money.
    payments: Mapped[int] = mapped_column(default=0)
    collected: Mapped[Money] = mapped_column(default=Decimal("0"))
    fees_earned: Mapped[Money] = mapped_column(default=Decimal("0"))
    cost_messages: Mapped[Cost] = mapped_column(default=Decimal("0"))
    cost_agents: Mapped[Money] = mapped_column(default=Decimal("0"))
    refreshed_at: Mapped[datetime]


# Day slices of the rebuild and the "what changed since" scan of the nightly refresh.
Index("ix_action_report_sending", Action.sending_at)
Index("ix_action_report_updated", Action.updated_at)
# Attribution: the last action sent to a dossier before a payment, a promise or a plan.
Index("ix_action_report_attribution", Action.dossier_id, Action.sent_at, Action.id)
Index("ix_payment_report_received", Payment.received_on)
Index("ix_dossier_event_report_kind", DossierEvent.kind, DossierEvent.occurred_at)
Index("ix_promise_report_made", Promise.made_on)
Index("ix_promise_report_due", Promise.due_on)
Index("ix_payment_plan_report_agreed", PaymentPlan.agreed_on)
Index("ix_enrolment_report_enrolled", Enrolment.enrolled_at)
Index("ix_enrolment_report_dossier", Enrolment.dossier_id, Enrolment.enrolled_at, Enrolment.id)
