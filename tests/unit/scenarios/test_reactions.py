"""Reactions: how events on the dossier move its enrolment between steps and scenarios."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from models.enums import Channel, EventKind
from scenarios.decisions import Action, Planned
from scenarios.language import Effect, EndKind
from scenarios.planner import plan
from scenarios.reactions import EventDataError, react
from scenarios.snapshots import ContactSnapshot, EnrolmentState, EnrolmentStatus, Origin

from .builders import at, dossier, enrolment, installments, promise

D0 = date(2025, 3, 3)  # a Monday
AMIABLE = EnrolmentState(scenario="amiable-particulier", anchor_on=D0)


def at_step(name: str, catalogue, state: EnrolmentState = AMIABLE) -> EnrolmentState:
    return replace(state, next_step=catalogue[state.scenario].step_index(name))


def test_a_promise_made_switches_to_the_promise_follow_up_and_remembers_the_origin(catalogue):
    state = at_step("appel_j15", catalogue)
    promised = date(2025, 3, 20)
    transition = react(state, EventKind.PROMISE_MADE, {"date": promised.isoformat(), "amount": "200.00"},
                       catalogue=catalogue, now=at(2025, 3, 17, 11))
    assert transition.effect is Effect.SWITCH_TO
    new = transition.state
    assert (new.scenario, new.anchor_on, new.next_step, new.cycle) == ("suivi-promesse", promised, 0, 1)
    assert new.origin == Origin("amiable-particulier", "appel_j15", 1, D0, 1)
    assert transition.next_due_at == at(2025, 3, 19, 0)  # the reminder, the day before


def test_a_broken_promise_resumes_the_origin_at_the_mise_en_demeure_step(catalogue):
    promised = date(2025, 3, 20)
    switched = react(at_step("appel_j15", catalogue), EventKind.PROMISE_MADE, {"date": promised},
                     catalogue=catalogue, now=at(2025, 3, 17, 11)).state
    snap = enrolment("suivi-promesse", state=switched, promise=promise(promised))

    reminder = plan([snap], catalogue=catalogue, now=at(2025, 3, 19, 10)).outcomes[0]
    assert reminder.decision.template == "sms/promesse_rappel"
    snap = replace(snap, state=reminder.state)

    # The day after the promised date plus one day of grace: nothing came.
    check = plan([snap], catalogue=catalogue, now=at(2025, 3, 22, 10)).outcomes[0]
    assert isinstance(check.decision, Action) and check.decision.event is EventKind.PROMISE_BROKEN
    back = check.state
    assert (back.scenario, back.origin) == ("amiable-particulier", None)
    assert catalogue["amiable-particulier"].steps[back.next_step].name == "mise_en_demeure"
    assert back.anchor_on == date(2025, 3, 1)  # re-anchored: the harder step is due today
    assert check.next_due_at == at(2025, 3, 22, 0)

    letter = plan([enrolment(state=back)], catalogue=catalogue, now=at(2025, 3, 22, 10)).outcomes[0]
    assert isinstance(letter.decision, Planned)
    assert letter.decision.idempotency_key == "1:amiable-particulier:mise_en_demeure:1"


def test_resuming_at_a_step_already_sent_gives_it_a_new_idempotency_key(catalogue):
    state = at_step("appel_apres_mise_en_demeure", catalogue)  # the mise en demeure has gone
    transition = react(state, EventKind.PROMISE_BROKEN, {}, catalogue=catalogue, now=at(2025, 4, 1, 9))
    assert catalogue["amiable-particulier"].steps[transition.state.next_step].name == "mise_en_demeure"
    assert transition.state.cycle == 2
    letter = plan([enrolment(state=transition.state)], catalogue=catalogue, now=at(2025, 4, 1, 10)).outcomes[0]
    assert letter.decision.idempotency_key == "1:amiable-particulier:mise_en_demeure:2.1"


def test_a_broken_promise_never_jumps_over_the_r124_4_first_letter(catalogue):
    early = at_step("appel_j7", catalogue)
    transition = react(early, EventKind.PROMISE_BROKEN, {}, catalogue=catalogue, now=at(2025, 3, 6, 9))
    assert catalogue["amiable-particulier"].steps[transition.state.next_step].name == "premiere_relance"


def test_a_kept_promise_goes_back_where_the_origin_stood(catalogue):
    origin = Origin("amiable-particulier", "appel_j15", 1, D0)
    state = EnrolmentState(scenario="suivi-promesse", anchor_on=date(2025, 3, 20), next_step=2, origin=origin)
    transition = react(state, EventKind.PROMISE_KEPT, {}, catalogue=catalogue, now=at(2025, 3, 22, 9))
    assert transition.state.scenario == "amiable-particulier"
    assert transition.state.next_step == catalogue["amiable-particulier"].step_index("appel_j15")
    assert transition.state.cycle == 1


def test_a_second_promise_keeps_the_first_origin_and_gets_new_keys(catalogue):
    first = react(at_step("appel_j15", catalogue), EventKind.PROMISE_MADE, {"date": date(2025, 3, 20)},
                  catalogue=catalogue, now=at(2025, 3, 17, 11)).state
    second = react(first, EventKind.PROMISE_MADE, {"date": date(2025, 3, 28)},
                   catalogue=catalogue, now=at(2025, 3, 21, 11)).state
    assert second.origin == first.origin
    assert (second.anchor_on, second.cycle, second.occurrence_token) == (date(2025, 3, 28), 2, "2.1")


def test_a_company_promise_pauses_the_scenario_until_two_days_after_the_date(catalogue):
    state = EnrolmentState(scenario="amiable-entreprise", anchor_on=D0, next_step=2)  # letter at D8
    transition = react(state, EventKind.PROMISE_MADE, {"date": date(2025, 3, 20)}, catalogue=catalogue, now=at(2025, 3, 7, 9))
    paused = transition.state
    assert (paused.status, paused.paused_until) == (EnrolmentStatus.PAUSED, date(2025, 3, 22))
    assert paused.anchor_on == date(2025, 3, 14)  # the pending letter now falls on 22 March
    waiting = plan([enrolment("amiable-entreprise", state=paused)], catalogue=catalogue, now=at(2025, 3, 15, 10)).outcomes[0]
    assert waiting.decision.code == "paused"


def test_a_plan_agreed_switches_to_the_plan_follow_up_anchored_on_the_first_installment(catalogue):
    data = {"installments": [{"due_on": "2025-04-05"}, {"due_on": "2025-05-05"}]}
    transition = react(at_step("appel_j7", catalogue), EventKind.PLAN_AGREED, data, catalogue=catalogue, now=at(2025, 3, 10, 15))
    assert (transition.state.scenario, transition.state.anchor_on) == ("suivi-echeancier", date(2025, 4, 5))
    assert transition.state.origin.step == "appel_j7"


def test_a_fallen_plan_returns_to_the_origin_for_a_last_call(catalogue):
    plan_dates = installments(date(2025, 4, 5), date(2025, 5, 5), date(2025, 6, 5))
    on_plan = react(at_step("appel_j7", catalogue), EventKind.PLAN_AGREED, {"first_due_on": date(2025, 4, 5)},
                    catalogue=catalogue, now=at(2025, 3, 10, 15)).state
    state = replace(on_plan, occurrence=2, anchor_on=date(2025, 5, 5), next_step=3)
    outcome = plan([enrolment("suivi-echeancier", state=state, installments=plan_dates)], catalogue=catalogue, now=at(2025, 5, 10, 10)).outcomes[0]
    assert outcome.decision.kind.value == "decheance_du_terme"
    back = outcome.state
    assert back.scenario == "amiable-particulier"
    # The origin asks for its last call; the R124-4 letter, not sent yet, comes first.
    assert catalogue["amiable-particulier"].steps[back.next_step].name == "premiere_relance"


def test_a_dispute_suspends_and_its_end_resumes_with_the_pending_step_due_at_once(catalogue):
    state = at_step("appel_j15", catalogue)
    suspended = react(state, EventKind.DISPUTE_OPENED, {}, catalogue=catalogue, now=at(2025, 3, 12, 9))
    assert suspended.state.status is EnrolmentStatus.SUSPENDED and suspended.next_due_at is None
    resumed = react(suspended.state, EventKind.DISPUTE_CLOSED, {}, catalogue=catalogue, now=at(2025, 5, 6, 9))
    assert resumed.state.status is EnrolmentStatus.ACTIVE
    assert resumed.next_due_at == at(2025, 5, 6, 0)
    assert resumed.state.anchor_on == date(2025, 4, 21)  # appel_j15 due on 6 May, the rest keep their spacing


def test_full_payment_closes_the_enrolment(catalogue):
    transition = react(at_step("appel_j15", catalogue), EventKind.PAID_IN_FULL, {}, catalogue=catalogue, now=at(2025, 3, 12, 9))
    assert transition.end is EndKind.CLOSE
    assert transition.state.status is EnrolmentStatus.ENDED


def test_a_partial_payment_changes_nothing(catalogue):
    state = at_step("appel_j15", catalogue)
    transition = react(state, EventKind.PARTIAL_PAYMENT, {"amount": Decimal("50")}, catalogue=catalogue, now=at(2025, 3, 12, 9))
    assert transition.state == state and not transition.changed


def test_a_callback_request_creates_a_call_task_at_the_requested_time(catalogue):
    wanted = datetime(2025, 3, 12, 17, 30, tzinfo=UTC)
    transition = react(AMIABLE, EventKind.CALLBACK_REQUESTED, {"at": wanted.isoformat()}, catalogue=catalogue, now=at(2025, 3, 12, 9))
    task = transition.agent_task
    assert (task.template, task.due_at) == ("call/rappel_demande", wanted)
    assert task.idempotency_key(1) == "1:amiable-particulier:callback:20250312T1730Z"
    assert transition.state == AMIABLE


def test_an_invalid_number_replans_the_failed_sms_on_its_fallback_channel(catalogue):
    sent = replace(AMIABLE, next_step=1)  # the D0 SMS was planned, then bounced
    transition = react(sent, EventKind.CONTACT_INVALID, {"step": "sms_premier_contact"}, catalogue=catalogue, now=at(2025, 3, 3, 11))
    assert (transition.state.next_step, transition.state.cycle) == (0, 2)
    no_mobile = dossier(contacts=ContactSnapshot(phone_id=None, email_id=12, address_id=13))
    retry = plan([enrolment(snapshot=no_mobile, state=transition.state)], catalogue=catalogue, now=at(2025, 3, 4, 10)).outcomes[0]
    assert (retry.decision.channel, retry.decision.idempotency_key) == (Channel.EMAIL, "1:amiable-particulier:sms_premier_contact:2.1")


def test_an_opt_out_without_a_failed_step_leaves_the_coming_steps_to_choose_their_channel(catalogue):
    state = at_step("appel_j15", catalogue)
    transition = react(state, EventKind.OPT_OUT, {"channel": "sms"}, catalogue=catalogue, now=at(2025, 3, 12, 9))
    assert transition.effect is Effect.REPLAN and transition.state == state


def test_a_promise_without_its_date_is_refused(catalogue):
    with pytest.raises(EventDataError):
        react(AMIABLE, EventKind.PROMISE_MADE, {"amount": "10"}, catalogue=catalogue, now=at(2025, 3, 12, 9))


def test_an_event_the_scenario_ignores_changes_nothing(catalogue):
    transition = react(AMIABLE, EventKind.NOTE, {}, catalogue=catalogue, now=at(2025, 3, 12, 9))
    assert transition.effect is None and transition.state == AMIABLE


def test_a_plan_agreed_during_a_dispute_switches_scenario_but_stays_suspended(catalogue):
    suspended = react(at_step("appel_j15", catalogue), EventKind.DISPUTE_OPENED, {}, catalogue=catalogue, now=at(2025, 3, 12, 9)).state
    transition = react(suspended, EventKind.PLAN_AGREED, {"first_due_on": date(2025, 4, 5)}, catalogue=catalogue, now=at(2025, 3, 14, 9))
    assert transition.state.scenario == "suivi-echeancier"
    assert transition.state.status is EnrolmentStatus.SUSPENDED and transition.next_due_at is None
