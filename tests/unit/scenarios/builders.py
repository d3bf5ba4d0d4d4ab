"""Small builders for the scenario tests: a dossier that can be reached on every channel,
enrolments at a given step, aware datetimes in a debtor's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from models.enums import Channel, ClaimNature, DossierStatus
from scenarios.snapshots import (
    ContactSnapshot,
    DossierSnapshot,
    EnrolmentSnapshot,
    EnrolmentState,
    InstallmentSnapshot,
    PromiseSnapshot,
)

PARIS = "Europe/Paris"
REUNION = "Indian/Reunion"

ALL_CHANNELS = ContactSnapshot(mobile_id=11, phone_id=11, email_id=12, address_id=13)


def at(y: int, m: int, d: int, hour: int = 10, minute: int = 0, zone: str = PARIS) -> datetime:
    """A wall-clock time in a zone, as a UTC instant."""
    return datetime(y, m, d, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def dossier(
    dossier_id: int = 1,
    *,
    debtor_id: int = 100,
    contacts: ContactSnapshot = ALL_CHANNELS,
    balance: str = "480.00",
    natures=frozenset({ClaimNature.CONSUMER}),
    **overrides,
) -> DossierSnapshot:
    return DossierSnapshot(
        dossier_id=dossier_id,
        debtor_id=debtor_id,
        creditor_id=7,
        status=overrides.pop("status", DossierStatus.ACTIVE),
        balance=Decimal(balance),
        natures=frozenset(natures),
        contacts=contacts,
        **overrides,
    )


def enrolment(
    scenario: str = "amiable-particulier",
    *,
    anchor_on: date = date(2025, 3, 3),
    next_step: int = 0,
    enrolment_id: int | None = None,
    snapshot: DossierSnapshot | None = None,
    state: EnrolmentState | None = None,
    **kwargs,
) -> EnrolmentSnapshot:
    snapshot = snapshot or dossier()
    state = state or EnrolmentState(scenario=scenario, anchor_on=anchor_on, next_step=next_step)
    return EnrolmentSnapshot(
        enrolment_id=enrolment_id if enrolment_id is not None else snapshot.dossier_id,
        dossier=snapshot,
        state=state,
        **kwargs,
    )


def installments(*due_dates: date, amount: str = "100.00", paid: tuple[str, ...] = ()) -> tuple[InstallmentSnapshot, ...]:
    paid_amounts = list(paid) + ["0"] * (len(due_dates) - len(paid))
    return tuple(
        InstallmentSnapshot(number=i + 1, due_on=d, amount=Decimal(amount), paid=Decimal(p))
        for i, (d, p) in enumerate(zip(due_dates, paid_amounts))
    )


def promise(due_on: date, amount: str = "200.00", paid: str = "0") -> PromiseSnapshot:
    return PromiseSnapshot(amount=Decimal(amount), due_on=due_on, paid=Decimal(paid))


def without(contacts: ContactSnapshot, *channels: Channel) -> ContactSnapshot:
    """The same contact points, opted out of the given channels."""
    return ContactSnapshot(
        mobile_id=contacts.mobile_id,
        phone_id=contacts.phone_id,
        email_id=contacts.email_id,
        address_id=contacts.address_id,
        opted_out=contacts.opted_out | frozenset(channels),
    )
