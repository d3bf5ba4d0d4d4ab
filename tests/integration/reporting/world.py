"""A small, fully known world for the reporting tests: one creditor (15 % commission, 5 EUR per
file), one campaign with a challenger, three dossiers, five actions, two call attempts, a promise,
a plan and five payments (one reversed). The hand-computed figures are in test_report_figures.py.

    day   what happens
    D1    A, B (champion) and C (challenger) enrolled; SMS to A (2 segments, 0.10, delivered),
          SMS to B (0.05, bounced), call step for C (call task), call attempt on C: no answer
    D2    call attempt on C, 5 minutes, right-party contact; C promises 400 due D9;
          A pays 200
    D3    B pays 100 (its only action bounced: no action to credit)
    D4    email to A (0.01, sent); letter to C fails before it is sent
    D5    A agrees a plan of 600
    D6    A pays 50 (reversed later) and 300
    D9    C pays 400: the promise is kept
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from models.agreements import PaymentPlan, Promise
from models.campaigns import Campaign, Enrolment
from models.dossiers import Dossier, DossierEvent
from models.enums import ActionStatus, CallTaskStatus, Channel, DebtorKind, EventKind, PaymentStatus, PromiseStatus
from models.outbox import Action, CallTask
from models.parties import Creditor, Debtor
from models.payments import Payment

D1 = date(2026, 3, 2)
DAY = timedelta(days=1)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), timezone.utc)


def d(n: int) -> date:
    return D1 + (n - 1) * DAY


@dataclass
class World:
    creditor_id: int
    campaign_id: int
    dossiers: dict[str, int]
    actions: dict[str, int]


def build_world(container) -> World:
    now = at(D1, 8)
    with container.uow() as uow:
        s = uow.session
        creditor = Creditor(name="Banque Test", commission_rate=Decimal("0.15"), fixed_fee_per_file=Decimal("5.00"),
                            created_at=now)
        s.add(creditor)
        s.flush()
        campaign = Campaign(name="printemps", scenario="amiable-particulier",
                            challenger_scenario="amiable-particulier-appel", challenger_percent=50,
                            creditor_id=creditor.id, created_at=now)
        s.add(campaign)
        s.flush()
        dossiers, enrolments = {}, {}
        for ref, placed, variant in (("A", "1000.00", "champion"), ("B", "500.00", "champion"),
                                     ("C", "2000.00", "challenger")):
            debtor = Debtor(creditor_id=creditor.id, external_ref=ref, kind=DebtorKind.PERSON, last_name=ref,
                            created_at=now, updated_at=now)
            s.add(debtor)
            s.flush()
            dossier = Dossier(creditor_id=creditor.id, debtor_id=debtor.id, external_ref=ref, placed_on=D1,
                              amount_placed=Decimal(placed), created_at=now, updated_at=now)
            s.add(dossier)
            s.flush()
            dossiers[ref] = dossier.id
            scenario = campaign.challenger_scenario if variant == "challenger" else campaign.scenario
            enrolment = Enrolment(campaign_id=campaign.id, dossier_id=dossier.id, debtor_id=debtor.id,
                                  variant=variant, scenario=scenario, anchor_on=D1, enrolled_at=at(D1, 8),
                                  updated_at=now)
            s.add(enrolment)
            s.flush()
            enrolments[ref] = enrolment
        actions = {}

        def action(name, ref, channel, step, day, *, status, sent=True, delivered=None, cost="0", segments=None):
            e = enrolments[ref]
            a = Action(idempotency_key=f"{ref}:{step}", enrolment_id=e.id, campaign_id=campaign.id,
                       dossier_id=dossiers[ref], debtor_id=e.debtor_id, scenario=e.scenario, step=step,
                       variant=e.variant, channel=channel, template="t", status=status, not_before=at(day),
                       attempts=1, provider_id=f"prov-{name}", segments=segments, cost=Decimal(cost),
                       planned_at=at(day, 8), sending_at=at(day), sent_at=at(day) if sent else None,
                       delivered_at=delivered, failed_at=at(day, 9, 5) if status == ActionStatus.FAILED else None,
                       updated_at=at(day))
            s.add(a)
            s.flush()
            actions[name] = a.id

        action("a1", "A", Channel.SMS, "sms-j0", d(1), status=ActionStatus.DELIVERED, delivered=at(d(1), 9, 1),
               cost="0.10", segments=2)
        action("a2", "B", Channel.SMS, "sms-j0", d(1), status=ActionStatus.FAILED, cost="0.05", segments=1)
        action("a3", "C", Channel.CALL, "appel-j0", d(1), status=ActionStatus.SENT)
        action("a4", "A", Channel.EMAIL, "email-j3", d(4), status=ActionStatus.SENT, cost="0.01")
        action("a5", "C", Channel.LETTER, "courrier-j10", d(4), status=ActionStatus.FAILED, sent=False)
        task = CallTask(action_id=actions["a3"], idempotency_key="call:a3", dossier_id=dossiers["C"],
                        debtor_id=enrolments["C"].debtor_id, due_at=at(d(1)), status=CallTaskStatus.DONE,
                        attempts=2, created_at=at(d(1)), updated_at=at(d(2)))
        s.add(task)
        s.flush()
        for kind, when, data in (
            (EventKind.CALL_ATTEMPT, at(d(1), 14), {"call_task_id": task.id, "outcome": "no_answer"}),
            (EventKind.CALL_ATTEMPT, at(d(2), 10), {"call_task_id": task.id, "outcome": "answered",
                                                    "duration_seconds": 300}),
            (EventKind.RIGHT_PARTY_CONTACT, at(d(2), 10), {"call_task_id": task.id}),
        ):
            s.add(DossierEvent(dossier_id=dossiers["C"], kind=kind, occurred_at=when, source="agent", data=data))
        s.add(Promise(dossier_id=dossiers["C"], amount=Decimal("400.00"), due_on=d(9), made_on=d(2),
                      paid=Decimal("400.00"), status=PromiseStatus.KEPT, resolved_on=d(9), created_at=at(d(2), 10)))
        s.add(PaymentPlan(dossier_id=dossiers["A"], agreed_on=d(5), total=Decimal("600.00"), created_at=at(d(5))))
        for ext, ref, amount, day, status in (("p1", "A", "200.00", d(2), PaymentStatus.APPLIED),
                                              ("p3", "B", "100.00", d(3), PaymentStatus.APPLIED),
                                              ("p4", "A", "50.00", d(6), PaymentStatus.REVERSED),
                                              ("p5", "A", "300.00", d(6), PaymentStatus.APPLIED),
                                              ("p2", "C", "400.00", d(9), PaymentStatus.APPLIED)):
            add_payment(s, ext, dossiers[ref], amount, day, status=status, created=at(day, 12))
        uow.commit()
        return World(creditor.id, campaign.id, dossiers, actions)


def add_payment(s, external_id: str, dossier_id: int, amount: str, day: date, *, status=PaymentStatus.APPLIED,
                created: datetime) -> None:
    s.add(Payment(external_id=external_id, dossier_id=dossier_id, amount=Decimal(amount), received_on=day,
                  method="transfer", status=status, applied_at=created, created_at=created))
