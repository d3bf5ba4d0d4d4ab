"""Frozen snapshots the planner and the reactions work on: plain values, no ORM.

The service layer builds them in bulk from the database; the rules never touch a session.
Datetimes are timezone-aware (UTC); dates are calendar days in the debtor's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from models.enums import Channel, ClaimNature, DossierStatus, Suspension

_SMS, _EMAIL, _LETTER = Channel.SMS, Channel.EMAIL, Channel.LETTER


@dataclass(frozen=True, slots=True)
class ContactSnapshot:
    """The best valid contact point per channel (ids of contact_point rows), and the channels
    the debtor opted out of. A missing id means the channel is impossible for this debtor."""

    mobile_id: int | None = None  # SMS: a valid mobile
    phone_id: int | None = None  # calls: a valid phone of any line type (often the mobile)
    email_id: int | None = None
    address_id: int | None = None  # a valid postal address
    opted_out: frozenset[Channel] = frozenset()

    def point_for(self, channel: Channel) -> int | None:
        """The contact point that channel would use, or None if impossible or opted out."""
        if channel in self.opted_out:
            return None
        # Module constants, not Channel.X: enum member lookups are slow in a hot loop.
        if channel is _SMS:
            return self.mobile_id
        if channel is _EMAIL:
            return self.email_id
        if channel is _LETTER:
            return self.address_id
        return self.phone_id


@dataclass(frozen=True, slots=True)
class DossierSnapshot:
    dossier_id: int
    debtor_id: int
    creditor_id: int
    status: DossierStatus
    balance: Decimal
    natures: frozenset[ClaimNature]
    contacts: ContactSnapshot = ContactSnapshot()
    suspension: Suspension | None = None
    # The latest expiry among the claims still owed: the file is prescribed only when every
    # claim is. Contact is blocked from that day on (the conservative reading).
    prescription_expires_on: date | None = None
    deceased: bool = False
    timezone: str = "Europe/Paris"  # IANA name of the debtor's zone
    holiday_subdivision: str | None = None  # `holidays.France` subdiv: "6AE", "57", "974"...


@dataclass(frozen=True, slots=True)
class ContactHistory:
    """What already happened with one debtor, all dossiers together (last 7 days is enough
    for the default policy; give more if the policy's windows are longer).

    A contact is a message sent (SMS, email, letter: on the day it is posted) or a
    conversation held. An unanswered call attempt is not a contact: it only counts toward
    the call-attempt cap."""

    contacts: tuple[datetime, ...] = ()
    call_attempts: tuple[datetime, ...] = ()
    last_right_party_at: datetime | None = None


NO_HISTORY = ContactHistory()


@dataclass(frozen=True, slots=True)
class PromiseSnapshot:
    amount: Decimal
    due_on: date
    paid: Decimal = Decimal("0")  # received since the promise was made

    @property
    def unpaid(self) -> bool:
        return self.paid < self.amount


@dataclass(frozen=True, slots=True)
class InstallmentSnapshot:
    number: int  # 1-based, in due-date order
    due_on: date
    amount: Decimal
    paid: Decimal = Decimal("0")

    @property
    def unpaid(self) -> bool:
        return self.paid < self.amount


class EnrolmentStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # no step before paused_until
    SUSPENDED = "suspended"  # dispute, proceedings, death, prescription: waits for a human or an event
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a follow-up scenario (promise, plan) came from, to go back there."""

    scenario: str
    step: str | None  # the step it would have run next; None if its steps were all done
    cycle: int
    anchor_on: date  # kept for anchors that cannot be re-anchored (installment, promise)
    occurrence: int = 1


@dataclass(frozen=True, slots=True)
class EnrolmentState:
    """An enrolment's progress through its scenario: what the database stores, what the
    planner and the reactions return.

    `occurrence` is the installment number for an installment anchor, else 1. `cycle` counts
    the times the enrolment (re-)entered this scenario at a point it may already have passed
    (a resume at an earlier step, a second promise, a new plan): it keeps idempotency keys
    unique so a legitimate second run of a step is never swallowed as a duplicate."""

    scenario: str
    anchor_on: date
    next_step: int = 0
    occurrence: int = 1
    cycle: int = 1
    status: EnrolmentStatus = EnrolmentStatus.ACTIVE
    paused_until: date | None = None
    origin: Origin | None = None
    variant: str | None = None
    cycles: tuple[tuple[str, int], ...] = field(default=())  # last cycle of each scenario left

    def last_cycle(self, scenario: str) -> int:
        known = dict(self.cycles).get(scenario, 0)
        return max(known, self.cycle) if scenario == self.scenario else known

    @property
    def occurrence_token(self) -> str:
        """The occurrence part of an idempotency key: "3" on a first cycle, "2.3" after."""
        if self.cycle == 1:
            return str(self.occurrence)
        return f"{self.cycle}.{self.occurrence}"


@dataclass(frozen=True, slots=True)
class EnrolmentSnapshot:
    enrolment_id: int
    dossier: DossierSnapshot
    state: EnrolmentState
    promise: PromiseSnapshot | None = None  # promise anchor
    installments: tuple[InstallmentSnapshot, ...] = ()  # installment anchor, by number

    def installment(self, number: int) -> InstallmentSnapshot | None:
        if 0 < number <= len(self.installments):
            found = self.installments[number - 1]
            if found.number == number:
                return found
        return next((i for i in self.installments if i.number == number), None)
