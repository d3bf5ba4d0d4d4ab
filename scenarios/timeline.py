"""Where an enrolment stands on its scenario's timeline: due dates, re-anchoring, cycles and
idempotency keys. Shared by the planner and the reactions."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from scenarios.language import Anchor, Scenario
from scenarios.snapshots import EnrolmentState, EnrolmentStatus


def pending_due_on(state: EnrolmentState, scenario: Scenario) -> date:
    """The local day the pending step falls due (or, once the steps ran out, the day the end
    does: right after the last step). A pause only ever makes it later."""
    steps = scenario.steps
    step = steps[state.next_step] if state.next_step < len(steps) else steps[-1]
    due = state.anchor_on + timedelta(days=step.due_offset)
    if state.paused_until is not None and state.paused_until > due:
        return state.paused_until
    return due


def anchor_for_due_today(scenario: Scenario, step_index: int, today: date) -> date:
    """The D0 that makes step `step_index` due today and keeps the spacing of the steps after
    it (used when an enrolment-anchored scenario resumes after a pause, a dispute, a promise)."""
    steps = scenario.steps
    step = steps[min(step_index, len(steps) - 1)]
    return today - timedelta(days=step.due_offset)


def remembered_cycles(state: EnrolmentState) -> tuple[tuple[str, int], ...]:
    """`state.cycles` with the current scenario's cycle written in, before leaving it."""
    cycles = dict(state.cycles)
    cycles[state.scenario] = max(cycles.get(state.scenario, 0), state.cycle)
    return tuple(sorted(cycles.items()))


def resumed_at(
    state: EnrolmentState, scenario: Scenario, step_index: int, today: date
) -> EnrolmentState:
    """Jump to a step of the current scenario, due today (forward jumps stop at a required
    step not yet run). Going back over ground already planned starts a new cycle, so the
    step's second run gets a new idempotency key."""
    step_index = scenario.landing(state.next_step, step_index)
    rerun = step_index < state.next_step
    cycle = state.last_cycle(state.scenario) + 1 if rerun else state.cycle
    anchor_on = (
        anchor_for_due_today(scenario, step_index, today)
        if scenario.anchor is Anchor.ENROLMENT
        else state.anchor_on
    )
    return replace(
        state,
        next_step=step_index,
        anchor_on=anchor_on,
        cycle=cycle,
        cycles=remembered_cycles(state),
        status=EnrolmentStatus.ACTIVE,
        paused_until=None,
    )


def idempotency_key(dossier_id: int, state: EnrolmentState, step_name: str) -> str:
    return f"{dossier_id}:{state.scenario}:{step_name}:{state.occurrence_token}"
