"""Campaign launch and planning into the outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from models.campaigns import Enrolment
from models.dossiers import Dossier, DossierEvent
from models.enums import ActionStatus, Channel, DossierStatus, EventKind, Suspension
from models.outbox import Action
from services.campaigns import CampaignError, launch_campaign, parse_selection, variant_for
from services.events import process_events
from services.relance_plan import plan_due

from .conftest import at


def launch(container, catalogue, **kw):
    args = dict(name="novembre", scenario="amiable-particulier", now=at(26))
    args.update(kw)
    return launch_campaign(container.uow, catalogue, **args)


def actions(container):
    with container.uow() as uow:
        return uow.session.execute(
            select(Action.dossier_id, Action.step, Action.channel, Action.status).order_by(Action.id)).all()


def dossier_id(container, ref):
    with container.uow() as uow:
        return uow.session.scalar(select(Dossier.id).where(Dossier.external_ref == ref))


def test_a_launch_enrols_every_open_dossier_once(container, catalogue, portfolio):
    report = launch(container, catalogue)
    assert report.enrolled == 4
    with pytest.raises(CampaignError):
        launch(container, catalogue)  # same name
    second = launch(container, catalogue, name="autre")
    assert (second.enrolled, second.skipped_in_other_campaign) == (0, 4)


def test_the_first_day_plans_one_contact_per_debtor_and_planning_again_plans_nothing(container, catalogue, portfolio):
    launch(container, catalogue)
    first = plan_due(container.uow, catalogue, now=at(26))
    rows = actions(container)
    # P-1 and P-3 share a debtor: one contact a day, the other dossier's SMS is deferred.
    assert first.planned == 3 and first.decisions["Deferred"] == 1
    by_dossier = {r.dossier_id: r for r in rows}
    assert by_dossier[dossier_id(container, "P-2")].channel == Channel.EMAIL  # no mobile: fallback
    assert all(r.status == ActionStatus.PLANNED for r in rows)
    again = plan_due(container.uow, catalogue, now=at(26, 9, 5))
    assert again.planned == 0 and len(actions(container)) == 3


def test_the_deferred_dossier_gets_its_sms_the_next_allowed_day(container, catalogue, portfolio):
    launch(container, catalogue)
    plan_due(container.uow, catalogue, now=at(26))
    plan_due(container.uow, catalogue, now=at(27))
    steps = Counter((r.dossier_id, r.step) for r in actions(container))
    assert steps[(dossier_id(container, "P-3"), "sms_premier_contact")] == 1


def test_a_reunion_debtor_is_planned_in_reunion_hours(container, catalogue, portfolio):
    launch(container, catalogue, now=at(26, 6, 0))
    plan_due(container.uow, catalogue, now=at(26, 6, 0))  # 06:00 Paris = 09:00 Réunion
    with container.uow() as uow:
        planned = uow.session.execute(select(Action.dossier_id, Action.channel)).all()
    # Only the Réunion debtor may get an SMS at that hour; the Paris SMS wait for 08:00
    # (emails are not bound by the calling hours).
    assert sorted(tuple(a) for a in planned) == [(dossier_id(container, "P-2"), Channel.EMAIL),
                                                 (dossier_id(container, "P-4"), Channel.SMS)]


def test_a_dispute_suspends_the_enrolment_and_nothing_more_is_planned(container, catalogue, portfolio):
    launch(container, catalogue)
    plan_due(container.uow, catalogue, now=at(26))
    target = dossier_id(container, "P-2")
    with container.uow() as uow:
        uow.session.add(DossierEvent(dossier_id=target, kind=EventKind.DISPUTE_OPENED, occurred_at=at(27, 8),
                                     source="agent", actor="agent1", data={"reason": "montant contesté"}))
        uow.commit()
    process_events(container.uow, catalogue, now=at(27, 8, 30))
    for day in (29, 33, 40):
        plan_due(container.uow, catalogue, now=at(day))
    with container.uow() as uow:
        s = uow.session
        dossier = s.get(Dossier, target)
        assert (dossier.status, dossier.suspension) == (DossierStatus.SUSPENDED, Suspension.DISPUTE)
        planned = s.scalar(select(func.count()).select_from(Action).where(Action.dossier_id == target))
        assert planned == 1  # the D0 email only
        assert s.scalar(select(Enrolment.status).where(Enrolment.dossier_id == target)) == "suspended"


def test_a_promise_switches_to_the_promise_follow_up(container, catalogue, portfolio):
    launch(container, catalogue)
    plan_due(container.uow, catalogue, now=at(26))
    target = dossier_id(container, "P-1")
    with container.uow() as uow:
        uow.session.add(DossierEvent(dossier_id=target, kind=EventKind.PROMISE_MADE, occurred_at=at(27, 10),
                                     source="agent", actor="agent1", data={"date": "2026-12-05", "amount": "500.00"}))
        uow.commit()
    process_events(container.uow, catalogue, now=at(27, 10, 5))
    with container.uow() as uow:
        enrolment = uow.session.scalar(select(Enrolment).where(Enrolment.dossier_id == target))
        assert enrolment.scenario == "suivi-promesse"
        assert enrolment.origin["scenario"] == "amiable-particulier"
        assert uow.session.get(Dossier, target).status == DossierStatus.PROMISE


def test_a_challenger_split_is_stable_and_close_to_its_share():
    share = sum(variant_for(i, 30) == "challenger" for i in range(1, 10_001)) / 10_000
    assert 0.28 < share < 0.32
    assert [variant_for(i, 30) for i in range(50)] == [variant_for(i, 30) for i in range(50)]


def test_a_bad_selection_is_refused_with_its_reason():
    with pytest.raises(CampaignError, match="champ inconnu"):
        parse_selection("couleur = bleu")
    with pytest.raises(CampaignError, match="valeur invalide"):
        parse_selection("balance > beaucoup")
    assert len(parse_selection("balance > 100 and kind = person")) == 2


def test_explain_says_why_the_next_step_waits(container, catalogue, portfolio):
    from services.explain import explain_dossier

    launch(container, catalogue)
    plan_due(container.uow, catalogue, now=at(26))
    lines = explain_dossier(container, "P-3", now=at(26, 9, 1), catalogue=catalogue)

    assert "P-3" in lines[0] and "novembre" in lines[1]
    assert len(lines) > 2


def test_explain_names_an_unknown_dossier(container, catalogue, portfolio):
    from services.explain import explain_dossier

    with pytest.raises(LookupError, match="introuvable"):
        explain_dossier(container, "NOPE", now=at(26), catalogue=catalogue)
