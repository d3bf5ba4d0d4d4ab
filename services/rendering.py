"""Render contexts of outbox actions, built set-based: a handful of queries for a whole batch.

    build_contexts(session, action_ids, *, as_of, office, rates=None, unsubscribe_page=None,
                   unsubscribe_secret=None) -> {action_id: context}

Each context is the plain dict documented in channels/templating.py (`sample_context` shows every
key):

    office, creditor {name, legal_name, address_lines}, debtor {display_name, civility, last_name,
    company_name, is_company}, dossier {id, reference, payment_reference, first_letter_ref,
    first_letter_on}, claims [{invoice_ref, due_date, principal, interest, costs, total}],
    totals {principal, interest, costs, balance}, as_of, step {scenario, name}
    letters:  recipient {address_lines}, letter {reference, date, first}
    email:    unsubscribe_url
    optional: promise {amount, date}            the dossier's earliest open promise
              installment {number, count, amount, due_date}   next unpaid one of an active plan
              plan {count, missed}              the latest active or defaulted plan
              b2b {rate_label, penalties, indemnity_total}    claims under L441-10
              payment {id, amount, received_on, method, principal, interest, costs, unapplied,
                       balance_after}             quittance actions (services/quittance.py)

Amounts are each claim's balance to the day (`services.balances.claim_balances`: principal,
chargeable costs with the D441-5 indemnity, interest crystallised plus what ran since, less
payments), with `rates` or the shipped rate tables.

The first letter (CPCE R124-4): a letter rendered for a dossier that has no `first_letter_ref` yet
is the first letter; its context says so (`letter.first`) and leaves `dossier.first_letter_ref`
empty. The dispatcher records the letter's reference and date on the dossier once the letter is
sent (`record_first_letter`), and every later context of the dossier repeats them.

A context that cannot be built for one action (no address for a letter...) is left out of the
result and logged by id; the caller fails that action alone.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from sqlalchemy import select, update

from models.agreements import Installment, PaymentPlan, Promise
from models.dossiers import Claim, Dossier
from models.enums import Channel, ContactKind, DebtorKind, InterestMode, PlanStatus, PromiseStatus
from models.money import money
from models.outbox import Action
from models.parties import ContactPoint, Creditor, Debtor
from models.references import payment_reference
from services.balances import claim_balances, shipped_rates
from services.bulk import one_of, update_rows
from services.quittance import is_quittance, quittance_contexts

__all__ = [
    "build_contexts",
    "letter_reference",
    "record_first_letter",
    "record_first_letters",
    "unsubscribe_token",
    "unsubscribe_url",
    "verify_unsubscribe_token",
]

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")


# ------------------------------------------------------------------------------------------------
# Small pure helpers
# ------------------------------------------------------------------------------------------------


def letter_reference(action_id: int, year: int) -> str:
    """The reference printed on a letter: "L-2026-000123". Stable for an action (its planning
    year and id), so every attempt, the reconciliation and the dossier agree on it."""
    return f"L-{year}-{action_id:06d}"


def unsubscribe_token(action_id: int, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"unsubscribe:{action_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def verify_unsubscribe_token(action_id: int, token: str, secret: str) -> bool:
    return hmac.compare_digest(unsubscribe_token(action_id, secret), token or "")


def unsubscribe_url(page_url: str, action_id: int, secret: str | None = None) -> str:
    """`<page>?a=<action id>[&t=<token>]`: the action names the contact point and the channel."""
    joiner = "&" if "?" in page_url else "?"
    url = f"{page_url}{joiner}a={action_id}"
    return f"{url}&t={unsubscribe_token(action_id, secret)}" if secret else url


def _office_dict(office: Any) -> dict[str, Any]:
    if hasattr(office, "model_dump"):
        return dict(office.model_dump())
    return dict(office)


def _display_name(kind, civility, first_name, last_name, company_name) -> str:
    if kind == DebtorKind.COMPANY:
        return company_name or ""
    return " ".join(p for p in (civility, first_name, last_name) if p)


def _rate_label(rate: Decimal) -> str:
    return f"{format_decimal(rate, format='0.00', locale='fr_FR')} %"


# ------------------------------------------------------------------------------------------------
# Claims
# ------------------------------------------------------------------------------------------------


_WARNED_MISSING: set[str] = set()


def _claim_rows(session, dossier_ids: list[int], *, as_of: date, rates, private: dict[int, bool]
                ) -> dict[int, list[dict[str, Any]]]:
    """Per dossier, its claims still owing something to the day, oldest due first."""
    balances = claim_balances(session, dossier_ids, as_of=as_of, rates=rates,
                              private_creditor_by_dossier=private)
    kinds = {
        r.id: (r.interest_mode, r.indemnity)
        for r in session.execute(
            select(Claim.id, Claim.interest_mode, Claim.indemnity)
            .where(one_of(session, Claim.dossier_id, dossier_ids))
        )
    }
    by_dossier: dict[int, list[dict[str, Any]]] = defaultdict(list)
    missing: dict[str, int] = defaultdict(int)
    for dossier_id, claims in balances.items():
        for c in sorted(claims, key=lambda c: (c.due_date, c.claim_id)):
            if c.total <= 0:
                continue
            if c.missing_rate:
                missing[str(c.missing_rate)] += 1
            mode, indemnity = kinds.get(c.claim_id, (None, ZERO))
            by_dossier[dossier_id].append({
                "invoice_ref": c.invoice_ref,
                "due_date": c.due_date,
                "principal": money(c.principal),
                "interest": money(c.interest),
                "costs": money(c.costs),
                "total": money(c.total),
                "_b2b": mode == InterestMode.B2B,
                "_indemnity": money(indemnity),
            })
    for half_year in missing.keys() - _WARNED_MISSING:
        # Once per process, not per claim: the rate table needs the half-year added.
        _WARNED_MISSING.add(half_year)
        log.warning("interest stops before %s: its legal rate is not in the tables (RELANCE_RATES_DIR)", half_year)
    return by_dossier


def _totals(claims: list[dict[str, Any]]) -> dict[str, Decimal]:
    principal = sum((c["principal"] for c in claims), ZERO)
    interest = sum((c["interest"] for c in claims), ZERO)
    costs = sum((c["costs"] for c in claims), ZERO)
    return {"principal": principal, "interest": interest, "costs": costs,
            "balance": principal + interest + costs}


# ------------------------------------------------------------------------------------------------
# Agreements
# ------------------------------------------------------------------------------------------------


def _open_promises(session, dossier_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = session.execute(
        select(Promise.dossier_id, Promise.amount, Promise.paid, Promise.due_on)
        .where(one_of(session, Promise.dossier_id, dossier_ids), Promise.status == PromiseStatus.OPEN)
        .order_by(Promise.dossier_id, Promise.due_on, Promise.id)
    )
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r.dossier_id not in out:
            out[r.dossier_id] = {"amount": max(money(r.amount - r.paid), ZERO), "date": r.due_on}
    return out


def _plans(session, dossier_ids: list[int], as_of: date):
    """(installment of active plans, plan summary of the latest active or defaulted plan)."""
    plans = session.execute(
        select(PaymentPlan.id, PaymentPlan.dossier_id, PaymentPlan.status)
        .where(one_of(session, PaymentPlan.dossier_id, dossier_ids),
               PaymentPlan.status.in_([PlanStatus.ACTIVE, PlanStatus.DEFAULTED]))
        .order_by(PaymentPlan.dossier_id, PaymentPlan.agreed_on.desc(), PaymentPlan.id.desc())
    ).all()
    latest: dict[int, Any] = {}
    for p in plans:
        latest.setdefault(p.dossier_id, p)
    if not latest:
        return {}, {}
    plan_ids = [p.id for p in latest.values()]
    schedule: dict[int, list[Any]] = defaultdict(list)
    for r in session.execute(
        select(Installment.plan_id, Installment.number, Installment.due_on, Installment.amount,
               Installment.paid)
        .where(one_of(session, Installment.plan_id, plan_ids))
        .order_by(Installment.plan_id, Installment.number)
    ):
        schedule[r.plan_id].append(r)
    installments: dict[int, dict[str, Any]] = {}
    summaries: dict[int, dict[str, Any]] = {}
    for dossier_id, plan in latest.items():
        rows = schedule.get(plan.id, [])
        unpaid = [r for r in rows if r.paid < r.amount]
        summaries[dossier_id] = {
            "count": len(rows),
            "missed": sum(1 for r in unpaid if r.due_on < as_of),
        }
        if plan.status == PlanStatus.ACTIVE and unpaid:
            nxt = unpaid[0]
            installments[dossier_id] = {
                "number": nxt.number,
                "count": len(rows),
                "amount": money(nxt.amount - nxt.paid),
                "due_date": nxt.due_on,
            }
    return installments, summaries


# ------------------------------------------------------------------------------------------------
# Contexts
# ------------------------------------------------------------------------------------------------


def build_contexts(
    session,
    action_ids: Iterable[int],
    *,
    as_of: date,
    office: Any,
    rates=None,
    unsubscribe_page: str | None = None,
    unsubscribe_secret: str | None = None,
) -> dict[int, dict[str, Any]]:
    """The render context of each action (see the module docstring). `office` is a mapping or
    `OfficeSettings`; `rates` (models.rates.RateTables, default the shipped tables) gives the
    interest to the day and the L441-10 rate of B2B letters;
    `unsubscribe_page` (the public URL of the unsubscribe page) gives emails their link."""
    ids = sorted(set(action_ids))
    if not ids:
        return {}
    actions = session.execute(
        select(Action.id, Action.dossier_id, Action.debtor_id, Action.channel, Action.template,
               Action.contact_point_id, Action.scenario, Action.step, Action.planned_at, Action.idempotency_key)
        .where(one_of(session, Action.id, ids))
    ).all()
    return contexts_for(
        session, actions, as_of=as_of, office=office, rates=rates,
        unsubscribe_page=unsubscribe_page, unsubscribe_secret=unsubscribe_secret,
    )


def contexts_for(
    session,
    actions: list[Any],
    *,
    as_of: date,
    office: Any,
    rates=None,
    unsubscribe_page: str | None = None,
    unsubscribe_secret: str | None = None,
) -> dict[int, dict[str, Any]]:
    """`build_contexts` for action-shaped rows (id, idempotency_key, dossier_id, debtor_id, channel,
    template, contact_point_id, scenario, step, planned_at), which need not be in the outbox: a template
    preview renders a dossier with a row that was never planned."""
    if not actions:
        return {}
    office_ctx = _office_dict(office)
    dossier_ids = sorted({a.dossier_id for a in actions})

    dossiers = {
        r.id: r
        for r in session.execute(
            select(
                Dossier.id, Dossier.external_ref, Dossier.first_letter_ref, Dossier.first_letter_on,
                Creditor.name.label("creditor_name"), Creditor.legal_name, Creditor.address_block,
                Creditor.is_private_person,
                Debtor.kind, Debtor.civility, Debtor.first_name, Debtor.last_name, Debtor.company_name,
            )
            .join(Creditor, Creditor.id == Dossier.creditor_id)
            .join(Debtor, Debtor.id == Dossier.debtor_id)
            .where(one_of(session, Dossier.id, dossier_ids))
        )
    }
    rates = rates if rates is not None else shipped_rates()
    private = {d.id: bool(d.is_private_person) for d in dossiers.values()}
    claims = _claim_rows(session, dossier_ids, as_of=as_of, rates=rates, private=private)
    promises = _open_promises(session, dossier_ids)
    installments, plans = _plans(session, dossier_ids, as_of)
    addresses = _letter_addresses(session, [a for a in actions if a.channel == Channel.LETTER])
    b2b_rate = _b2b_rate(rates, as_of) if any(c["_b2b"] for cs in claims.values() for c in cs) else None
    receipts = quittance_contexts(session, [(a.id, a.idempotency_key) for a in actions if is_quittance(a.idempotency_key)])

    contexts: dict[int, dict[str, Any]] = {}
    for a in actions:
        d = dossiers.get(a.dossier_id)
        if d is None:
            log.warning("action %s: dossier %s not found", a.id, a.dossier_id)
            continue
        dossier_claims = claims.get(a.dossier_id, [])
        context: dict[str, Any] = {
            "office": dict(office_ctx),
            "creditor": {
                "name": d.creditor_name,
                "legal_name": d.legal_name,
                "address_lines": _lines(d.address_block or ""),
            },
            "debtor": {
                "display_name": _display_name(d.kind, d.civility, d.first_name, d.last_name, d.company_name),
                "civility": d.civility,
                "last_name": d.last_name,
                "company_name": d.company_name,
                "is_company": d.kind == DebtorKind.COMPANY,
            },
            "dossier": {
                "id": d.id,
                "reference": d.external_ref,
                "payment_reference": payment_reference(d.id),
                "first_letter_ref": d.first_letter_ref,
                "first_letter_on": d.first_letter_on,
            },
            "claims": [{k: v for k, v in c.items() if not k.startswith("_")} for c in dossier_claims],
            "totals": _totals(dossier_claims),
            "as_of": as_of,
            "step": {"scenario": a.scenario, "name": a.step},
        }
        if a.dossier_id in promises:
            context["promise"] = dict(promises[a.dossier_id])
        if a.dossier_id in installments:
            context["installment"] = dict(installments[a.dossier_id])
        if a.dossier_id in plans:
            context["plan"] = dict(plans[a.dossier_id])
        b2b_claims = [c for c in dossier_claims if c["_b2b"]]
        if b2b_claims and b2b_rate is not None:
            context["b2b"] = {
                "rate_label": _rate_label(b2b_rate),
                "penalties": sum((c["interest"] for c in b2b_claims), ZERO),
                "indemnity_total": sum((min(c["_indemnity"], c["costs"]) for c in b2b_claims), ZERO),
            }
        if a.channel == Channel.LETTER:
            lines = addresses.get(a.id)
            if not lines:
                log.warning("letter action %s: no postal address", a.id)
                continue
            context["recipient"] = {"address_lines": lines}
            context["letter"] = {
                "reference": letter_reference(a.id, a.planned_at.year),
                "date": as_of,
                "first": d.first_letter_ref is None,
            }
        if is_quittance(a.idempotency_key):
            if a.id not in receipts:
                continue  # the payment is not applied (reversed meanwhile?): the action fails alone
            context.update(receipts[a.id])
            if "letter" in context:
                context["letter"]["first"] = False  # a receipt is no relance: never the R124-4 letter
        if a.channel == Channel.EMAIL and unsubscribe_page:
            context["unsubscribe_url"] = unsubscribe_url(unsubscribe_page, a.id, unsubscribe_secret)
        contexts[a.id] = context
    return contexts


def _b2b_rate(rates, as_of: date) -> Decimal | None:
    if rates is None:
        return None
    try:
        return rates.b2b_rate(as_of)
    except LookupError:  # MissingRateError: the B2B letter then fails alone, visibly
        log.warning("no ECB rate known for %s: B2B contexts carry no rate", as_of.isoformat())
        return None


def _letter_addresses(session, letter_actions: list[Any]) -> dict[int, list[str]]:
    """Address lines of each letter action: its contact point, else the debtor's best valid
    postal address (lowest rank)."""
    if not letter_actions:
        return {}
    out: dict[int, list[str]] = {}
    chosen = {a.id: a.contact_point_id for a in letter_actions if a.contact_point_id}
    if chosen:
        values = dict(session.execute(
            select(ContactPoint.id, ContactPoint.value)
            .where(one_of(session, ContactPoint.id, sorted(set(chosen.values()))),
                   ContactPoint.kind == ContactKind.ADDRESS)
        ).all())
        for action_id, cp_id in chosen.items():
            if cp_id in values:
                out[action_id] = _lines(values[cp_id])
    missing = [a for a in letter_actions if a.id not in out]
    if missing:
        best: dict[int, str] = {}
        for debtor_id, value in session.execute(
            select(ContactPoint.debtor_id, ContactPoint.value)
            .where(one_of(session, ContactPoint.debtor_id, sorted({a.debtor_id for a in missing})),
                   ContactPoint.kind == ContactKind.ADDRESS, ContactPoint.valid.is_(True))
            .order_by(ContactPoint.debtor_id, ContactPoint.rank, ContactPoint.id)
        ):
            best.setdefault(debtor_id, value)
        for a in missing:
            if a.debtor_id in best:
                out[a.id] = _lines(best[a.debtor_id])
    return out


def _lines(value: str) -> list[str]:
    return [line for line in value.split("\n") if line.strip()]


def record_first_letters(session, letters: Iterable[tuple[int, str, date]], *, now: datetime) -> int:
    """`record_first_letter` for a batch of sent letters (dossier id, reference, date), in one
    statement: of two letters of one dossier, the first listed is its first letter. Returns the
    number of dossiers whose first letter this made."""
    rows: dict[int, dict[str, Any]] = {}
    for dossier_id, reference, on in letters:
        rows.setdefault(dossier_id, {"id": dossier_id, "first_letter_ref": reference, "first_letter_on": on})
    return update_rows(session, Dossier.__table__, list(rows.values()),
                       where=[Dossier.__table__.c.first_letter_ref.is_(None)], values={"updated_at": now})


def record_first_letter(session, dossier_id: int, reference: str, on: date, *, now: datetime) -> bool:
    """Record a sent letter as the dossier's first one, unless a first letter is already known.
    Returns True when this letter became the first letter."""
    result = session.execute(
        update(Dossier)
        .where(Dossier.id == dossier_id, Dossier.first_letter_ref.is_(None))
        .values(first_letter_ref=reference, first_letter_on=on, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
