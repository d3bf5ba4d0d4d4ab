"""How an event on the dossier moves its enrolment: `react()`, pure.

The effect comes from the scenario's [reactions] table. Event data the effects read
(values may be date / datetime objects or ISO strings, as stored in the event's JSON):
    promise_made      {"date": promised day, "amount": ...}   switch_to a promise follow-up, pause
    plan_agreed       {"first_due_on": day} or {"installments": [{"due_on": day, ...}, ...]}
    callback_requested {"at": datetime}   (default: now)
    contact_invalid / opt_out {"step": the step whose message failed, "occurrence": n}
                      (optional: without it, only the coming steps change channel)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from models.enums import EventKind
from scenarios.calendars import local_midnight_utc, zone
from scenarios.language import Anchor, Effect, EndKind, Reaction, Scenario
from scenarios.snapshots import EnrolmentState, EnrolmentStatus, Origin
from scenarios.timeline import (
    anchor_for_due_today,
    pending_due_on,
    remembered_cycles,
    resumed_at,
)


class EventDataError(ValueError):
    """The event lacks what its reaction needs (a promised date, the first installment...)."""


@dataclass(frozen=True, slots=True)
class AgentTask:
    """A call an agent must make (e.g. the debtor asked to be called back)."""

    template: str  # the agent's script: "call/<name>"
    due_at: datetime  # UTC
    scenario: str
    reason: str

    def idempotency_key(self, dossier_id: int) -> str:
        return f"{dossier_id}:{self.scenario}:callback:{self.due_at:%Y%m%dT%H%MZ}"


@dataclass(frozen=True, slots=True)
class Transition:
    state: EnrolmentState
    effect: Effect | None  # None: the scenario does not react to this event
    note: str  # French, for the dossier timeline
    next_due_at: datetime | None = None  # UTC; None: wait for an event or a human
    end: EndKind | None = None
    agent_task: AgentTask | None = None

    @property
    def changed(self) -> bool:
        return self.effect not in (None, Effect.CONTINUE, Effect.AGENT_TASK)


def react(
    enrolment_state: EnrolmentState,
    event_kind: EventKind | str,
    event_data: Mapping[str, Any] | None = None,
    *,
    catalogue: Mapping[str, Scenario],
    now: datetime,
    timezone: str = "Europe/Paris",
) -> Transition:
    """The enrolment's next state after the event. `timezone` is the debtor's: it sets which
    local day "today" is when a step is made due at once."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    state = enrolment_state
    kind = EventKind(event_kind)
    data = event_data or {}
    today = now.astimezone(zone(timezone)).date()
    scenario = catalogue[state.scenario]

    if state.status is EnrolmentStatus.ENDED:
        return Transition(state, None, "Inscription terminée : événement sans effet.")
    reaction = scenario.reaction_to(kind)
    if reaction is None:
        return _transition(state, scenario, None, f"Pas de réaction prévue à « {kind} ».", timezone)
    transition = _apply(state, scenario, reaction, kind, data, catalogue, now, today, timezone)
    if (
        state.status is EnrolmentStatus.SUSPENDED
        and reaction.effect is not Effect.RESUME
        and transition.state.status is not EnrolmentStatus.ENDED
    ):
        # Only the end of the suspension lifts it: a plan or a promise recorded meanwhile
        # changes the scenario, not the fact that nothing may be sent.
        kept = replace(transition.state, status=EnrolmentStatus.SUSPENDED)
        return replace(transition, state=kept, next_due_at=None)
    return transition


def _apply(
    state: EnrolmentState,
    scenario: Scenario,
    reaction: Reaction,
    kind: EventKind,
    data: Mapping[str, Any],
    catalogue: Mapping[str, Scenario],
    now: datetime,
    today: date,
    timezone: str,
) -> Transition:
    effect = reaction.effect
    if effect is Effect.CONTINUE:
        return _transition(state, scenario, effect, "Le scénario continue.", timezone)
    if effect in (Effect.CLOSE, Effect.ESCALATE):
        return _end(state, effect, EndKind(effect.value))
    if effect is Effect.SUSPEND:
        suspended = replace(state, status=EnrolmentStatus.SUSPENDED)
        return Transition(suspended, effect, "Relances suspendues.")
    if effect is Effect.RESUME:
        return _resume(state, scenario, today, timezone)
    if effect is Effect.PAUSE:
        return _pause(state, scenario, reaction, data, timezone)
    if effect is Effect.RESUME_AT:
        moved = resumed_at(state, scenario, scenario.step_index(reaction.step), today)
        return _transition(moved, scenario, effect, f"Reprise à l'étape « {reaction.step} ».", timezone)
    if effect is Effect.SWITCH_TO:
        return _switch(state, scenario, catalogue[reaction.scenario], kind, data, today, timezone)
    if effect is Effect.RETURN_TO_ORIGIN:
        return _return_to_origin(state, reaction, kind, catalogue, today, timezone)
    if effect is Effect.REPLAN:
        return _replan(state, scenario, data, today, timezone)
    if effect is Effect.AGENT_TASK:
        at = _datetime(data.get("at")) if data.get("at") is not None else now
        task = AgentTask(
            template=reaction.template,
            due_at=at.astimezone(UTC),
            scenario=state.scenario,
            reason="Le débiteur a demandé à être rappelé.",
        )
        transition = _transition(state, scenario, effect, "Tâche d'appel créée pour un agent.", timezone)
        return replace(transition, agent_task=task)
    raise AssertionError(f"unhandled effect {effect}")  # pragma: no cover


# --- effects --------------------------------------------------------------------------


def _transition(
    state: EnrolmentState, scenario: Scenario, effect: Effect | None, note: str, timezone: str
) -> Transition:
    return Transition(state, effect, note, _next_due_at(state, scenario, timezone))


def _end(state: EnrolmentState, effect: Effect, kind: EndKind) -> Transition:
    ended = replace(state, status=EnrolmentStatus.ENDED, paused_until=None)
    note = "Dossier à clôturer." if kind is EndKind.CLOSE else (
        "Recouvrement amiable épuisé : transmission pour injonction de payer."
    )
    return Transition(ended, effect, note, None, end=kind)


def _resume(state: EnrolmentState, scenario: Scenario, today: date, timezone: str) -> Transition:
    if state.status is not EnrolmentStatus.SUSPENDED:
        return _transition(state, scenario, Effect.RESUME, "Aucune suspension à lever.", timezone)
    resumed = replace(state, status=EnrolmentStatus.ACTIVE)
    if state.paused_until is not None and state.paused_until > today:
        resumed = replace(resumed, status=EnrolmentStatus.PAUSED)
    elif scenario.anchor is Anchor.ENROLMENT and pending_due_on(state, scenario) < today:
        # The pending step is due at once and the rest keep their spacing; steps pinned to an
        # installment or a promise keep their real dates (stale ones are skipped as superseded).
        resumed = replace(
            resumed,
            anchor_on=anchor_for_due_today(scenario, state.next_step, today),
            paused_until=None,
        )
    return _transition(resumed, scenario, Effect.RESUME, "Suspension levée : les relances reprennent.", timezone)


def _pause(
    state: EnrolmentState,
    scenario: Scenario,
    reaction: Reaction,
    data: Mapping[str, Any],
    timezone: str,
) -> Transition:
    until = _date(data.get("date") or data.get("until"), "date")
    until = date.fromordinal(until.toordinal() + reaction.grace_days)
    anchor_on = state.anchor_on
    due = pending_due_on(replace(state, paused_until=None), scenario)
    if scenario.anchor is Anchor.ENROLMENT and due < until:
        anchor_on = date.fromordinal(anchor_on.toordinal() + (until - due).days)
    paused = replace(state, status=EnrolmentStatus.PAUSED, paused_until=until, anchor_on=anchor_on)
    return _transition(paused, scenario, Effect.PAUSE, f"Relances en pause jusqu'au {until:%d/%m/%Y}.", timezone)


def _switch(
    state: EnrolmentState,
    scenario: Scenario,
    target: Scenario,
    kind: EventKind,
    data: Mapping[str, Any],
    today: date,
    timezone: str,
) -> Transition:
    if target.anchor is Anchor.PROMISE:
        anchor_on = _date(data.get("date"), "date")
    elif target.anchor is Anchor.INSTALLMENT:
        anchor_on = _first_installment(data)
    else:
        anchor_on = today
    # Follow-ups do not stack: a new promise made during a promise follow-up keeps the
    # scenario the dossier will eventually go back to.
    if scenario.anchor is not Anchor.ENROLMENT and state.origin is not None:
        origin = state.origin
    elif target.anchor is Anchor.ENROLMENT:
        origin = None
    else:
        pending = scenario.steps[state.next_step].name if state.next_step < len(scenario.steps) else None
        origin = Origin(state.scenario, pending, state.cycle, state.anchor_on, state.occurrence)
    switched = EnrolmentState(
        scenario=target.name,
        anchor_on=anchor_on,
        next_step=0,
        occurrence=1,
        cycle=state.last_cycle(target.name) + 1,
        status=EnrolmentStatus.ACTIVE,
        origin=origin,
        variant=state.variant,
        cycles=remembered_cycles(state),
    )
    return _transition(switched, target, Effect.SWITCH_TO, f"Passage au scénario « {target.name} ».", timezone)


def _return_to_origin(
    state: EnrolmentState,
    reaction: Reaction,
    kind: EventKind,
    catalogue: Mapping[str, Scenario],
    today: date,
    timezone: str,
) -> Transition:
    origin = state.origin
    if origin is None:
        assert reaction.otherwise is not None  # the catalogue requires it
        return _end(state, Effect.RETURN_TO_ORIGIN, reaction.otherwise)
    scenario = catalogue[origin.scenario]
    pending = scenario.step_index(origin.step) if origin.step is not None else len(scenario.steps)
    # The origin decides what the event means to it (a broken promise: its harder step).
    own = scenario.reaction_to(kind)
    if own is not None and own.effect in (Effect.CLOSE, Effect.ESCALATE):
        return _end(state, Effect.RETURN_TO_ORIGIN, EndKind(own.effect.value))
    target = pending
    if own is not None and own.effect is Effect.RESUME_AT:
        target = scenario.landing(pending, scenario.step_index(own.step))
    rerun = target < pending
    if scenario.anchor is Anchor.ENROLMENT:
        anchor_on = anchor_for_due_today(scenario, target, today)
    else:
        anchor_on = origin.anchor_on
    back = EnrolmentState(
        scenario=scenario.name,
        anchor_on=anchor_on,
        next_step=target,
        occurrence=origin.occurrence,
        cycle=state.last_cycle(scenario.name) + 1 if rerun else origin.cycle,
        status=EnrolmentStatus.ACTIVE,
        origin=None,
        variant=state.variant,
        cycles=remembered_cycles(state),
    )
    where = scenario.steps[target].name if target < len(scenario.steps) else "fin du scénario"
    note = f"Retour au scénario « {scenario.name} », étape « {where} »."
    return _transition(back, scenario, Effect.RETURN_TO_ORIGIN, note, timezone)


def _replan(
    state: EnrolmentState,
    scenario: Scenario,
    data: Mapping[str, Any],
    today: date,
    timezone: str,
) -> Transition:
    """A contact point just failed or was opted out of. The coming steps choose their channel
    when they are planned, so they need nothing; only the step whose message failed, if it is
    the last one planned, is run again (on its fallback channel, under a new cycle)."""
    failed = data.get("step")
    occurrence = int(data.get("occurrence", state.occurrence))
    index = scenario.find_step(failed) if isinstance(failed, str) else None
    if (
        index is None
        or data.get("scenario", state.scenario) != state.scenario
        or occurrence != state.occurrence
        or index != state.next_step - 1
        or state.status is not EnrolmentStatus.ACTIVE
    ):
        return _transition(state, scenario, Effect.REPLAN, "Canal des prochaines relances recalculé.", timezone)
    rerun = replace(
        resumed_at(state, scenario, index, today),
        anchor_on=state.anchor_on,  # a rerun now, without moving the later steps
    )
    note = f"L'étape « {failed} » est replanifiée sur un autre canal."
    return _transition(rerun, scenario, Effect.REPLAN, note, timezone)


# --- helpers --------------------------------------------------------------------------


def _next_due_at(state: EnrolmentState, scenario: Scenario, timezone: str) -> datetime | None:
    if state.status not in (EnrolmentStatus.ACTIVE, EnrolmentStatus.PAUSED):
        return None
    return local_midnight_utc(pending_due_on(state, scenario), timezone)


def _first_installment(data: Mapping[str, Any]) -> date:
    if data.get("first_due_on") is not None:
        return _date(data["first_due_on"], "first_due_on")
    installments = data.get("installments") or ()
    dates = [_date(i.get("due_on"), "installments[].due_on") for i in installments]
    if not dates:
        raise EventDataError("plan_agreed needs `first_due_on` or `installments`")
    return min(dates)


def _date(value: Any, key: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise EventDataError(f"the event needs `{key}` as a date, got {value!r}")


def _datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise EventDataError(f"`at` is not an ISO datetime: {value!r}") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise EventDataError("`at` must be a timezone-aware datetime")
    return value
