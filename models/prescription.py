"""Prescription (time bar) of a claim: period, interruptions, expiry, warning.

A prescribed claim may no longer be chased: automatic contact stops past expiry and agents are
warned beforehand (60 days by default).

Counting (C. civ. 2228-2229): the period is counted in days and the prescription is acquired
when its last day is complete. A period of N years anchored on D therefore ends on the same
day N years later (`expires_on`): the claim may still be chased on that day and is prescribed
from the next day. An anchor on 29 February ends on 28 February in a non-leap year, the
earlier of the two candidate days, so the product never chases a claim that might already be
prescribed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Literal

from models.enums import ClaimNature

PERIOD_YEARS: dict[ClaimNature, int] = {
    ClaimNature.CONSUMER: 2,  # C. conso L218-2: a professional's claim on a consumer
    ClaimNature.BUSINESS: 5,  # C. com. L110-4: obligations between merchants
    ClaimNature.OTHER: 5,  # C. civ. 2224: general rule for personal actions
}

DEFAULT_WARNING_DAYS = 60


def prescription_years(nature: ClaimNature | str) -> int:
    """Length of the prescription period for a claim of this nature."""
    return PERIOD_YEARS[ClaimNature(nature)]


class Interruption(StrEnum):
    """Events that interrupt prescription and restart a full period."""

    PAYMENT = "payment"  # a partial payment acknowledges the debt (C. civ. 2240)
    PROMISE = "promise"  # a promise to pay is an acknowledgement too (C. civ. 2240)
    ACKNOWLEDGEMENT = "acknowledgement"  # any other acknowledgement by the debtor (C. civ. 2240)
    PAYMENT_PLAN = "payment_plan"  # an échéancier agreed by the debtor acknowledges the debt
    COURT_ACTION = "court_action"  # a claim before a court, even in référé (C. civ. 2241)
    ENFORCEMENT = "enforcement"  # an enforcement act or a protective measure (C. civ. 2244)


_INTERRUPTING = frozenset(member.value for member in Interruption)


def interrupts(event: str) -> bool:
    """Whether an event restarts the prescription period.

    A mise en demeure, even sent by registered letter, does not interrupt; neither does any
    event this module does not know (a typo must not extend the right to chase).
    """
    return event in _INTERRUPTING


PrescriptionStateName = Literal["running", "warning", "prescribed"]


@dataclass(frozen=True)
class PrescriptionStatus:
    """`days_left` is 0 on the last chaseable day and negative once prescribed."""

    state: PrescriptionStateName
    expires_on: date
    days_left: int

    @property
    def is_prescribed(self) -> bool:
        return self.state == "prescribed"


@dataclass(frozen=True)
class PrescriptionState:
    """Where the prescription of one claim stands: start, period, last interruption."""

    start: date
    years: int
    last_interruption_on: date | None = None
    last_interruption_kind: str | None = None

    def __post_init__(self) -> None:
        if self.years < 1:
            raise ValueError("a prescription period is at least one year")
        if self.last_interruption_kind is not None and not interrupts(
            self.last_interruption_kind
        ):
            raise ValueError(f"{self.last_interruption_kind!r} does not interrupt prescription")

    @property
    def anchor(self) -> date:
        # A stored interruption earlier than the start cannot have interrupted anything.
        if self.last_interruption_on is None:
            return self.start
        return max(self.start, self.last_interruption_on)

    @property
    def expires_on(self) -> date:
        """Last day on which the claim may still be chased."""
        return _add_years(self.anchor, self.years)

    def interrupt(self, kind: str, on: date) -> PrescriptionState:
        """The state after an interrupting event on `on`: a full new period from that day.

        Events older than the current anchor change nothing, nor do events after expiry: a
        prescribed claim is not revived by a later payment (only an explicit renunciation can,
        C. civ. 2250-2251, and that is for a human to decide).
        """
        if not interrupts(kind):
            raise ValueError(f"{kind!r} does not interrupt prescription")
        if on < self.anchor or on > self.expires_on:
            return self
        return replace(self, last_interruption_on=on, last_interruption_kind=str(kind))

    def status(self, as_of: date, warning_days: int = DEFAULT_WARNING_DAYS) -> PrescriptionStatus:
        expires_on = self.expires_on
        days_left = (expires_on - as_of).days
        if days_left < 0:
            state: PrescriptionStateName = "prescribed"
        elif days_left <= warning_days:
            state = "warning"
        else:
            state = "running"
        return PrescriptionStatus(state, expires_on, days_left)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a non-leap year
        return day.replace(year=day.year + years, day=28)
