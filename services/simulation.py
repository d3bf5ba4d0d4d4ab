"""A simulated clock and a debtor behaviour model, to watch scenarios work over weeks in minutes.

Each simulated day: the relance day runs at 09:00 Paris time (the real flow body), then debtors
react to what they received and agents work the call queue, through the same service functions
as real life (payments, promises, plans, disputes, call outcomes). Every draw comes from a
random generator seeded per run, so a seed replays the same story.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from models.campaigns import Enrolment
from models.dossiers import Dossier, DossierEvent
from models.enums import ActionStatus, CallTaskStatus, Channel, DossierStatus, EventKind
from models.outbox import Action, CallTask
from models.money import round_cents
from services.balances import outstanding

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Behaviour:
    """Per-contact probabilities (a message read, a conversation held)."""

    pay_in_full: float = 0.05
    partial_payment: float = 0.03
    promise_kept: float = 0.65
    installment_paid: float = 0.8
    dispute: float = 0.006
    dispute_settled: float = 0.5  # disputes closed after about ten days (the rest stay open)
    call_answered: float = 0.35
    # What a debtor reached by phone does: promise, ask for a plan, or pay within days.
    call_promise: float = 0.35
    call_plan: float = 0.15
    call_pay: float = 0.10
    bounce_rate: float = 0.03  # share of mobiles that turn out invalid at the first SMS


@dataclass
class SimulationReport:
    days: int = 0
    payments: int = 0
    collected: Decimal = Decimal("0.00")
    promises: int = 0
    plans: int = 0
    disputes: int = 0
    calls_answered: int = 0
    calls_unanswered: int = 0
    per_day: list[dict] = field(default_factory=list)


class Simulation:
    def __init__(self, container, *, seed: int = 7, behaviour: Behaviour = Behaviour()):
        self.c = container
        self.rng = random.Random(seed)
        self.b = behaviour
        self.pending: dict[date, list[tuple[str, int, Decimal | None]]] = defaultdict(list)
        self.report = SimulationReport()
        self._payment_seq = 0

    # -- one day ----------------------------------------------------------------------------
    def day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(9, 0), PARIS)

    def after_relance(self, day: date) -> None:
        """Debtors react to today's relances; agents work today's calls; scheduled payments land."""
        now = datetime.combine(day, time(18, 0), PARIS)
        with self.c.uow() as uow:
            s = uow.session
            contacted = list(s.scalars(
                select(Action.dossier_id).where(
                    Action.status.in_([ActionStatus.SENT, ActionStatus.DELIVERED]),
                    Action.channel != Channel.CALL,
                    Action.sent_at >= now - timedelta(hours=24), Action.sent_at < now)
                .distinct()))
            for dossier_id in sorted(contacted):
                self._react_to_message(s, dossier_id, day, now)
            self._work_calls(s, day, now)
            for kind, dossier_id, amount in self.pending.pop(day, []):
                self._due(s, kind, dossier_id, amount, day, now)
            uow.commit()
        self.report.days += 1

    def _open(self, s, dossier_id: int) -> bool:
        status = s.scalar(select(Dossier.status).where(Dossier.id == dossier_id))
        return status not in (DossierStatus.CLOSED, DossierStatus.SUSPENDED)

    def _react_to_message(self, s, dossier_id: int, day: date, now: datetime) -> None:
        if not self._open(s, dossier_id):
            return
        r = self.rng.random()
        b = self.b
        if r < b.pay_in_full:
            self.pending[day + timedelta(days=self.rng.randint(1, 4))].append(("full", dossier_id, None))
        elif r < b.pay_in_full + b.partial_payment:
            self.pending[day + timedelta(days=self.rng.randint(1, 4))].append(("partial", dossier_id, None))
        elif r < b.pay_in_full + b.partial_payment + b.dispute:
            self._event(s, dossier_id, EventKind.DISPUTE_OPENED, now, {"reason": "conteste le montant"})
            self.report.disputes += 1
            if self.rng.random() < b.dispute_settled:
                self.pending[day + timedelta(days=10)].append(("settle", dossier_id, None))

    def _work_calls(self, s, day: date, now: datetime) -> None:
        tasks = list(s.scalars(select(CallTask).where(CallTask.status == CallTaskStatus.OPEN,
                                                      CallTask.due_at <= now).order_by(CallTask.priority.desc())))
        for task in tasks:
            task.attempts += 1
            task.updated_at = now
            if self.rng.random() >= self.b.call_answered:
                self._event(s, task.dossier_id, EventKind.CALL_ATTEMPT, now, {"call_task_id": task.id, "outcome": "no_answer"})
                self.report.calls_unanswered += 1
                task.status, task.outcome = CallTaskStatus.DONE, "no_answer"
                continue
            self.report.calls_answered += 1
            task.status, task.outcome = CallTaskStatus.DONE, "right_party"
            self._event(s, task.dossier_id, EventKind.CALL_ATTEMPT, now, {"call_task_id": task.id, "outcome": "answered"})
            self._event(s, task.dossier_id, EventKind.RIGHT_PARTY_CONTACT, now, {"call_task_id": task.id})
            if not self._open(s, task.dossier_id):
                continue
            r = self.rng.random()
            b = self.b
            if r < b.call_promise:
                self._promise(s, task.dossier_id, day, now)
            elif r < b.call_promise + b.call_plan:
                self._plan(s, task.dossier_id, day, now)
            elif r < b.call_promise + b.call_plan + b.call_pay:
                self.pending[day + timedelta(days=self.rng.randint(1, 3))].append(("full", task.dossier_id, None))

    def _promise(self, s, dossier_id: int, day: date, now: datetime) -> None:
        from services.agreements import record_promise

        balance = outstanding(s, [dossier_id]).get(dossier_id, Decimal("0"))
        if balance <= 0:
            return
        due = day + timedelta(days=self.rng.randint(4, 12))
        record_promise(s, dossier_id=dossier_id, amount=balance, due_on=due, made_on=day, made_by="agent-sim",
                       now=now, rates=self.c.rates)
        self.report.promises += 1
        if self.rng.random() < self.b.promise_kept:
            self.pending[due - timedelta(days=self.rng.randint(0, 2))].append(("amount", dossier_id, balance))

    def _plan(self, s, dossier_id: int, day: date, now: datetime) -> None:
        from services.agreements import agree_plan

        balance = outstanding(s, [dossier_id]).get(dossier_id, Decimal("0"))
        if balance < Decimal("60"):
            return self._promise(s, dossier_id, day, now)
        count = self.rng.randint(3, 6)
        first = day + timedelta(days=self.rng.randint(5, 15))
        agree_plan(s, dossier_id=dossier_id, count=count, first_due_on=first, made_by="agent-sim", now=now,
                   frequency_days="monthly", rates=self.c.rates)
        self.report.plans += 1
        from models.agreements import Installment, PaymentPlan

        plan_id = s.scalar(select(func.max(PaymentPlan.id)).where(PaymentPlan.dossier_id == dossier_id))
        for inst in s.scalars(select(Installment).where(Installment.plan_id == plan_id)):
            if self.rng.random() < self.b.installment_paid:
                self.pending[inst.due_on - timedelta(days=self.rng.randint(0, 2))].append(("amount", dossier_id, inst.amount))

    def _due(self, s, kind: str, dossier_id: int, amount, day: date, now: datetime) -> None:
        if kind == "settle":
            if s.scalar(select(Dossier.status).where(Dossier.id == dossier_id)) == DossierStatus.SUSPENDED:
                self._event(s, dossier_id, EventKind.DISPUTE_CLOSED, now, {"outcome": "créance confirmée"})
            return
        from services.balances import dossier_totals

        balance = dossier_totals(s, [dossier_id], as_of=day, rates=self.c.rates)[dossier_id].balance
        if balance <= 0:
            return
        if kind == "full":
            amount = balance
        elif kind == "partial":
            amount = round_cents(balance * Decimal(self.rng.choice(["0.2", "0.3", "0.5"])))
        amount = min(amount, balance)
        if amount <= 0:
            return
        from services.payments import apply_payment

        self._payment_seq += 1
        apply_payment(s, dossier_id=dossier_id, amount=amount, received_on=day, method="transfer",
                      external_id=f"SIM-{day:%Y%m%d}-{self._payment_seq}", label=None, now=now,
                      rates=self.c.rates)
        self.report.payments += 1
        self.report.collected += amount

    def _event(self, s, dossier_id: int, kind: EventKind, now: datetime, data: dict) -> None:
        s.add(DossierEvent(dossier_id=dossier_id, kind=kind, occurred_at=now, source="agent",
                           actor="agent-sim", data=data))

    def bounced_recipients(self) -> set[str]:
        """Mobiles that fail permanently at the first SMS (a deterministic share of them)."""
        from models.enums import ContactKind, LineType
        from models.parties import ContactPoint

        with self.c.uow() as uow:
            values = uow.session.scalars(select(ContactPoint.value).where(
                ContactPoint.kind == ContactKind.PHONE, ContactPoint.line_type == LineType.MOBILE,
                ContactPoint.valid)).all()
        rng = random.Random(len(values))
        return {v for v in values if rng.random() < self.b.bounce_rate}


def campaign_summary(container, campaign_id: int | None = None) -> dict:
    """Counts for the end of a simulation or the demo, per variant."""
    from models.payments import Payment

    from models.campaigns import Campaign

    with container.uow() as uow:
        s = uow.session
        q = select(Campaign.name, Enrolment.variant, Enrolment.dossier_id).join(Campaign, Campaign.id == Enrolment.campaign_id)
        if campaign_id:
            q = q.where(Enrolment.campaign_id == campaign_id)
        variant_of = {d: f"{name} / {v}" for name, v, d in s.execute(q)}
        out: dict = {}
        for variant in sorted(set(variant_of.values())):
            ids = [d for d, v in variant_of.items() if v == variant]
            placed = collected = Decimal("0")
            statuses: dict = defaultdict(int)
            for i in range(0, len(ids), 5000):
                part = ids[i:i + 5000]
                placed += s.scalar(select(func.coalesce(func.sum(Dossier.amount_placed), 0)).where(Dossier.id.in_(part))) or 0
                collected += s.scalar(select(func.coalesce(func.sum(Payment.amount), 0)).where(
                    Payment.dossier_id.in_(part), Payment.status == "applied")) or 0
                for st, n in s.execute(select(Dossier.status, func.count()).where(Dossier.id.in_(part)).group_by(Dossier.status)):
                    statuses[str(st)] += n
            actions = dict(s.execute(select(Action.channel, func.count()).where(
                Action.dossier_id.in_(ids[:30000]), Action.status.in_([ActionStatus.SENT, ActionStatus.DELIVERED]))
                .group_by(Action.channel)).all())
            out[variant] = {
                "dossiers": len(ids), "placed": round_cents(Decimal(str(placed))),
                "collected": round_cents(Decimal(str(collected))),
                "recovery_rate": (Decimal(str(collected)) / Decimal(str(placed)) * 100).quantize(Decimal("0.1")) if placed else Decimal("0"),
                "statuses": dict(statuses), "sent": {str(k): v for k, v in actions.items()},
            }
        return out
