"""The scenario language: what a scenario file may say, as frozen dataclasses.

A scenario is an anchored, ordered list of steps (messages or decisions), the reactions
that move it when something happens on the dossier, and an end. Scenarios are data
(`scenarios/catalogue/*.toml`); `scenarios.catalogue` loads and validates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from models.enums import Channel, ClaimNature, EventKind


class Anchor(StrEnum):
    """What a step's offset counts from."""

    ENROLMENT = "enrolment"  # D0 = the day the dossier was enrolled (or re-anchored on resume)
    INSTALLMENT = "installment"  # each installment's due date; steps repeat per installment
    PROMISE = "promise"  # the promised payment date


class StepAction(StrEnum):
    """Steps that are decisions rather than messages."""

    DECHEANCE_DU_TERME = "decheance_du_terme"  # the plan falls; may carry its letter
    ESCALATE = "escalate"  # hand over to judicial recovery (injonction de payer)
    CLOSE = "close"
    CHECK_PROMISE = "check_promise"  # was the promised amount received?


class Effect(StrEnum):
    """What a reaction does to the enrolment."""

    CONTINUE = "continue"  # nothing changes (e.g. a partial payment)
    PAUSE = "pause"  # no step before the date carried by the event (+ grace days)
    RESUME_AT = "resume_at"  # jump to a named step, due at once
    SWITCH_TO = "switch_to"  # follow another scenario; the current one is remembered as origin
    RETURN_TO_ORIGIN = "return_to_origin"  # back to the remembered scenario (follow-ups only)
    SUSPEND = "suspend"  # no automatic contact until RESUME
    RESUME = "resume"  # after a suspension: the pending step becomes due at once
    CLOSE = "close"
    ESCALATE = "escalate"
    REPLAN = "replan"  # a contact point failed: re-run the failed step on its fallback channel
    AGENT_TASK = "agent_task"  # a call task for an agent at the time carried by the event


class EndKind(StrEnum):
    CLOSE = "close"
    ESCALATE = "escalate"  # to judicial recovery (injonction de payer)


# Events a scenario may react to; the others (imported, action_sent...) are bookkeeping.
REACTABLE_EVENTS: frozenset[EventKind] = frozenset(
    {
        EventKind.PROMISE_MADE,
        EventKind.PROMISE_KEPT,
        EventKind.PROMISE_BROKEN,
        EventKind.PLAN_AGREED,
        EventKind.PLAN_DEFAULTED,
        EventKind.PARTIAL_PAYMENT,
        EventKind.PAID_IN_FULL,
        EventKind.DISPUTE_OPENED,
        EventKind.DISPUTE_CLOSED,
        EventKind.CONTACT_INVALID,
        EventKind.OPT_OUT,
        EventKind.CALLBACK_REQUESTED,
    }
)

# A scenario that ignored these could keep chasing a paid or disputed file.
REQUIRED_REACTIONS: frozenset[EventKind] = frozenset(
    {EventKind.PAID_IN_FULL, EventKind.DISPUTE_OPENED, EventKind.DISPUTE_CLOSED}
)


@dataclass(frozen=True, slots=True)
class Conditions:
    """All must hold for the step to run; otherwise it is skipped. The contact point a
    channel needs (a mobile for SMS...) is an implicit condition, resolved with the fallback."""

    balance_above: Decimal | None = None
    nature_in: frozenset[ClaimNature] | None = None  # any claim of the dossier has one of these
    installment_unpaid: bool = False  # the current installment is not fully paid
    promise_unpaid: bool = False  # the promised amount has not been received
    missed_installments_at_least: int | None = None  # unpaid installments past their due date

    def __bool__(self) -> bool:
        """True when the step has any condition at all (the planner's fast path)."""
        return (
            self.balance_above is not None
            or self.nature_in is not None
            or self.installment_unpaid
            or self.promise_unpaid
            or self.missed_installments_at_least is not None
        )


_NO_CONDITIONS = Conditions()


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    offset_days: int
    channel: Channel | None = None  # None only for pure decision steps
    template: str | None = None
    conditions: Conditions = _NO_CONDITIONS
    fallback_channel: Channel | None = None  # used when `channel` is impossible for the dossier
    fallback_template: str | None = None
    business_days_only: bool = False  # Monday-Friday, not a public holiday (B2B calls)
    action: StepAction | None = None
    grace_days: int = 0  # check_promise only: days after offset_days before checking
    required: bool = False  # a jump forward (resume_at, return to origin) never passes over it

    @property
    def due_offset(self) -> int:
        """Days from the anchor to the day the step falls due."""
        return self.offset_days + self.grace_days

    @property
    def is_message(self) -> bool:
        return self.channel is not None


@dataclass(frozen=True, slots=True)
class Reaction:
    on: EventKind
    effect: Effect
    step: str | None = None  # resume_at
    scenario: str | None = None  # switch_to
    template: str | None = None  # agent_task: the agent's script
    grace_days: int = 0  # pause: extra days after the event's date
    otherwise: EndKind | None = None  # return_to_origin when there is no origin


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    anchor: Anchor
    steps: tuple[Step, ...]
    reactions: tuple[Reaction, ...]
    end: EndKind
    _step_index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    _reaction_by_event: dict[EventKind, Reaction] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        self._step_index.update({s.name: i for i, s in enumerate(self.steps)})
        self._reaction_by_event.update({r.on: r for r in self.reactions})

    def step_index(self, name: str) -> int:
        """Position of a named step; KeyError if the scenario has none by that name."""
        return self._step_index[name]

    def find_step(self, name: str) -> int | None:
        return self._step_index.get(name)

    def landing(self, pending: int, target: int) -> int:
        """Where a jump from the pending step to `target` lands: on target, unless it would
        pass over a required step not yet run (the R124-4 first letter must go first)."""
        for index in range(pending, min(target, len(self.steps))):
            if self.steps[index].required:
                return index
        return target

    def reaction_to(self, event: EventKind) -> Reaction | None:
        return self._reaction_by_event.get(event)
