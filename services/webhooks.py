"""What provider callbacks and the unsubscribe page change: delivery reports, inbound SMS, email
events and one-click unsubscribes.

The web routes (app/web/webhooks.py) check signatures and call these functions with plain values
and a unit of work; each function commits its own transaction and returns a small report.

    record_sms_status(uow, message_sid, status, *, error_code, now) -> int (actions moved)
    record_inbound_sms(uow, *, sender, body, message_sid, now) -> InboundReport
    record_email_events(uow, events, *, now) -> EmailEventsReport
    unsubscribe_target(uow, action_id) -> int | None (the email contact point of the action)
    unsubscribe_email(uow, action_id, *, now) -> bool (True when the address was opted out now)
    ping(uow) -> None

Never twice: delivery statuses rely on the forward-only `record_delivery`; the events created here
carry the provider's message or event id (`message_sid`, `sg_event_id`) and a retried callback
that finds its id already recorded records nothing. Malformed input raises `WebhookRejected`
before anything is written. Logs carry ids only, never numbers, addresses or message bodies.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update

from models.dossiers import Dossier, DossierEvent
from models.enums import ActionStatus, Channel, ContactKind, DossierStatus, EventKind
from models.outbox import Action
from models.parties import ContactPoint
from services.dispatch import record_delivery

__all__ = [
    "EmailEventsReport",
    "InboundReport",
    "WebhookRejected",
    "is_stop_message",
    "ping",
    "record_email_events",
    "record_inbound_sms",
    "record_sms_status",
    "unsubscribe_email",
    "unsubscribe_target",
]

log = logging.getLogger(__name__)

SOURCE = "webhook"

# Twilio MessageStatus -> the outbox status it reports (None: "sent" or earlier, nothing to record).
TWILIO_STATUSES: dict[str, ActionStatus | None] = {
    "queued": None,
    "accepted": None,
    "scheduled": None,
    "sending": None,
    "sent": None,
    "delivered": ActionStatus.DELIVERED,
    "read": ActionStatus.DELIVERED,
    "undelivered": ActionStatus.FAILED,
    "failed": ActionStatus.FAILED,
}
# Twilio error codes that say the number itself is unusable (invalid, not a mobile, unreachable).
TWILIO_INVALID_NUMBER_CODES = frozenset({"21211", "21614", "30006"})

# Inbound keywords that opt the number out of SMS (compared upper-case, without accents, trimmed).
STOP_WORDS = frozenset({"STOP", "STOPALL", "ARRET", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "STOP SMS"})
MAX_BODY_CHARS = 1600

EMAIL_FAILURES = frozenset({"bounce", "dropped"})
EMAIL_OPT_OUTS = frozenset({"spamreport", "unsubscribe", "group_unsubscribe"})


class WebhookRejected(ValueError):
    """The callback is malformed; nothing was written. The message names fields, never values."""


@dataclass
class InboundReport:
    outcome: str  # "opt_out", "message", "duplicate" or "unknown_sender"
    contact_points: list[int] = field(default_factory=list)
    events: int = 0


@dataclass
class EmailEventsReport:
    delivered: int = 0
    failed: int = 0
    opted_out: int = 0
    duplicates: int = 0
    unmatched: int = 0
    ignored: int = 0


# ------------------------------------------------------------------------------------------------
# Twilio
# ------------------------------------------------------------------------------------------------


def record_sms_status(uow, message_sid: str | None, status: str | None, *, error_code: str | None,
                      now: datetime) -> int:
    """A Twilio status callback. Returns the number of actions moved (0 for a repeated, late or
    earlier-stage callback)."""
    if not message_sid or not status:
        raise WebhookRejected("MessageSid and MessageStatus are required")
    key = status.strip().lower()
    if key not in TWILIO_STATUSES:
        raise WebhookRejected("unknown MessageStatus")
    new = TWILIO_STATUSES[key]
    if new is None:
        return 0  # the action is already `sent` since the provider accepted it
    code = (error_code or "").strip() or None
    with uow:
        moved = record_delivery(
            uow.session, message_sid, new, at=now,
            error_code=f"twilio_{code}" if code else None,
            contact_invalid=new is ActionStatus.FAILED and code in TWILIO_INVALID_NUMBER_CODES,
            source=SOURCE,
        )
        uow.commit()
    log.info("twilio status %s for %s: %d action(s) moved", key, message_sid, moved)
    return moved


def _fold(text_: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text_)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.upper().split()).strip(" .!")


def is_stop_message(body: str | None) -> bool:
    return _fold(body or "") in STOP_WORDS


def _open_dossiers(session, debtor_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = sorted(set(debtor_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Dossier.debtor_id, Dossier.id)
        .where(Dossier.debtor_id.in_(ids), Dossier.status != DossierStatus.CLOSED)
        .order_by(Dossier.id)
    ).all()
    out: dict[int, list[int]] = {}
    for debtor_id, dossier_id in rows:
        out.setdefault(debtor_id, []).append(dossier_id)
    return out


def _already_recorded(session, key: str, value: str) -> bool:
    found = session.execute(
        select(DossierEvent.id).where(DossierEvent.data[key].as_string() == value).limit(1)
    ).first()
    return found is not None


def record_inbound_sms(uow, *, sender: str | None, body: str | None, message_sid: str | None,
                       now: datetime) -> InboundReport:
    """An SMS from a debtor: a STOP keyword opts the number out of SMS for every debtor having it;
    any other text is recorded on their open dossiers for the agents."""
    if not message_sid or not sender:
        raise WebhookRejected("MessageSid and From are required")
    stop = is_stop_message(body)
    with uow:
        session = uow.session
        if _already_recorded(session, "message_sid", message_sid):
            log.info("inbound sms %s already recorded", message_sid)
            return InboundReport("duplicate")
        points = session.execute(
            select(ContactPoint.id, ContactPoint.debtor_id, ContactPoint.opt_out_sms_at)
            .where(ContactPoint.kind == ContactKind.PHONE, ContactPoint.value == sender.strip())
            .order_by(ContactPoint.id)
        ).all()
        if not points:
            log.info("inbound sms %s from a number of no debtor", message_sid)
            return InboundReport("unknown_sender")
        dossiers = _open_dossiers(session, (p.debtor_id for p in points))
        report = InboundReport("opt_out" if stop else "message", [p.id for p in points])
        for point in points:
            if stop:
                session.execute(
                    update(ContactPoint)
                    .where(ContactPoint.id == point.id, ContactPoint.opt_out_sms_at.is_(None))
                    .values(opt_out_sms_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                kind = EventKind.OPT_OUT
                data = {"channel": Channel.SMS.value, "contact_point_id": point.id, "message_sid": message_sid}
            else:
                kind = EventKind.INBOUND_MESSAGE
                data = {"channel": Channel.SMS.value, "contact_point_id": point.id, "message_sid": message_sid,
                        "body": (body or "")[:MAX_BODY_CHARS]}
            for dossier_id in dossiers.get(point.debtor_id, []):
                session.add(DossierEvent(dossier_id=dossier_id, kind=kind, occurred_at=now, source=SOURCE,
                                         data=dict(data)))
                report.events += 1
        uow.commit()
    log.info("inbound sms %s: %s, contact points %s, %d event(s)", message_sid, report.outcome,
             report.contact_points, report.events)
    return report


# ------------------------------------------------------------------------------------------------
# SendGrid
# ------------------------------------------------------------------------------------------------


def _occurrence(idempotency_key: str) -> int | None:
    """The occurrence of a planner key "dossier:scenario:step:n" (or "...:c.n"), as the scenario
    engine reads it from opt-out and contact-invalid events."""
    if ":" not in idempotency_key:
        return None
    token = idempotency_key.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    return int(token) if token.isdigit() else None


def parse_email_events(payload: Any) -> list[Mapping[str, Any]]:
    if not isinstance(payload, list) or not all(isinstance(e, dict) for e in payload):
        raise WebhookRejected("the body must be a JSON array of objects")
    return payload


def _find_email_action(session, event: Mapping[str, Any]) -> Action | None:
    raw_id = event.get("action_id")
    if raw_id is not None:
        try:
            action = session.get(Action, int(str(raw_id)))
        except ValueError:
            action = None
        if action is not None and action.channel == Channel.EMAIL:
            return action
    message_id = event.get("sg_message_id")
    if isinstance(message_id, str) and message_id:
        # sg_message_id is "<X-Message-Id>.<relay suffix>": every prefix ending before a dot, longest first.
        prefixes = [message_id[:i] for i, c in enumerate(message_id) if c == "."] + [message_id]
        found = {a.provider_id: a for a in session.scalars(
            select(Action).where(Action.provider_id.in_(prefixes), Action.channel == Channel.EMAIL)
            .order_by(Action.id.desc())
        )}
        return next((found[p] for p in reversed(prefixes) if p in found), None)
    return None


def _email_opt_out(session, event: Mapping[str, Any], action: Action | None, sg_event_id: str | None,
                   now: datetime) -> int:
    """Opts the address out for every debtor having it; returns the events recorded."""
    point_ids: set[int] = set()
    if action is not None and action.contact_point_id is not None:
        point_ids.add(action.contact_point_id)
    address = event.get("email")
    if isinstance(address, str) and address.strip():
        point_ids.update(session.scalars(
            select(ContactPoint.id).where(ContactPoint.kind == ContactKind.EMAIL,
                                          func.lower(ContactPoint.value) == address.strip().lower())
        ))
    if not point_ids:
        return 0
    points = session.execute(
        select(ContactPoint.id, ContactPoint.debtor_id).where(ContactPoint.id.in_(sorted(point_ids)),
                                                              ContactPoint.kind == ContactKind.EMAIL)
        .order_by(ContactPoint.id)
    ).all()
    dossiers = _open_dossiers(session, (p.debtor_id for p in points))
    recorded = 0
    for point in points:
        changed = session.execute(
            update(ContactPoint)
            .where(ContactPoint.id == point.id, ContactPoint.opt_out_email_at.is_(None))
            .values(opt_out_email_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:
            continue  # already opted out: nothing new to tell the scenario engine
        for dossier_id in dossiers.get(point.debtor_id, []):
            data: dict[str, Any] = {"channel": Channel.EMAIL.value, "contact_point_id": point.id,
                                    "reason": str(event.get("event"))}
            if sg_event_id:
                data["sg_event_id"] = sg_event_id
            if action is not None and action.dossier_id == dossier_id and action.contact_point_id == point.id:
                data.update({"action_id": action.id, "step": action.step, "scenario": action.scenario})
                occurrence = _occurrence(action.idempotency_key)
                if occurrence is not None:
                    data["occurrence"] = occurrence
            session.add(DossierEvent(dossier_id=dossier_id, kind=EventKind.OPT_OUT, occurred_at=now,
                                     source=SOURCE, data=data))
            recorded += 1
    return recorded


def record_email_events(uow, events: Sequence[Mapping[str, Any]], *, now: datetime) -> EmailEventsReport:
    """A batch of SendGrid Event Webhook events, in one transaction."""
    events = parse_email_events(events)
    report = EmailEventsReport()
    with uow:
        session = uow.session
        seen: set[str] = set()
        for event in events:
            kind = str(event.get("event") or "").lower()
            sg_event_id = event.get("sg_event_id")
            sg_event_id = str(sg_event_id) if sg_event_id else None
            if kind not in {"delivered"} | EMAIL_FAILURES | EMAIL_OPT_OUTS:
                report.ignored += 1
                continue
            if sg_event_id and (sg_event_id in seen or _already_recorded(session, "sg_event_id", sg_event_id)):
                report.duplicates += 1
                continue
            if sg_event_id:
                seen.add(sg_event_id)
            action = _find_email_action(session, event)
            if kind in EMAIL_OPT_OUTS:
                recorded = _email_opt_out(session, event, action, sg_event_id, now)
                report.opted_out += 1 if recorded else 0
                log.info("sendgrid %s (event %s, action %s): %d opt-out event(s)", kind, sg_event_id,
                         action.id if action else None, recorded)
                continue
            if action is None or not action.provider_id:
                report.unmatched += 1
                log.warning("sendgrid %s (event %s) matches no sent email action", kind, sg_event_id)
                continue
            if kind == "delivered":
                moved = record_delivery(session, action.provider_id, ActionStatus.DELIVERED, at=now, source=SOURCE)
                report.delivered += moved
            else:
                moved = record_delivery(session, action.provider_id, ActionStatus.FAILED, at=now,
                                        error_code=kind, contact_invalid=True, source=SOURCE)
                report.failed += moved
            log.info("sendgrid %s (event %s) for action %s: %d moved", kind, sg_event_id, action.id, moved)
        uow.commit()
    return report


# ------------------------------------------------------------------------------------------------
# Unsubscribe page
# ------------------------------------------------------------------------------------------------


def unsubscribe_target(uow, action_id: int) -> int | None:
    """The email contact point an unsubscribe link of this action stands for, if any."""
    with uow:
        row = uow.session.execute(
            select(Action.contact_point_id).join(ContactPoint, ContactPoint.id == Action.contact_point_id)
            .where(Action.id == action_id, Action.channel == Channel.EMAIL,
                   ContactPoint.kind == ContactKind.EMAIL)
        ).first()
    return row[0] if row else None


def unsubscribe_email(uow, action_id: int, *, now: datetime) -> bool:
    """Opts the action's address out of email (RFC 8058 one-click or the page's button).
    Returns True when it changed now, False when it was already opted out or names no address."""
    with uow:
        session = uow.session
        action = session.get(Action, action_id)
        if action is None or action.channel != Channel.EMAIL or action.contact_point_id is None:
            return False
        changed = session.execute(
            update(ContactPoint)
            .where(ContactPoint.id == action.contact_point_id, ContactPoint.kind == ContactKind.EMAIL,
                   ContactPoint.opt_out_email_at.is_(None))
            .values(opt_out_email_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount == 1
        if changed:
            data: dict[str, Any] = {"action_id": action.id, "channel": Channel.EMAIL.value, "step": action.step,
                                    "scenario": action.scenario, "contact_point_id": action.contact_point_id,
                                    "reason": "unsubscribe_link"}
            occurrence = _occurrence(action.idempotency_key)
            if occurrence is not None:
                data["occurrence"] = occurrence
            session.add(DossierEvent(dossier_id=action.dossier_id, kind=EventKind.OPT_OUT, occurred_at=now,
                                     source=SOURCE, data=data))
        uow.commit()
    log.info("unsubscribe link of action %s: %s", action_id, "opted out" if changed else "no change")
    return changed


def ping(uow) -> None:
    with uow:
        uow.session.execute(text("select 1"))
