"""The planner: next step of each enrolment, under the scenario and the contact policy."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from models.enums import Channel, ClaimNature, DossierStatus, EventKind, Suspension
from scenarios.decisions import Action, Blocked, Deferred, Ended, Planned, Skipped
from scenarios.explain import explain
from scenarios.language import Anchor, Conditions, Effect, EndKind, Reaction, Scenario, Step
from scenarios.planner import plan
from scenarios.snapshots import ContactHistory, ContactSnapshot, EnrolmentStatus

from .builders import ALL_CHANNELS, at, dossier, enrolment, installments, promise, without


def run_days(catalogue, snapshot, start: date, days: int, hour: int = 10):
    """Plan once a day at `hour` (debtor's time) and feed each outcome back, as the relance
    run would; returns [(date, decision)] for everything but waiting."""
    seen = []
    contacts: list[datetime] = []
    for offset in range(days + 1):
        day = start + timedelta(days=offset)
        now = at(day.year, day.month, day.day, hour)
        history = ContactHistory(contacts=tuple(c for c in contacts if c > now - timedelta(days=7)))
        outcome = plan([snapshot], catalogue=catalogue, now=now, histories={snapshot.dossier.debtor_id: history}).outcomes[0]
        for decision in outcome.decisions:
            if isinstance(decision, Deferred) and decision.code == "not_due":
                continue
            seen.append((day, decision))
            if isinstance(decision, Planned):
                contacts.append(decision.not_before)
        snapshot = replace(snapshot, state=outcome.state)
        if outcome.state.status is EnrolmentStatus.ENDED:
            break
    return seen, snapshot


def test_the_amiable_particulier_timeline_over_35_days_gives_the_expected_sequence(catalogue):
    start = date(2025, 3, 3)  # a Monday: no step of the timeline falls on a Sunday
    seen, final = run_days(catalogue, enrolment(anchor_on=start), start, 40)
    days = [(day - start).days for day, _ in seen]
    steps = [(d.step, d.channel.value) if isinstance(d, Planned) else (type(d).__name__, d.kind.value) for _, d in seen]
    assert steps == [
        ("sms_premier_contact", "sms"),
        ("email_relance", "email"),
        ("appel_j7", "call"),
        ("premiere_relance", "letter"),
        ("appel_j15", "call"),
        ("mise_en_demeure", "letter"),
        ("appel_apres_mise_en_demeure", "call"),
        ("Ended", "escalate"),
    ]
    assert days == [0, 3, 7, 10, 15, 21, 28, 35]
    assert final.state.status is EnrolmentStatus.ENDED


def test_a_step_due_on_a_sunday_is_deferred_to_monday_not_dropped(catalogue):
    snap = enrolment(anchor_on=date(2025, 3, 2))  # D0 is a Sunday
    seen, _ = run_days(catalogue, snap, date(2025, 3, 2), 1)
    (sunday, deferred), (monday, planned) = seen
    assert isinstance(deferred, Deferred) and deferred.code == "rest_day"
    assert deferred.until == at(2025, 3, 3, 8)
    assert isinstance(planned, Planned) and planned.step == "sms_premier_contact"
    assert monday == date(2025, 3, 3)


def test_a_deferred_step_stays_pending_and_is_due_again_at_the_computed_time(catalogue):
    snap = enrolment(anchor_on=date(2025, 3, 11))
    outcome = plan([snap], catalogue=catalogue, now=at(2025, 3, 11, 21)).outcomes[0]
    assert isinstance(outcome.decision, Deferred)
    assert outcome.state == snap.state
    assert outcome.next_due_at == at(2025, 3, 12, 8)


def test_planned_actions_carry_stable_idempotency_keys(catalogue):
    snap = enrolment(anchor_on=date(2025, 3, 11))
    now = at(2025, 3, 11, 10)
    first = plan([snap], catalogue=catalogue, now=now).planned()
    again = plan([snap], catalogue=catalogue, now=now + timedelta(minutes=5)).planned()
    assert [p.idempotency_key for p in first] == ["1:amiable-particulier:sms_premier_contact:1"]
    assert [p.idempotency_key for p in again] == [p.idempotency_key for p in first]
    assert first[0].contact_point_id == ALL_CHANNELS.mobile_id
    assert first[0].not_before == now


def test_the_daily_cap_holds_across_two_dossiers_of_the_same_debtor(catalogue):
    first = enrolment(snapshot=dossier(1, debtor_id=500), anchor_on=date(2025, 3, 11))
    second = enrolment(snapshot=dossier(2, debtor_id=500), anchor_on=date(2025, 3, 11))
    other_debtor = enrolment(snapshot=dossier(3, debtor_id=501), anchor_on=date(2025, 3, 11))
    result = plan([second, other_debtor, first], catalogue=catalogue, now=at(2025, 3, 11, 10))
    by_dossier = {o.dossier_id: o.decision for o in result.outcomes}
    assert isinstance(by_dossier[1], Planned)  # lowest enrolment id of the debtor goes first
    assert isinstance(by_dossier[2], Deferred) and by_dossier[2].code == "daily_cap"
    assert by_dossier[2].until == at(2025, 3, 12, 8)
    assert isinstance(by_dossier[3], Planned)
    assert [o.dossier_id for o in result.outcomes] == [2, 3, 1]  # input order kept


def test_the_weekly_cap_counts_the_contacts_of_the_debtors_other_dossiers(catalogue):
    snap = enrolment(anchor_on=date(2025, 3, 11))
    history = ContactHistory(contacts=(at(2025, 3, 6, 10), at(2025, 3, 8, 10), at(2025, 3, 10, 10)))
    outcome = plan([snap], catalogue=catalogue, now=at(2025, 3, 11, 10), histories={100: history}).outcomes[0]
    assert outcome.decision.code == "weekly_cap"
    assert outcome.decision.until == at(2025, 3, 13, 10)


def test_an_sms_opt_out_falls_back_to_the_letter_when_the_step_says_so():
    scenario = Scenario(
        name="test",
        description="SMS, sinon courrier",
        anchor=Anchor.ENROLMENT,
        steps=(Step("premier", 0, Channel.SMS, "sms/x", fallback_channel=Channel.LETTER, fallback_template="letter/y"),),
        reactions=(),
        end=EndKind.CLOSE,
    )
    opted = dossier(contacts=without(ALL_CHANNELS, Channel.SMS))
    outcome = plan([enrolment("test", snapshot=opted, anchor_on=date(2025, 3, 11))], catalogue={"test": scenario}, now=at(2025, 3, 11, 10)).outcomes[0]
    assert isinstance(outcome.decision, Planned)
    assert (outcome.decision.channel, outcome.decision.template) == (Channel.LETTER, "letter/y")
    assert outcome.decision.fallback and outcome.decision.contact_point_id == ALL_CHANNELS.address_id


def test_an_sms_opt_out_uses_the_catalogue_fallback_email(catalogue):
    opted = dossier(contacts=without(ALL_CHANNELS, Channel.SMS))
    outcome = plan([enrolment(snapshot=opted, anchor_on=date(2025, 3, 11))], catalogue=catalogue, now=at(2025, 3, 11, 10)).outcomes[0]
    assert outcome.decision.channel is Channel.EMAIL
    assert outcome.decision.template == "email/premier_contact"


def test_an_opt_out_with_no_possible_fallback_is_blocked_and_the_scenario_moves_on(catalogue):
    contacts = ContactSnapshot(mobile_id=11, phone_id=11, address_id=13, opted_out=frozenset({Channel.SMS}))
    outcome = plan([enrolment(snapshot=dossier(contacts=contacts), anchor_on=date(2025, 3, 11))], catalogue=catalogue, now=at(2025, 3, 11, 10)).outcomes[0]
    blocked, waiting = outcome.decisions
    assert isinstance(blocked, Blocked) and blocked.code == "opted_out" and blocked.step == "sms_premier_contact"
    assert isinstance(waiting, Deferred) and waiting.step == "email_relance"
    assert outcome.state.next_step == 1


def test_a_step_with_no_contact_point_at_all_is_skipped(catalogue):
    only_address = dossier(contacts=ContactSnapshot(address_id=13))
    outcome = plan([enrolment(snapshot=only_address, anchor_on=date(2025, 3, 1))], catalogue=catalogue, now=at(2025, 3, 11, 10)).outcomes[0]
    # D0 SMS, D3 email and D7 call are all impossible: skipped in one go; the letter goes.
    assert [type(d).__name__ for d in outcome.decisions] == ["Skipped", "Skipped", "Skipped", "Planned"]
    assert outcome.decision.step == "premiere_relance"
    assert outcome.decisions[0].code == "no_contact_point"


def test_a_dispute_blocks_the_enrolment_and_suspends_it(catalogue):
    disputed = dossier(suspension=Suspension.DISPUTE, status=DossierStatus.SUSPENDED)
    outcome = plan([enrolment(snapshot=disputed, anchor_on=date(2025, 3, 11))], catalogue=catalogue, now=at(2025, 3, 11, 10)).outcomes[0]
    assert isinstance(outcome.decision, Blocked) and outcome.decision.code == "dispute"
    assert outcome.state.status is EnrolmentStatus.SUSPENDED
    assert outcome.next_due_at is None


def test_a_prescribed_debt_blocks_every_step(catalogue):
    prescribed = dossier(prescription_expires_on=date(2025, 3, 1))
    outcome = plan([enrolment(snapshot=prescribed, anchor_on=date(2025, 3, 11))], catalogue=catalogue, now=at(2025, 3, 11, 10)).outcomes[0]
    assert outcome.decision.code == "prescribed"
    assert plan([enrolment(snapshot=prescribed, next_step=7, anchor_on=date(2025, 2, 1))], catalogue=catalogue, now=at(2025, 3, 11, 10)).outcomes[0].decision.code == "prescribed"


def test_a_file_with_nothing_left_to_pay_is_closed_not_escalated(catalogue):
    paid = dossier(balance="0.00")
    outcome = plan([enrolment(snapshot=paid, next_step=7, anchor_on=date(2025, 2, 1))], catalogue=catalogue, now=at(2025, 3, 11, 10)).outcomes[0]
    assert outcome.decision == Ended(EndKind.CLOSE, outcome.decision.reason, "transmission_judiciaire")


def test_step_conditions_on_balance_and_nature_skip_the_step():
    scenario = Scenario(
        name="test",
        description="conditions",
        anchor=Anchor.ENROLMENT,
        steps=(
            Step("gros_solde", 0, Channel.EMAIL, "email/a", Conditions(balance_above=Decimal("1000"))),
            Step("entreprises", 1, Channel.EMAIL, "email/b", Conditions(nature_in=frozenset({ClaimNature.BUSINESS}))),
            Step("tous", 2, Channel.EMAIL, "email/c"),
        ),
        reactions=(Reaction(EventKind.PAID_IN_FULL, Effect.CLOSE),),
        end=EndKind.CLOSE,
    )
    outcome = plan([enrolment("test", anchor_on=date(2025, 3, 9))], catalogue={"test": scenario}, now=at(2025, 3, 11, 10)).outcomes[0]
    assert [(d.step, d.code) for d in outcome.decisions[:2]] == [("gros_solde", "balance_not_above"), ("entreprises", "nature_excluded")]
    assert outcome.decision.step == "tous"


def test_b2b_calls_wait_for_a_business_day(catalogue):
    snap = enrolment("amiable-entreprise", next_step=1, anchor_on=date(2025, 3, 12), snapshot=dossier(natures={ClaimNature.BUSINESS}))
    outcome = plan([snap], catalogue=catalogue, now=at(2025, 3, 15, 10)).outcomes[0]  # D3 is a Saturday
    assert outcome.decision.code == "not_business_day"
    assert outcome.decision.until == at(2025, 3, 17, 8)


def test_two_missed_installments_bring_the_decheance_du_terme(catalogue):
    plan_dates = installments(date(2025, 1, 10), date(2025, 2, 10), date(2025, 3, 10), paid=("100.00", "0", "0"))
    snap = enrolment(
        "suivi-echeancier",
        state=replace(
            enrolment("suivi-echeancier").state, anchor_on=date(2025, 3, 10), occurrence=3, next_step=3
        ),
        installments=plan_dates,
    )
    outcome = plan([snap], catalogue=catalogue, now=at(2025, 3, 15, 10)).outcomes[0]
    action = outcome.decision
    assert isinstance(action, Action)
    assert action.event is EventKind.PLAN_DEFAULTED
    assert action.data == {"missed": 2, "count": 3}
    assert action.message.template == "letter/decheance_terme"
    assert action.message.idempotency_key == "1:suivi-echeancier:decheance_du_terme:3"
    # No origin (enrolled on the plan directly): the follow-up's `otherwise` applies.
    assert outcome.transition.end is EndKind.ESCALATE
    assert outcome.state.status is EnrolmentStatus.ENDED


def test_a_single_missed_installment_is_only_chased_not_pronounced_fallen(catalogue):
    plan_dates = installments(date(2025, 2, 10), date(2025, 3, 10), paid=("100.00",))
    base = enrolment("suivi-echeancier").state
    snap = enrolment("suivi-echeancier", state=replace(base, anchor_on=date(2025, 3, 10), occurrence=2, next_step=3), installments=plan_dates)
    outcome = plan([snap], catalogue=catalogue, now=at(2025, 3, 15, 10)).outcomes[0]
    assert outcome.decisions[0] == Skipped("decheance_du_terme", "too_few_missed", outcome.decisions[0].reason)
    # That was the last installment with money still owed: the plan ends in escalation.
    assert outcome.decision.kind is EndKind.ESCALATE


def test_the_plan_follow_up_moves_from_one_installment_to_the_next(catalogue):
    plan_dates = installments(date(2025, 3, 10), date(2025, 4, 10), paid=("100.00",))
    base = enrolment("suivi-echeancier").state
    snap = enrolment("suivi-echeancier", state=replace(base, anchor_on=date(2025, 3, 10), occurrence=1, next_step=1), installments=plan_dates)
    outcome = plan([snap], catalogue=catalogue, now=at(2025, 3, 15, 10)).outcomes[0]
    # Installment 1 is paid: its remaining steps are skipped, installment 2's reminder waits.
    assert [type(d).__name__ for d in outcome.decisions] == ["Skipped", "Skipped", "Skipped", "Deferred"]
    assert (outcome.state.occurrence, outcome.state.next_step, outcome.state.anchor_on) == (2, 0, date(2025, 4, 10))
    assert outcome.next_due_at == at(2025, 4, 7, 0)


def test_a_stale_installment_reminder_is_skipped_once_the_due_day_has_come(catalogue):
    plan_dates = installments(date(2025, 3, 10))
    base = enrolment("suivi-echeancier").state
    snap = enrolment("suivi-echeancier", state=replace(base, anchor_on=date(2025, 3, 10)), installments=plan_dates)
    outcome = plan([snap], catalogue=catalogue, now=at(2025, 3, 11, 10)).outcomes[0]
    assert outcome.decisions[0].code == "superseded"
    assert outcome.decision.step == "echeance_du_jour"


def test_the_promise_reminder_goes_the_day_before_only_if_the_money_is_not_there(catalogue):
    base = enrolment("suivi-promesse").state
    due = date(2025, 3, 12)
    unpaid = enrolment("suivi-promesse", state=replace(base, anchor_on=due), promise=promise(due))
    paid = enrolment("suivi-promesse", state=replace(base, anchor_on=due), promise=promise(due, paid="200.00"))
    now = at(2025, 3, 11, 10)
    assert plan([unpaid], catalogue=catalogue, now=now).outcomes[0].decision.template == "sms/promesse_rappel"
    skipped = plan([paid], catalogue=catalogue, now=now).outcomes[0].decisions[0]
    assert skipped.code == "promise_paid"


def test_explain_tells_in_french_what_the_planner_decides(catalogue):
    lines = explain(enrolment(anchor_on=date(2025, 3, 11)), catalogue=catalogue, now=at(2025, 3, 11, 21))
    text = "\n".join(lines)
    assert "amiable-particulier" in text
    assert "[en cours] sms_premier_contact" in text
    assert "reporté au 12/03/2025 08:00 [outside_hours]" in text


def test_the_planner_is_deterministic_whatever_the_input_order(catalogue):
    snaps = [enrolment(snapshot=dossier(i, debtor_id=100 + i % 3), anchor_on=date(2025, 3, 11)) for i in range(1, 10)]
    now = at(2025, 3, 11, 10)
    forward = {o.enrolment_id: o for o in plan(snaps, catalogue=catalogue, now=now).outcomes}
    backward = {o.enrolment_id: o for o in plan(list(reversed(snaps)), catalogue=catalogue, now=now).outcomes}
    assert forward == backward


def test_the_planner_refuses_a_naive_clock(catalogue):
    with pytest.raises(ValueError):
        plan([], catalogue=catalogue, now=datetime(2025, 3, 11, 10))
