"""The contact policy: when a debtor may be contacted, on which channel, and when not at all.

Defaults follow DOMAIN.md "Contact rules"; every rule is a field of `ContactPolicy`.
- SMS and calls: Monday to Saturday, 08:00-20:00 in the debtor's time zone, never on a public
  holiday of the debtor's calendar (national, Alsace-Moselle, overseas). Emails and letters are
  not bound by hours or days (they wait in a mailbox).
- Caps, per debtor, all dossiers and channels together: 1 contact per local calendar day and
  3 in any rolling 7 days. Every channel counts, letters included, on the day they are posted.
  A contact is a message sent or a conversation held; an unanswered call attempt is not one.
- Calls: at most 7 attempts in any rolling 7 days; none in the 7 days after a conversation
  with the right party. A planned call task counts as one attempt.
- An opt-out blocks its channel at once; a suspension (dispute, over-indebtedness, insolvency),
  a death, a closed or a prescribed file blocks every automatic contact.

A contact that is forbidden now is Deferred to the next instant it would be allowed (computed,
never guessed), not dropped. Blocked is only for the cases that waiting cannot cure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.enums import Channel, DossierStatus, Suspension
from scenarios.calendars import holiday_name, zone
from scenarios.decisions import Allowed, Blocked, Deferred, PolicyDecision
from scenarios.snapshots import NO_HISTORY, ContactHistory, DossierSnapshot

_ALL_CHANNELS = frozenset(Channel)
# Enum members bound once: the planner calls these functions for every enrolment.
_CALL = Channel.CALL
_CLOSED, _SUSPENDED = DossierStatus.CLOSED, DossierStatus.SUSPENDED
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ContactPolicy:
    day_starts: time = time(8, 0)
    day_ends: time = time(20, 0)  # exclusive: 20:00 is too late
    contact_weekdays: frozenset[int] = frozenset(range(6))  # Monday=0 .. Saturday=5
    business_weekdays: frozenset[int] = frozenset(range(5))  # for business_days_only steps
    public_holidays_off: bool = True
    hour_bound_channels: frozenset[Channel] = frozenset({Channel.SMS, Channel.CALL})
    capped_channels: frozenset[Channel] = _ALL_CHANNELS
    max_contacts_per_day: int = 1
    max_contacts_per_window: int = 3
    contact_window: timedelta = timedelta(days=7)
    max_call_attempts: int = 7
    call_attempt_window: timedelta = timedelta(days=7)
    quiet_after_right_party: timedelta = timedelta(days=7)
    blocking_suspensions: frozenset[Suspension] = frozenset(Suspension)
    block_prescribed: bool = True


DEFAULT_POLICY = ContactPolicy()

DEFER_REASONS: dict[str, str] = {
    "outside_hours": "Hors des heures de contact autorisées (heure locale du débiteur).",
    "rest_day": "Pas de SMS ni d'appel le dimanche.",
    "public_holiday": "Jour férié dans le calendrier du débiteur.",
    "not_business_day": "Étape réservée aux jours ouvrés (lundi au vendredi, hors jours fériés).",
    "daily_cap": "Le débiteur a déjà été contacté aujourd'hui (tous dossiers et canaux confondus).",
    "weekly_cap": "Plafond de contacts sur 7 jours glissants atteint pour ce débiteur.",
    "call_attempts_cap": "Plafond de tentatives d'appel sur 7 jours glissants atteint.",
    "right_party_quiet": "Pas d'appel dans les 7 jours qui suivent un échange avec le débiteur.",
}

BLOCK_REASONS: dict[str, str] = {
    Suspension.DISPUTE.value: "Contestation en cours : aucune relance tant qu'elle n'est pas tranchée.",
    Suspension.OVER_INDEBTEDNESS.value: "Procédure de surendettement : toute relance est suspendue.",
    Suspension.INSOLVENCY.value: "Procédure collective : toute relance est suspendue.",
    Suspension.DECEASED.value: "Débiteur décédé : aucune relance automatique.",
    "suspended": "Dossier suspendu : aucune relance automatique.",
    "prescribed": "Créance prescrite : elle ne peut plus être réclamée.",
    "closed": "Dossier clos.",
    "opted_out": "Le débiteur s'est opposé à ce canal et aucun canal de repli n'est possible.",
}


def decide(
    channel: Channel,
    dossier: DossierSnapshot,
    history: ContactHistory = NO_HISTORY,
    *,
    policy: ContactPolicy = DEFAULT_POLICY,
    now: datetime,
    business_days_only: bool = False,
    planned: Sequence[tuple[datetime, Channel]] = (),
) -> PolicyDecision:
    """May this debtor be contacted on this channel at `now` (aware)? `planned` holds the
    contacts already planned for the same debtor in the current run (they count like sent
    ones). Whether the channel has a contact point is the planner's business, not this one's."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = zone(dossier.timezone)
    local_now = now.astimezone(tz)
    blocked = dossier_block(dossier, local_now.date(), policy)
    if blocked is not None:
        return blocked
    if channel in dossier.contacts.opted_out:
        return Blocked("opted_out", BLOCK_REASONS["opted_out"])
    contacts = history.contacts + tuple(at for at, _ in planned)
    attempts = history.call_attempts + tuple(at for at, ch in planned if ch is Channel.CALL)
    return timing(
        channel,
        now,
        local_now,
        tz,
        dossier.holiday_subdivision,
        contacts,
        attempts,
        history.last_right_party_at,
        policy,
        business_days_only,
    )


def dossier_block(dossier: DossierSnapshot, today: date, policy: ContactPolicy) -> Blocked | None:
    """The file-level reasons that stop every automatic contact (`today` is local)."""
    status = dossier.status
    if status is _CLOSED:
        return Blocked("closed", BLOCK_REASONS["closed"])
    if dossier.deceased:
        return Blocked("deceased", BLOCK_REASONS["deceased"])
    if dossier.suspension is not None and dossier.suspension in policy.blocking_suspensions:
        return Blocked(dossier.suspension.value, BLOCK_REASONS[dossier.suspension.value])
    if status is _SUSPENDED and dossier.suspension is None:
        return Blocked("suspended", BLOCK_REASONS["suspended"])
    if (
        policy.block_prescribed
        and dossier.prescription_expires_on is not None
        and today >= dossier.prescription_expires_on
    ):
        return Blocked("prescribed", BLOCK_REASONS["prescribed"])
    return None


def timing(
    channel: Channel,
    now: datetime,
    local_now: datetime,
    tz: ZoneInfo,
    subdivision: str | None,
    contacts: Iterable[datetime],
    call_attempts: Iterable[datetime],
    last_right_party_at: datetime | None,
    policy: ContactPolicy,
    business_days_only: bool = False,
) -> Allowed | Deferred:
    """The hours, days, caps and quiet periods, for a file that may be contacted at all.
    Moves a candidate instant forward until every rule holds; each rule only moves it later,
    so the search ends (bounded anyway)."""
    hour_bound = channel in policy.hour_bound_channels
    is_call = channel is _CALL
    contacts = tuple(contacts) if channel in policy.capped_channels else ()
    attempts = tuple(call_attempts) if is_call else ()
    quiet_until = (
        last_right_party_at + policy.quiet_after_right_party
        if is_call and last_right_party_at is not None
        else None
    )
    if not contacts and not attempts and quiet_until is None:
        # The common case, kept cheap: only the calendar can say no.
        if not (hour_bound or business_days_only):
            return Allowed(now)
        later, code = _open_slot(local_now, tz, subdivision, policy, hour_bound, business_days_only)
        if later is None:
            return Allowed(now)
        return Deferred(later.astimezone(UTC), code, DEFER_REASONS[code])
    candidate = local_now
    contact_days = [c.astimezone(tz).date() for c in contacts]  # local days, for the daily cap
    first_code: str | None = None
    for _ in range(400):
        later, code = _first_rule_broken(
            candidate, tz, subdivision, contacts, contact_days, attempts, quiet_until, policy,
            hour_bound, business_days_only,
        )
        if later is None:
            break
        candidate = later.astimezone(tz)
        first_code = first_code or code
    else:  # pragma: no cover - only a nonsensical policy (no allowed day at all) gets here
        raise ValueError("the contact policy allows no instant in the next year")
    if first_code is None:
        return Allowed(now)
    return Deferred(candidate.astimezone(UTC), first_code, DEFER_REASONS[first_code])


def _first_rule_broken(
    candidate: datetime,
    tz: ZoneInfo,
    subdivision: str | None,
    contacts: tuple[datetime, ...],
    contact_days: list[date],
    attempts: tuple[datetime, ...],
    quiet_until: datetime | None,
    policy: ContactPolicy,
    hour_bound: bool,
    business_days_only: bool,
) -> tuple[datetime | None, str]:
    """The earliest instant after `candidate` that cures the first broken rule, or None."""
    if quiet_until is not None and candidate < quiet_until:
        return quiet_until, "right_party_quiet"
    if attempts:
        later = _window_reopens(candidate, attempts, policy.call_attempt_window, policy.max_call_attempts)
        if later is not None:
            return later, "call_attempts_cap"
    if contacts:
        later = _window_reopens(candidate, contacts, policy.contact_window, policy.max_contacts_per_window)
        if later is not None:
            return later, "weekly_cap"
        day = candidate.date()
        if contact_days.count(day) >= policy.max_contacts_per_day:
            return datetime.combine(day + _DAY, time(0), tzinfo=tz), "daily_cap"
    if hour_bound or business_days_only:
        return _open_slot(candidate, tz, subdivision, policy, hour_bound, business_days_only)
    return None, ""


def _window_reopens(
    candidate: datetime, events: tuple[datetime, ...], window: timedelta, cap: int
) -> datetime | None:
    """When a rolling window that holds `cap` events or more at `candidate` drops below cap."""
    if len(events) < cap:  # the usual case: too few events to fill any window
        return None
    start = candidate - window
    inside = [e for e in events if start < e <= candidate]
    if len(inside) < cap:
        return None
    inside.sort()
    # The window must lose len - cap + 1 events: the oldest of those leaves last.
    return inside[len(inside) - cap] + window


def _open_slot(
    candidate: datetime,
    tz: ZoneInfo,
    subdivision: str | None,
    policy: ContactPolicy,
    hour_bound: bool,
    business_days_only: bool,
) -> tuple[datetime | None, str]:
    day = candidate.date()
    clock = candidate.time()
    code = ""
    for offset in range(370):
        closed = _day_closed(day, subdivision, policy, business_days_only, hour_bound)
        if closed:
            code = code or closed
        elif offset == 0:
            if not hour_bound or policy.day_starts <= clock < policy.day_ends:
                return None, ""
            if clock < policy.day_starts:
                return datetime.combine(day, policy.day_starts, tzinfo=tz), "outside_hours"
            code = "outside_hours"
        else:
            opens = policy.day_starts if hour_bound else time(0)
            return datetime.combine(day, opens, tzinfo=tz), code
        day += _DAY
    raise ValueError("the contact policy allows no day in the next year")


def _day_closed(
    day: date, subdivision: str | None, policy: ContactPolicy, business_days_only: bool, hour_bound: bool
) -> str:
    weekday = day.weekday()
    if hour_bound and weekday not in policy.contact_weekdays:
        return "rest_day"
    if business_days_only and weekday not in policy.business_weekdays:
        return "rest_day" if weekday not in policy.contact_weekdays else "not_business_day"
    if policy.public_holidays_off and holiday_name(day, subdivision) is not None:
        return "public_holiday"
    return ""
