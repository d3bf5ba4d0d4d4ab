"""The planner: for a chunk of due enrolments, what happens next. Pure and deterministic.

For each enrolment, in order: the dossier may not be contacted at all (Blocked), the
enrolment waits (Deferred: paused, not due yet), or its pending step is examined:
conditions (false: Skipped, move on to the next step in the same call), the channel
(the step's own, else its fallback; impossible: Skipped, opted out: Blocked, move on), then
the contact policy (forbidden now: Deferred to the computed next allowed instant; the step
stays pending). At most one message per enrolment per call.

Caps are per debtor: the chunk must hold all due enrolments of each debtor it touches, and
the contacts planned earlier in the same call count. Debtors' enrolments are taken in
(debtor_id, enrolment_id) order, so the same input always gives the same plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from models.enums import Channel, DossierStatus, EventKind
from scenarios.calendars import local_midnight_utc, zone
from scenarios.decisions import (
    Action,
    Allowed,
    Blocked,
    Decision,
    Deferred,
    Ended,
    Idle,
    Planned,
    Skipped,
)
from scenarios.fast_init import positional_builder
from scenarios.language import Anchor, EndKind, Scenario, Step, StepAction
from scenarios.policy import BLOCK_REASONS, DEFAULT_POLICY, ContactPolicy, dossier_block, timing
from scenarios.reactions import Transition, react
from scenarios.snapshots import (
    NO_HISTORY,
    ContactHistory,
    EnrolmentSnapshot,
    EnrolmentState,
    EnrolmentStatus,
)
from scenarios.timeline import idempotency_key

# Enum members bound once: looking them up on their class costs ~0.3 us, a lot in this loop.
_ACTIVE, _PAUSED = EnrolmentStatus.ACTIVE, EnrolmentStatus.PAUSED
_SUSPENDED, _ENDED = EnrolmentStatus.SUSPENDED, EnrolmentStatus.ENDED
_CLOSED = DossierStatus.CLOSED
_ENROLMENT, _INSTALLMENT = Anchor.ENROLMENT, Anchor.INSTALLMENT
_CHECK_PROMISE, _DECHEANCE = StepAction.CHECK_PROMISE, StepAction.DECHEANCE_DU_TERME
_CALL = Channel.CALL
_ENDING_ACTIONS = frozenset({StepAction.CLOSE, StepAction.ESCALATE})

NOT_DUE = "Étape pas encore échue."

SKIP_REASONS: dict[str, str] = {
    "balance_not_above": "Solde inférieur ou égal au seuil de l'étape.",
    "nature_excluded": "La nature des créances du dossier n'est pas visée par l'étape.",
    "installment_paid": "Échéance déjà réglée.",
    "promise_paid": "Montant promis déjà reçu.",
    "too_few_missed": "Pas assez d'échéances impayées pour cette étape.",
    "no_contact_point": "Aucun moyen de contact valide pour ce canal ni pour son repli.",
    "superseded": "Étape dépassée : l'étape suivante est déjà échue.",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    enrolment_id: int
    dossier_id: int
    decisions: tuple[Decision, ...]  # skipped steps first, the effective decision last
    state: EnrolmentState  # to store
    next_due_at: datetime | None  # UTC; None: wait for an event or a human
    transition: Transition | None = None  # the reaction applied to an Action's event

    @property
    def decision(self) -> Decision:
        return self.decisions[-1]


_new_outcome = positional_builder(Outcome)
_new_state = positional_builder(EnrolmentState)
_new_planned = positional_builder(Planned)
_new_deferred = positional_builder(Deferred)


@dataclass(frozen=True, slots=True)
class PlanResult:
    outcomes: tuple[Outcome, ...]  # in the order the enrolments were given

    def planned(self) -> list[Planned]:
        """Every message for the outbox, those that go with an action included."""
        found: list[Planned] = []
        for outcome in self.outcomes:
            for decision in outcome.decisions:
                if isinstance(decision, Planned):
                    found.append(decision)
                elif isinstance(decision, Action) and decision.message is not None:
                    found.append(decision.message)
        return found

    def counts(self) -> dict[str, int]:
        """Effective decisions by type name, for run summaries."""
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            name = type(outcome.decision).__name__
            counts[name] = counts.get(name, 0) + 1
        return counts


def plan(
    enrolments: Iterable[EnrolmentSnapshot],
    *,
    catalogue: Mapping[str, Scenario],
    policy: ContactPolicy = DEFAULT_POLICY,
    now: datetime,
    histories: Mapping[int, ContactHistory] | None = None,
) -> PlanResult:
    """Decide the next step of each enrolment at `now` (aware). `histories` maps a debtor id
    to its recent contacts (missing: none)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    run = _Run(catalogue, policy, now.astimezone(UTC), histories or {})
    given = list(enrolments)
    keys = [(e.dossier.debtor_id, e.enrolment_id) for e in given]
    order = sorted(range(len(given)), key=keys.__getitem__)
    outcomes: list[Outcome | None] = [None] * len(given)
    for i in order:
        outcomes[i] = run.plan_one(given[i])
    return PlanResult(tuple(outcomes))  # type: ignore[arg-type]


class _Run:
    """What one plan() call shares: the clock, per-zone local times, contacts planned so far."""

    def __init__(
        self,
        catalogue: Mapping[str, Scenario],
        policy: ContactPolicy,
        now: datetime,
        histories: Mapping[int, ContactHistory],
    ) -> None:
        self.catalogue = catalogue
        self.policy = policy
        self.now = now
        self.histories = histories
        self.zones: dict[str, tuple[ZoneInfo, datetime, date]] = {}
        self.midnights: dict[tuple[date, str], datetime] = {}
        self.calendar_verdicts: dict[tuple, Allowed | Deferred] = {}
        self.planned_by_debtor: dict[int, list[tuple[datetime, Channel]]] = {}

    def local(self, zone_name: str) -> tuple[ZoneInfo, datetime, date]:
        found = self.zones.get(zone_name)
        if found is None:
            tz = zone(zone_name)
            local_now = self.now.astimezone(tz)
            found = self.zones[zone_name] = (tz, local_now, local_now.date())
        return found

    def midnight(self, day: date, zone_name: str) -> datetime:
        """Start of a local day as UTC; a run meets the same few days over and over."""
        key = (day, zone_name)
        found = self.midnights.get(key)
        if found is None:
            found = self.midnights[key] = local_midnight_utc(day, zone_name)
        return found

    # --- one enrolment ----------------------------------------------------------------

    def plan_one(self, snap: EnrolmentSnapshot) -> Outcome:
        state = snap.state
        dossier = snap.dossier
        scenario = self.catalogue.get(state.scenario)
        if scenario is None:
            return self._outcome(snap, [Idle("unknown_scenario", f"Scénario inconnu : {state.scenario}.")], state, None)
        if state.status is _ENDED:
            return self._outcome(snap, [Idle("ended", "Inscription terminée.")], state, None)
        if dossier.status is _CLOSED:
            ended = _moved(state, state.next_step, status=_ENDED)
            return self._outcome(snap, [Ended(EndKind.CLOSE, BLOCK_REASONS["closed"])], ended, None)

        tz, local_now, today = self.local(dossier.timezone)
        blocked = dossier_block(dossier, today, self.policy)
        if blocked is not None:
            suspended = _moved(state, state.next_step, status=_SUSPENDED)
            return self._outcome(snap, [blocked], suspended, None)
        if state.status is _SUSPENDED:
            idle = Idle("suspended", "Inscription suspendue : attend la levée de la suspension.")
            return self._outcome(snap, [idle], state, None)
        if state.status is _PAUSED:
            if state.paused_until is not None and state.paused_until > today:
                until = self.midnight(state.paused_until, dossier.timezone)
                waiting = Deferred(until, "paused", f"Relances en pause jusqu'au {state.paused_until:%d/%m/%Y}.")
                return self._outcome(snap, [waiting], state, until)
            state = _moved(state, state.next_step)

        decisions: list[Decision] = []
        steps = scenario.steps
        # Bounded: each pass moves one step forward (or one installment).
        for _ in range(len(steps) * (len(snap.installments) + 2) + 2):
            if state.next_step >= len(steps):
                following = (
                    snap.installment(state.occurrence + 1)
                    if scenario.anchor is _INSTALLMENT
                    else None
                )
                if following is not None:
                    state = _moved(state, 0, occurrence=following.number, anchor_on=following.due_on)
                    continue
                decisions.append(self._end(scenario.end, snap, None))
                return self._outcome(snap, decisions, _moved(state, state.next_step, status=_ENDED), None)

            step = steps[state.next_step]
            due = state.anchor_on + timedelta(days=step.due_offset)
            if due > today:
                until = self.midnight(due, dossier.timezone)
                decisions.append(_new_deferred(until, "not_due", NOT_DUE, step.name))
                return self._outcome(snap, decisions, state, until)

            skip = (
                self._skip_code(snap, scenario, state, step, today)
                if step.conditions or scenario.anchor is not _ENROLMENT
                else None
            )
            if skip is not None:
                decisions.append(Skipped(step.name, skip, SKIP_REASONS[skip]))
                state = _moved(state, state.next_step + 1)
                continue

            if step.action is not None:
                if step.action in _ENDING_ACTIONS:
                    decisions.append(self._end(EndKind(step.action.value), snap, step.name))
                    ended = _moved(state, state.next_step, status=_ENDED)
                    return self._outcome(snap, decisions, ended, None)
                if step.action is _CHECK_PROMISE:
                    return self._check_promise(snap, scenario, state, step, decisions)

            message: Planned | None = None
            if step.channel is not None:
                resolved = self._message(snap, state, step, tz, local_now)
                if isinstance(resolved, Deferred):
                    decisions.append(resolved)
                    return self._outcome(snap, decisions, state, resolved.until)
                if isinstance(resolved, Planned):
                    message = resolved
                elif step.action is None:  # Skipped or Blocked: the step is given up
                    decisions.append(resolved)
                    state = _moved(state, state.next_step + 1)
                    continue
                else:  # the decision holds without its letter; say why there is none
                    decisions.append(resolved)

            advanced = _moved(state, state.next_step + 1)
            if step.action is _DECHEANCE:
                missed = _missed(snap, today)
                action = Action(
                    _DECHEANCE,
                    step.name,
                    idempotency_key(dossier.dossier_id, state, step.name),
                    EventKind.PLAN_DEFAULTED,
                    message,
                    {"missed": missed, "count": len(snap.installments)},
                )
                decisions.append(action)
                return self._after_event(snap, advanced, EventKind.PLAN_DEFAULTED, decisions)
            assert message is not None
            decisions.append(message)
            return self._outcome(snap, decisions, advanced, self._next_due_at(snap, scenario, advanced))

        raise AssertionError("the step loop must end")  # pragma: no cover

    # --- pieces -----------------------------------------------------------------------

    def _skip_code(
        self,
        snap: EnrolmentSnapshot,
        scenario: Scenario,
        state: EnrolmentState,
        step: Step,
        today: date,
    ) -> str | None:
        conditions = step.conditions
        if conditions:
            if conditions.balance_above is not None and not snap.dossier.balance > conditions.balance_above:
                return "balance_not_above"
            if conditions.nature_in is not None and not (snap.dossier.natures & conditions.nature_in):
                return "nature_excluded"
            if conditions.installment_unpaid:
                current = snap.installment(state.occurrence)
                if current is None or not current.unpaid:
                    return "installment_paid"
            if conditions.promise_unpaid and (snap.promise is None or not snap.promise.unpaid):
                return "promise_paid"
            needed = conditions.missed_installments_at_least
            if needed is not None and _missed(snap, today) < needed:
                return "too_few_missed"
        # A reminder pinned to a real date is pointless once the next step is due too.
        if scenario.anchor is not _ENROLMENT and step.action is None:
            following = state.next_step + 1
            if following < len(scenario.steps):
                next_due = state.anchor_on + timedelta(days=scenario.steps[following].due_offset)
                if next_due <= today:
                    return "superseded"
        return None

    def _message(
        self,
        snap: EnrolmentSnapshot,
        state: EnrolmentState,
        step: Step,
        tz: ZoneInfo,
        local_now: datetime,
    ) -> Planned | Deferred | Skipped | Blocked:
        dossier = snap.dossier
        contacts = dossier.contacts
        channel, template, fallback = step.channel, step.template, False
        point = contacts.point_for(channel)
        if point is None and step.fallback_channel is not None:
            channel, template, fallback = step.fallback_channel, step.fallback_template, True
            point = contacts.point_for(channel)
        if point is None:
            if step.channel in contacts.opted_out or step.fallback_channel in contacts.opted_out:
                return Blocked("opted_out", BLOCK_REASONS["opted_out"], step.name)
            return Skipped(step.name, "no_contact_point", SKIP_REASONS["no_contact_point"])

        history = self.histories.get(dossier.debtor_id)
        running = self.planned_by_debtor.get(dossier.debtor_id)
        if history is None and running is None:
            # No past contact: the verdict depends only on the calendar, the same for every
            # debtor of that zone and subdivision in this run.
            key = (dossier.timezone, dossier.holiday_subdivision, channel, step.business_days_only)
            verdict = self.calendar_verdicts.get(key)
            if verdict is None:
                verdict = self.calendar_verdicts[key] = timing(
                    channel, self.now, local_now, tz, dossier.holiday_subdivision,
                    (), (), None, self.policy, step.business_days_only,
                )
        else:
            history = history or NO_HISTORY
            contacts_seen = history.contacts
            attempts = history.call_attempts
            if running:
                contacts_seen = contacts_seen + tuple(at for at, _ in running)
                attempts = attempts + tuple(at for at, ch in running if ch is _CALL)
            verdict = timing(
                channel,
                self.now,
                local_now,
                tz,
                dossier.holiday_subdivision,
                contacts_seen,
                attempts,
                history.last_right_party_at,
                self.policy,
                step.business_days_only,
            )
        if isinstance(verdict, Deferred):
            return _new_deferred(verdict.until, verdict.code, verdict.reason, step.name)
        if running is None:
            self.planned_by_debtor[dossier.debtor_id] = [(self.now, channel)]
        else:
            running.append((self.now, channel))
        return _new_planned(
            idempotency_key(dossier.dossier_id, state, step.name),
            step.name,
            channel,
            template,
            point,
            verdict.at,
            fallback,
        )

    def _check_promise(
        self,
        snap: EnrolmentSnapshot,
        scenario: Scenario,
        state: EnrolmentState,
        step: Step,
        decisions: list[Decision],
    ) -> Outcome:
        promise = snap.promise
        if promise is None:
            decisions.append(Idle("missing_promise", "Promesse introuvable : à vérifier par un agent."))
            return self._outcome(snap, decisions, state, None)
        kept = not promise.unpaid or snap.dossier.balance <= 0
        event = EventKind.PROMISE_KEPT if kept else EventKind.PROMISE_BROKEN
        key = idempotency_key(snap.dossier.dossier_id, state, step.name)
        data = {"amount": promise.amount, "date": promise.due_on, "paid": promise.paid}
        decisions.append(Action(_CHECK_PROMISE, step.name, key, event, None, data))
        advanced = _moved(state, state.next_step + 1)
        return self._after_event(snap, advanced, event, decisions)

    def _after_event(
        self,
        snap: EnrolmentSnapshot,
        state: EnrolmentState,
        event: EventKind,
        decisions: list[Decision],
    ) -> Outcome:
        """Apply the scenario's reaction to the event an action raised, so the stored state
        is already the one after it (the caller records the event as processed)."""
        transition = react(
            state, event, {}, catalogue=self.catalogue, now=self.now, timezone=snap.dossier.timezone
        )
        next_due = transition.next_due_at
        if transition.effect is None:  # no reaction: carry on with the scenario's own steps
            next_due = self._next_due_at(snap, self.catalogue[state.scenario], state)
        return self._outcome(snap, decisions, transition.state, next_due, transition)

    def _end(self, kind: EndKind, snap: EnrolmentSnapshot, step: str | None) -> Ended:
        if snap.dossier.balance <= 0:  # never escalate a file with nothing left to recover
            return Ended(EndKind.CLOSE, "Plus rien n'est dû : le dossier est à clôturer.", step)
        if kind is EndKind.ESCALATE:
            return Ended(kind, "Recouvrement amiable épuisé : transmission pour injonction de payer.", step)
        return Ended(kind, "Fin du scénario : le dossier est à clôturer.", step)

    def _next_due_at(
        self, snap: EnrolmentSnapshot, scenario: Scenario, state: EnrolmentState
    ) -> datetime | None:
        steps = scenario.steps
        if state.next_step < len(steps):
            due = state.anchor_on + timedelta(days=steps[state.next_step].due_offset)
        else:
            following = (
                snap.installment(state.occurrence + 1)
                if scenario.anchor is _INSTALLMENT
                else None
            )
            if following is not None:
                due = following.due_on + timedelta(days=steps[0].due_offset)
            else:  # the end, right after the last step
                due = state.anchor_on + timedelta(days=steps[-1].due_offset)
        return self.midnight(due, snap.dossier.timezone)

    @staticmethod
    def _outcome(
        snap: EnrolmentSnapshot,
        decisions: list[Decision],
        state: EnrolmentState,
        next_due_at: datetime | None,
        transition: Transition | None = None,
    ) -> Outcome:
        return _new_outcome(
            snap.enrolment_id,
            snap.dossier.dossier_id,
            tuple(decisions),
            state,
            next_due_at,
            transition,
        )


def _moved(
    state: EnrolmentState,
    next_step: int,
    *,
    occurrence: int | None = None,
    anchor_on: date | None = None,
    status: EnrolmentStatus = _ACTIVE,
) -> EnrolmentState:
    """The state at another step (dataclasses.replace is too slow for 200,000 a run). An
    active enrolment forgets a pause that is over; other statuses keep it."""
    return _new_state(
        state.scenario,
        state.anchor_on if anchor_on is None else anchor_on,
        next_step,
        state.occurrence if occurrence is None else occurrence,
        state.cycle,
        status,
        None if status is _ACTIVE else state.paused_until,
        state.origin,
        state.variant,
        state.cycles,
    )


def _missed(snap: EnrolmentSnapshot, today: date) -> int:
    """Installments past their due date and not fully paid."""
    return sum(1 for i in snap.installments if i.due_on < today and i.unpaid)
