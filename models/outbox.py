"""The outbox: every relance is written here (planned) before anything is sent.

An action moves planned -> sending -> sent -> delivered | failed, only forward (`advance`). Its
idempotency key (dossier, scenario, step, occurrence) is unique: planning twice plans nothing new.
Call steps become call tasks for agents.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PK, Base, Cost
from models.enums import ActionStatus, CallTaskStatus, Channel

# Allowed moves. A late or repeated provider callback that would move backwards changes nothing.
_RANK = {
    ActionStatus.PLANNED: 0, ActionStatus.SENDING: 1, ActionStatus.REVIEW: 2, ActionStatus.SENT: 3,
    ActionStatus.DELIVERED: 4, ActionStatus.FAILED: 4, ActionStatus.CANCELLED: 4,
}


def can_advance(current: ActionStatus, new: ActionStatus) -> bool:
    """Forward only; `sending` may go back to `planned` solely through `retry` below."""
    if current in (ActionStatus.DELIVERED, ActionStatus.FAILED, ActionStatus.CANCELLED):
        return False
    if current == ActionStatus.SENT and new == ActionStatus.FAILED:
        return True  # a bounce after acceptance
    return _RANK[new] > _RANK[current]


class Action(Base):
    __tablename__ = "action"
    __table_args__ = (
        # A claim reads its batch in this order (oldest not_before, then id) and stops there.
        Index("ix_action_dispatch", "status", "channel", "not_before", "id"),
        Index("ix_action_dossier", "dossier_id"),
        Index("ix_action_debtor", "debtor_id", "planned_at"),
        Index("ix_action_provider", "provider_id"),
        Index("ix_action_campaign", "campaign_id"),
    )

    id: Mapped[PK]
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolment.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"))
    scenario: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[Channel]
    template: Mapped[str] = mapped_column(String(120))
    contact_point_id: Mapped[int | None] = mapped_column(ForeignKey("contact_point.id"))
    status: Mapped[ActionStatus] = mapped_column(default=ActionStatus.PLANNED)
    fallback: Mapped[bool] = mapped_column(default=False)
    fallback_of: Mapped[int | None] = mapped_column(ForeignKey("action.id"))
    not_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    provider_id: Mapped[str | None] = mapped_column(String(80))
    segments: Mapped[int | None]  # SMS segments: the cost unit
    pages: Mapped[int | None]  # letter pages
    cost: Mapped[Cost] = mapped_column(default=Decimal("0"))
    error_code: Mapped[str | None] = mapped_column(String(40))
    planned_at: Mapped[datetime]
    sending_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class CallTask(Base):
    """A call for an agent: from a scenario's call step or a callback the debtor asked for."""

    __tablename__ = "call_task"
    __table_args__ = (
        Index("ix_call_task_queue", "status", "priority", "due_at"),
        Index("ix_call_task_dossier", "dossier_id"),

    )

    id: Mapped[PK]
    action_id: Mapped[int | None] = mapped_column(ForeignKey("action.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"))
    phone_id: Mapped[int | None] = mapped_column(ForeignKey("contact_point.id"))
    kind: Mapped[str] = mapped_column(String(16), default="scenario")  # scenario / callback
    script: Mapped[str | None] = mapped_column(String(120))  # templates/call/...
    priority: Mapped[int] = mapped_column(default=0)  # higher first
    due_at: Mapped[datetime]
    window_end: Mapped[datetime | None]
    status: Mapped[CallTaskStatus] = mapped_column(default=CallTaskStatus.OPEN)
    attempts: Mapped[int] = mapped_column(default=0)
    leased_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# The call queue's claim (services/call_queue.py) seeks open tasks in queue order (priority,
# then calling window, then age), and claimed tasks by lease end to take back expired leases:
# both partial, so they hold only the live part of the queue.
Index("ix_call_task_claim", CallTask.priority.desc(), CallTask.window_end, CallTask.due_at,
      postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'"))
Index("ix_call_task_lease", CallTask.lease_until,
      postgresql_where=text("status = 'claimed'"), sqlite_where=text("status = 'claimed'"))
