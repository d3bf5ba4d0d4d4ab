"""`relance explain DOSSIER`: why an enrolment does what it does, in French, line by line.

It runs the planner on that one enrolment (same rules, same code path) and describes the
scenario, where the enrolment stands, the contact facts and the decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from models.enums import Channel
from scenarios.calendars import holiday_name, zone
from scenarios.decisions import Action, Blocked, Deferred, Ended, Idle, Planned, Skipped
from scenarios.language import Anchor, Scenario
from scenarios.planner import plan
from scenarios.policy import DEFAULT_POLICY, ContactPolicy
from scenarios.snapshots import NO_HISTORY, ContactHistory, EnrolmentSnapshot, EnrolmentStatus

_STATUS = {
    EnrolmentStatus.ACTIVE: "active",
    EnrolmentStatus.PAUSED: "en pause",
    EnrolmentStatus.SUSPENDED: "suspendue",
    EnrolmentStatus.ENDED: "terminée",
}
_CHANNEL = {"sms": "SMS", "email": "e-mail", "letter": "courrier", "call": "appel"}
_ACTION = {
    "decheance_du_terme": "déchéance du terme",
    "escalate": "transmission pour injonction de payer",
    "close": "clôture",
    "check_promise": "contrôle de la promesse",
}


def explain(
    enrolment: EnrolmentSnapshot,
    *,
    catalogue: Mapping[str, Scenario],
    policy: ContactPolicy = DEFAULT_POLICY,
    now: datetime,
    history: ContactHistory | None = None,
) -> list[str]:
    history = history or NO_HISTORY
    state, dossier = enrolment.state, enrolment.dossier
    tz = zone(dossier.timezone)
    local_now = now.astimezone(tz)
    lines = [f"Dossier {dossier.dossier_id}, inscription {enrolment.enrolment_id}, au {local_now:%d/%m/%Y %H:%M} ({dossier.timezone})."]
    scenario = catalogue.get(state.scenario)
    if scenario is None:
        return lines + [f"Scénario inconnu : « {state.scenario} »."]

    lines.append(f"Scénario « {scenario.name} » : {scenario.description}")
    status = _STATUS[state.status]
    if state.paused_until is not None:
        status += f" jusqu'au {state.paused_until:%d/%m/%Y}"
    lines.append(f"Inscription {status}, cycle {state.cycle}" + (f", variante {state.variant}" if state.variant else "") + ".")
    lines.append(_anchor_line(enrolment, scenario))
    if state.origin is not None:
        origin_step = state.origin.step or "fin du scénario"
        lines.append(f"Scénario d'origine : « {state.origin.scenario} » (reprise prévue à « {origin_step} »).")

    lines.append("Étapes :")
    for index, step in enumerate(scenario.steps):
        mark = "fait" if index < state.next_step else ("en cours" if index == state.next_step else "à venir")
        due = state.anchor_on + timedelta(days=step.due_offset)
        what = _CHANNEL[step.channel.value] + f" ({step.template})" if step.channel else ""
        if step.action is not None:
            what = _ACTION[step.action.value] + (f" + {what}" if what else "")
        if step.fallback_channel is not None:
            what += f", repli {_CHANNEL[step.fallback_channel.value]} ({step.fallback_template})"
        lines.append(f"  [{mark}] {step.name} : J{step.due_offset:+d}, le {due:%d/%m/%Y}, {what}")

    contacts = dossier.contacts
    channels = [
        f"{_CHANNEL[channel.value]} {'oui' if contacts.point_for(channel) is not None else 'non'}"
        for channel in (Channel.SMS, Channel.EMAIL, Channel.LETTER, Channel.CALL)
    ]
    lines.append("Moyens de contact utilisables : " + ", ".join(channels) + ".")
    if contacts.opted_out:
        lines.append("Oppositions : " + ", ".join(sorted(_CHANNEL[c.value] for c in contacts.opted_out)) + ".")
    today = local_now.date()
    holiday = holiday_name(today, dossier.holiday_subdivision)
    if holiday:
        lines.append(f"Aujourd'hui est férié pour ce débiteur ({holiday}).")
    week_ago = now - policy.contact_window
    recent = sum(1 for c in history.contacts if c > week_ago)
    lines.append(f"Contacts sur 7 jours : {recent} (plafond {policy.max_contacts_per_window}), "
                 f"tentatives d'appel : {len(history.call_attempts)} (plafond {policy.max_call_attempts}).")
    if history.last_right_party_at is not None:
        lines.append(f"Dernier échange avec le débiteur : {history.last_right_party_at.astimezone(tz):%d/%m/%Y %H:%M}.")
    if dossier.prescription_expires_on is not None:
        lines.append(f"Prescription : {dossier.prescription_expires_on:%d/%m/%Y}.")

    result = plan([enrolment], catalogue=catalogue, policy=policy, now=now,
                  histories={dossier.debtor_id: history})
    outcome = result.outcomes[0]
    for decision in outcome.decisions:
        lines.append("Décision : " + _describe(decision, tz))
    if outcome.next_due_at is not None:
        lines.append(f"Prochain examen : {outcome.next_due_at.astimezone(tz):%d/%m/%Y %H:%M}.")
    elif outcome.state.status is not EnrolmentStatus.ENDED:
        lines.append("Prochain examen : sur événement ou décision d'un agent.")
    return lines


def _anchor_line(enrolment: EnrolmentSnapshot, scenario: Scenario) -> str:
    state = enrolment.state
    if scenario.anchor is Anchor.INSTALLMENT:
        count = len(enrolment.installments)
        return f"Ancre : échéance n° {state.occurrence}/{count} du {state.anchor_on:%d/%m/%Y}."
    if scenario.anchor is Anchor.PROMISE:
        promise = enrolment.promise
        amount = f" de {promise.amount} EUR" if promise is not None else ""
        return f"Ancre : promesse{amount} pour le {state.anchor_on:%d/%m/%Y}."
    return f"Ancre : J0 le {state.anchor_on:%d/%m/%Y}."


def _describe(decision, tz) -> str:
    if isinstance(decision, Planned):
        via = " (canal de repli)" if decision.fallback else ""
        return (f"planifié : « {decision.step} » par {_CHANNEL[decision.channel.value]}{via}, modèle "
                f"{decision.template}, clé {decision.idempotency_key}.")
    if isinstance(decision, Deferred):
        step = f"« {decision.step} » " if decision.step else ""
        return f"{step}reporté au {decision.until.astimezone(tz):%d/%m/%Y %H:%M} [{decision.code}] : {decision.reason}"
    if isinstance(decision, Blocked):
        step = f"« {decision.step} » " if decision.step else ""
        return f"{step}bloqué [{decision.code}] : {decision.reason}"
    if isinstance(decision, Skipped):
        return f"« {decision.step} » sautée [{decision.code}] : {decision.reason}"
    if isinstance(decision, Action):
        event = f", événement {decision.event.value}" if decision.event else ""
        letter = f", avec {decision.message.template}" if decision.message else ""
        return f"{_ACTION[decision.kind.value]} (« {decision.step} »){event}{letter}."
    if isinstance(decision, Ended):
        return f"fin ({decision.kind.value}) : {decision.reason}"
    if isinstance(decision, Idle):
        return f"rien à faire [{decision.code}] : {decision.reason}"
    return repr(decision)  # pragma: no cover
