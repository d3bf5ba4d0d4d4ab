"""What the contact policy and the planner decide, as plain frozen values.

Each non-final decision has a machine `code` (stable, for reports and tests) and a French
`reason` (for agents and `relance explain`).

    policy:   Allowed | Deferred | Blocked
    planner:  Planned | Deferred | Blocked | Skipped | Action | Ended | Idle
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.enums import Channel, EventKind
from scenarios.language import EndKind, StepAction


@dataclass(frozen=True, slots=True)
class Allowed:
    at: datetime  # UTC


@dataclass(frozen=True, slots=True)
class Deferred:
    """Not now, never dropped: try again at `until` (UTC)."""

    until: datetime
    code: str
    reason: str
    step: str | None = None


@dataclass(frozen=True, slots=True)
class Blocked:
    """No automatic contact: a suspension, a prescription, an opt-out with no fallback."""

    code: str
    reason: str
    step: str | None = None


PolicyDecision = Allowed | Deferred | Blocked


@dataclass(frozen=True, slots=True)
class Planned:
    """A message to write to the outbox."""

    idempotency_key: str  # f"{dossier_id}:{scenario}:{step}:{occurrence}"
    step: str
    channel: Channel
    template: str
    contact_point_id: int
    not_before: datetime  # UTC
    fallback: bool = False  # the step's fallback channel was used


@dataclass(frozen=True, slots=True)
class Skipped:
    """The step does not apply (a condition is false, no contact point): move on."""

    step: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Action:
    """A decision step ran. `event` is what the caller records on the dossier timeline (the
    planner has already applied the scenario's reaction to it: do not react to it again).
    `message` is the letter or message that goes with it, if any."""

    kind: StepAction
    step: str
    idempotency_key: str
    event: EventKind | None = None
    message: Planned | None = None
    data: dict[str, Any] = field(default_factory=dict)  # e.g. {"missed": 2, "count": 6}


@dataclass(frozen=True, slots=True)
class Ended:
    kind: EndKind
    reason: str
    step: str | None = None  # the close/escalate step, or None when the steps ran out


@dataclass(frozen=True, slots=True)
class Idle:
    """Nothing to do and nothing to wait for (an ended or suspended enrolment)."""

    code: str
    reason: str


Decision = Planned | Deferred | Blocked | Skipped | Action | Ended | Idle
