"""Quittances (CPCE R124-6: a receipt for every payment received), through the outbox.

    plan_quittances(session, payments, *, now) -> int     (actions written)
    quittance_contexts(session, action_keys) -> {action_id: {"payment": {...}}}

Each applied payment gets one outbox action with the idempotency key `quittance:<payment id>`,
so a re-import, a retried task or a manual assignment never receipts a payment twice. The channel
is the debtor's: email when he has a valid address he has not unsubscribed, else SMS to a valid
mobile without opt-out, else the PDF letter (templates/letter/quittance.html) to his postal
address. An SMS waits for the debtor's contact hours. The dispatcher then sends it like any relance (rendering, provider, retries, status).

The receipt prints what the payment settled and what was left right after it (`balance_after`
of the payment's journal entry), not the balance on the day it is sent: a receipt states a fact
of the day the money arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from models.enums import Channel, ClaimComponent, ContactKind, LedgerAccount, LineType
from models.ledger import JournalEntry, LedgerLine
from models.outbox import Action
from models.parties import ContactPoint, Debtor
from models.payments import Payment
from services.bulk import bulk_insert, one_of

__all__ = ["KEY_PREFIX", "TEMPLATES", "is_quittance", "plan_quittances", "quittance_contexts"]

log = logging.getLogger(__name__)

KEY_PREFIX = "quittance:"
STEP = "quittance"
TEMPLATES = {Channel.EMAIL: "email/quittance", Channel.SMS: "sms/quittance", Channel.LETTER: "letter/quittance"}
ZERO = Decimal("0.00")


def is_quittance(idempotency_key: str | None) -> bool:
    return bool(idempotency_key) and idempotency_key.startswith(KEY_PREFIX)


# The channel a contact point can carry a receipt on, by preference (1 first), or NULL.
_PREFERENCE = case(
    ((ContactPoint.kind == ContactKind.EMAIL) & ContactPoint.opt_out_email_at.is_(None), 1),
    ((ContactPoint.kind == ContactKind.PHONE) & (ContactPoint.line_type == LineType.MOBILE)
     & ContactPoint.opt_out_sms_at.is_(None) & ContactPoint.consent_sms.is_(True), 2),
    (ContactPoint.kind == ContactKind.ADDRESS, 3),
)
_BY_PREFERENCE = {1: Channel.EMAIL, 2: Channel.SMS, 3: Channel.LETTER}


def _channels(session, debtor_ids: list[int]) -> dict[int, tuple[Channel, int]]:
    """Per debtor: the channel and contact point a receipt goes to (email, else SMS, else letter;
    within a channel the lowest rank, then the lowest id). Chosen in the database, one row per
    debtor, rather than every contact point read back and sorted in Python."""
    usable = (select(ContactPoint.id, ContactPoint.debtor_id, _PREFERENCE.label("preference"),
                     ContactPoint.rank)
              .where(one_of(session, ContactPoint.debtor_id, debtor_ids), ContactPoint.valid.is_(True))
              .subquery())
    ranked = select(usable.c.id, usable.c.debtor_id, usable.c.preference, func.row_number().over(
        partition_by=usable.c.debtor_id, order_by=(usable.c.preference, usable.c.rank, usable.c.id)).label("n")
    ).where(usable.c.preference.is_not(None)).subquery()
    rows = session.connection().execute(
        select(ranked.c.debtor_id, ranked.c.preference, ranked.c.id).where(ranked.c.n == 1))
    return {debtor_id: (_BY_PREFERENCE[preference], contact_point_id)
            for debtor_id, preference, contact_point_id in rows}


def _sms_slot(now: datetime, timezone: str, region: str | None) -> datetime:
    """An SMS receipt waits for the contact hours of the debtor's calendar (no SMS at night, on
    Sundays or public holidays, as for relances); it is not counted in the contact caps: a
    receipt is owed, not a relance."""
    from zoneinfo import ZoneInfo

    from scenarios.policy import DEFAULT_POLICY, _open_slot

    tz = ZoneInfo(timezone or "Europe/Paris")
    slot, _ = _open_slot(now.astimezone(tz), tz, region, DEFAULT_POLICY, True, False)
    return now if slot is None else slot.astimezone(now.tzinfo)


def plan_quittances(session, payments: Iterable[tuple[int, int, int]], *, now: datetime) -> int:
    """Write a quittance action for each (payment id, dossier id, debtor id) not receipted yet.
    A debtor with no usable contact point gets none (logged by id): the office prints one from
    the console. The caller commits."""
    items = list(payments)
    if not items:
        return 0
    keys = {f"{KEY_PREFIX}{p}": (p, d, debtor) for p, d, debtor in items}
    existing = set(session.scalars(select(Action.idempotency_key).where(
        one_of(session, Action.idempotency_key, list(keys)))))
    routes = _channels(session, sorted({debtor for _, _, debtor in items}))
    sms_debtors = sorted({debtor for _, _, debtor in items if routes.get(debtor, (None,))[0] == Channel.SMS})
    zones = dict(((r.id, (r.timezone, r.holiday_region)) for r in session.execute(
        select(Debtor.id, Debtor.timezone, Debtor.holiday_region).where(one_of(session, Debtor.id, sms_debtors)))
    )) if sms_debtors else {}
    rows = []
    for key, (payment_id, dossier_id, debtor_id) in keys.items():
        if key in existing:
            continue
        route = routes.get(debtor_id)
        if route is None:
            log.warning("payment %s: debtor %s has no contact point for a quittance", payment_id, debtor_id)
            continue
        channel, contact_point_id = route
        rows.append({
            "idempotency_key": key, "enrolment_id": None, "campaign_id": None, "dossier_id": dossier_id,
            "debtor_id": debtor_id, "scenario": None, "step": STEP, "variant": None, "channel": channel,
            "template": TEMPLATES[channel], "contact_point_id": contact_point_id, "fallback": False,
            "not_before": _sms_slot(now, *zones[debtor_id]) if channel == Channel.SMS else now,
            "planned_at": now, "updated_at": now,
        })
    session.flush()
    bulk_insert(session.connection(), Action.__table__, rows)
    return len(rows)


def quittance_contexts(session, actions: Iterable[tuple[int, str]]) -> dict[int, dict[str, Any]]:
    """The `payment` part of the render context of quittance actions ((action id, key) pairs):
    {id, amount, received_on, method, principal, interest, costs, unapplied, balance_after}."""
    by_payment = {int(key[len(KEY_PREFIX):]): action_id for action_id, key in actions if is_quittance(key)}
    if not by_payment:
        return {}
    ids = list(by_payment)
    payments = {p.id: p for p in session.execute(
        select(Payment.id, Payment.amount, Payment.received_on, Payment.method).where(one_of(session, Payment.id, ids)))}
    entries = {int(e.reference): e for e in session.execute(
        select(JournalEntry.id, JournalEntry.reference, JournalEntry.data)
        .where(JournalEntry.kind == "payment", one_of(session, JournalEntry.reference, [str(i) for i in ids])))}
    split: dict[int, dict[str, Decimal]] = {}
    if entries:
        entry_to_payment = {e.id: pid for pid, e in entries.items()}
        for r in session.execute(
            select(LedgerLine.entry_id, LedgerLine.account, LedgerLine.component, LedgerLine.amount)
            .where(one_of(session, LedgerLine.entry_id, list(entry_to_payment)),
                   LedgerLine.account.in_([LedgerAccount.DEBTOR_RECEIVABLE, LedgerAccount.SUSPENSE]))
        ):
            parts = split.setdefault(entry_to_payment[r.entry_id], {
                "principal": ZERO, "interest": ZERO, "costs": ZERO, "unapplied": ZERO})
            if r.account == LedgerAccount.SUSPENSE:
                parts["unapplied"] += -r.amount
            else:
                parts[{ClaimComponent.PRINCIPAL: "principal", ClaimComponent.INTEREST: "interest",
                       ClaimComponent.COSTS: "costs"}[ClaimComponent(r.component)]] += -r.amount
    out = {}
    for payment_id, action_id in by_payment.items():
        p, entry = payments.get(payment_id), entries.get(payment_id)
        if p is None or entry is None:
            log.warning("quittance action %s: payment %s not applied", action_id, payment_id)
            continue
        parts = split.get(payment_id, {"principal": ZERO, "interest": ZERO, "costs": ZERO, "unapplied": ZERO})
        out[action_id] = {"payment": {
            "id": payment_id, "amount": p.amount, "received_on": p.received_on, "method": p.method,
            **parts, "balance_after": Decimal((entry.data or {}).get("balance_after", "0")),
        }}
    return out
