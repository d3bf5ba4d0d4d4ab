"""The dispatcher: planned actions out of the outbox, through the channels, never twice, never lost.

    dispatch(container_or_uow_factory, channels, *, now, channel=None, batch_size=500,
             max_batches=None, office=None, policy=None, rates=None) -> DispatchReport
    reconcile_sending(container_or_uow_factory, channels, *, now, older_than=10 min, ...)
             -> ReconcileReport
    record_delivery(session, provider_id, status, *, at, error_code=None, contact_invalid=False)
             -> int   (provider callbacks: forward only, idempotent)

One batch, channel by channel:

 1. claim   planned actions of the channel with not_before <= now, the oldest not_before first
            then by id (the order of ix_action_dispatch: a claim reads its batch and stops),
            become `sending` (attempts + 1, sending_at = now), committed BEFORE any provider is
            called. PostgreSQL: SELECT ... ORDER BY not_before, id LIMIT n FOR UPDATE SKIP LOCKED,
            then UPDATE those ids (still `planned`) RETURNING id, so two dispatchers never take
            the same rows.
            SQLite: one UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING id under its single
            write lock.
 2. render  contexts in a few set-based queries (services/rendering.py); SMS and email through
            TemplateRenderer, letters handed to the letter adapter as {"template", "context"}.
            A contact point found invalid or opted out meanwhile fails its action with the same
            fallback event a provider refusal would give; a rendering error fails its action alone
            (error_code "render"). Call actions need no provider: each becomes one CallTask.
 3. send    the rendered batch through the adapter (one outcome per message).
 4. record  the batch's outcomes in one transaction, each guarded by `status = 'sending'` (a crash
            before the commit leaves the batch `sending`, for reconcile_sending):
              Sent                -> sent (provider id, segments / pages, cost), ACTION_SENT
              Failed retryable    -> planned again, not_before = now + backoff (1, 5, 30 min by
                                     default, or the provider's retry_after when longer); after
                                     `max_attempts` attempts -> failed
              Failed permanent    -> failed, ACTION_FAILED; contact_invalid -> contact point
                                     invalid + CONTACT_INVALID; opted_out -> opt-out + OPT_OUT
                                     (events with processed_at NULL: the scenario engine replans
                                     the step on its fallback channel)
              account errors      (unauthorized, forbidden, region not enabled): planned again
                                     and the channel stops for this run; nothing is failed
              AmbiguousSendError  -> left `sending`, never re-sent: reconcile_sending decides

`reconcile_sending` takes actions left `sending` for longer than `older_than` (a crash between
the claim and the record, or an ambiguous answer) and asks the adapter: Sent -> sent; Failed
retryable `not_accepted` -> planned again; Failed permanent -> failed; unknown -> REVIEW, shown to
a person and never re-sent blindly.

The clock is the `now` parameter (UTC, timezone-aware); logs carry ids and codes only.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from channels.base import Failed, OutgoingMessage, SendOutcome, Sent
from channels.errors import AmbiguousSendError, ChannelError, FailureCode, PermanentChannelError
from channels.errors import RetryableChannelError
from channels.templating import TemplateError, TemplateRenderer
from models.agreements import Promise
from models.dossiers import Claim, DossierEvent
from models.enums import ActionStatus, CallTaskStatus, Channel, ContactKind, EventKind, PromiseStatus
from models.outbox import Action, CallTask, can_advance
from models.parties import ContactPoint, Debtor
from services.balances import outstanding
from services.bulk import bulk_insert, one_of, update_rows
from services.quittance import is_quittance
from services.rendering import build_contexts, letter_reference, record_first_letter, record_first_letters

__all__ = [
    "DispatchPolicy",
    "DispatchReport",
    "ReconcileReport",
    "UnitCosts",
    "call_priority",
    "dispatch",
    "reconcile_sending",
    "record_delivery",
]

log = logging.getLogger(__name__)

RENDER_ERROR = "render"
NO_CONTACT = "no_contact"
CONTACT_INVALID = "contact_invalid"
NO_ADAPTER = "no_adapter"
# Refusals that come from the account, not the message: every message would get the same answer.
ACCOUNT_ERRORS = frozenset({FailureCode.UNAUTHORIZED, FailureCode.FORBIDDEN, FailureCode.REGION_NOT_ENABLED})
CHANNEL_ORDER = (Channel.SMS, Channel.EMAIL, Channel.LETTER, Channel.CALL)
EXPECTED_KIND = {Channel.SMS: ContactKind.PHONE, Channel.EMAIL: ContactKind.EMAIL,
                 Channel.LETTER: ContactKind.ADDRESS, Channel.CALL: ContactKind.PHONE}
EVENT_SOURCE = "system"


# ------------------------------------------------------------------------------------------------
# Policy and reports
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitCosts:
    """Provider cost of one action, EUR. The same defaults as app/channel_settings.py."""

    sms_segment: Decimal = Decimal("0.045")
    email: Decimal = Decimal("0.001")
    letter_first_page: Decimal = Decimal("1.20")
    letter_extra_page: Decimal = Decimal("0.15")
    letter_postage: Decimal = Decimal("1.39")
    call: Decimal = Decimal("0")  # agent minutes are costed with the call outcome

    def cost(self, channel: Channel, *, segments: int | None = None, pages: int | None = None) -> Decimal:
        if channel is Channel.SMS:
            return self.sms_segment * max(segments or 1, 1)
        if channel is Channel.EMAIL:
            return self.email
        if channel is Channel.LETTER:
            return self.letter_first_page + self.letter_extra_page * (max(pages or 1, 1) - 1) + self.letter_postage
        return self.call


@dataclass(frozen=True)
class DispatchPolicy:
    costs: UnitCosts = field(default_factory=UnitCosts)
    backoff_minutes: tuple[int, ...] = (1, 5, 30)
    max_attempts: int = 4
    unsubscribe_page: str | None = None
    unsubscribe_secret: str | None = None
    office_timezone: str = "Europe/Paris"
    call_window_end_hour: int = 20

    def backoff(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """Wait before attempt `attempts + 1`."""
        steps = self.backoff_minutes or (1,)
        wait = timedelta(minutes=steps[min(max(attempts, 1), len(steps)) - 1])
        if retry_after:
            wait = max(wait, timedelta(seconds=retry_after))
        return wait

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(ZoneInfo(self.office_timezone)).date()


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    ambiguous: int = 0
    fallback: int = 0  # permanent failures that asked the scenario engine for the fallback channel
    halted: dict[str, str] = field(default_factory=dict)  # channel -> why it stopped early

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReconcileReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    review: int = 0
    skipped: int = 0  # no adapter for the channel in this run: left as they are

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------------
# Wiring: a container or a bare unit-of-work factory
# ------------------------------------------------------------------------------------------------


@dataclass
class _Env:
    uow: Callable[[], Any]
    office: Any
    policy: DispatchPolicy
    rates: Any
    _renderer: TemplateRenderer | None = None

    @property
    def renderer(self) -> TemplateRenderer:
        if self._renderer is None:
            office = self.office.model_dump() if hasattr(self.office, "model_dump") else self.office
            # The load-time check refuses an SMS template that can exceed its declared segments
            # (tests/unit/channels check the shipped ones); each SMS is measured again at render.
            self._renderer = TemplateRenderer(office=office)
        return self._renderer


def _resolve(target, *, office, policy, rates, renderer) -> _Env:
    """`container.uow` (a bound method), the container itself or any uow factory. Office, policy
    and rates come from the container's settings when not given."""
    container = None
    if hasattr(target, "uow") and hasattr(target, "settings"):
        container, factory = target, target.uow
    else:
        factory = target
        owner = getattr(target, "__self__", None)
        if owner is not None and hasattr(owner, "settings"):
            container = owner
    settings = getattr(container, "settings", None)
    if office is None:
        office = getattr(settings, "office", None)
    if policy is None:
        channel_settings = getattr(settings, "channels", None)
        has_policy = hasattr(channel_settings, "dispatch_policy")
        policy = channel_settings.dispatch_policy() if has_policy else DispatchPolicy()
    if rates is None and container is not None:
        try:
            rates = container.rates
        except Exception:  # noqa: BLE001 - without rates, B2B letters fail alone, visibly
            log.warning("rate tables could not be loaded: B2B letters will not render")
    return _Env(factory, office, policy, rates, renderer)


# ------------------------------------------------------------------------------------------------
# Rows
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    id: int
    idempotency_key: str
    dossier_id: int
    debtor_id: int
    channel: Channel
    template: str
    scenario: str | None
    step: str | None
    contact_point_id: int | None
    attempts: int
    not_before: datetime
    planned_at: datetime
    sending_at: datetime | None
    cp_kind: ContactKind | None
    cp_value: str | None
    cp_valid: bool | None
    cp_opted_out: bool


def _load_rows(session, ids: Sequence[int]) -> list[_Row]:
    rows = session.execute(
        select(
            Action.id, Action.idempotency_key, Action.dossier_id, Action.debtor_id, Action.channel,
            Action.template, Action.scenario, Action.step, Action.contact_point_id, Action.attempts,
            Action.not_before, Action.planned_at, Action.sending_at,
            ContactPoint.kind, ContactPoint.value, ContactPoint.valid,
            ContactPoint.opt_out_sms_at, ContactPoint.opt_out_email_at, ContactPoint.opt_out_call_at,
        )
        .outerjoin(ContactPoint, ContactPoint.id == Action.contact_point_id)
        .where(one_of(session, Action.id, list(ids)))
        .order_by(Action.id)
    )
    out = []
    for r in rows:
        channel = Channel(r.channel)
        opted = {Channel.SMS: r.opt_out_sms_at, Channel.EMAIL: r.opt_out_email_at,
                 Channel.CALL: r.opt_out_call_at}.get(channel)
        out.append(_Row(
            r.id, r.idempotency_key, r.dossier_id, r.debtor_id, channel, r.template, r.scenario, r.step,
            r.contact_point_id, r.attempts, r.not_before, r.planned_at, r.sending_at,
            r.kind, r.value, r.valid, opted is not None,
        ))
    return out


def _event_data(row: _Row, **extra: Any) -> dict[str, Any]:
    data = {"action_id": row.id, "channel": row.channel.value, "step": row.step}
    data.update({k: v for k, v in extra.items() if v is not None})
    return data


def _add_event(session, row: _Row, kind: EventKind, now: datetime, *, source: str = EVENT_SOURCE,
               **extra: Any) -> None:
    session.add(DossierEvent(dossier_id=row.dossier_id, kind=kind, occurred_at=now, source=source,
                             data=_event_data(row, **extra)))


# ------------------------------------------------------------------------------------------------
# 1. Claim
# ------------------------------------------------------------------------------------------------


def _claim(env: _Env, channel: Channel, now: datetime, limit: int) -> list[int]:
    with env.uow() as uow:
        session = uow.session
        pick = (
            select(Action.id)
            .where(Action.status == ActionStatus.PLANNED, Action.channel == channel, Action.not_before <= now)
            .order_by(Action.not_before, Action.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Lock the rows first, in their own statement: inside an UPDATE ... WHERE id IN (...)
            # the planner may rescan a LIMIT ... FOR UPDATE subquery and take more than `limit`.
            ids = session.execute(pick.with_for_update(skip_locked=True)).scalars().all()
            if not ids:
                return []
            target = one_of(session, Action.id, ids)
        else:
            # SQLite: one statement under the single write lock; the IN subquery runs once.
            target = Action.id.in_(pick)
        claimed = session.execute(
            update(Action)
            .where(target, Action.status == ActionStatus.PLANNED)
            .values(status=ActionStatus.SENDING, attempts=Action.attempts + 1, sending_at=now, updated_at=now)
            .returning(Action.id)
            .execution_options(synchronize_session=False)
        ).scalars().all()
        uow.commit()
    return sorted(claimed)


def _release(env: _Env, ids: Sequence[int], not_before: datetime, now: datetime) -> None:
    """Claimed actions that never reached a provider go back to planned."""
    with env.uow() as uow:
        uow.session.execute(
            update(Action)
            .where(Action.id.in_(list(ids)), Action.status == ActionStatus.SENDING)
            .values(status=ActionStatus.PLANNED, not_before=not_before, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        uow.commit()


# ------------------------------------------------------------------------------------------------
# 2. Render
# ------------------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    messages: list[OutgoingMessage] = field(default_factory=list)
    refused: list[tuple[_Row, str]] = field(default_factory=list)  # row, error code
    calls: list[_Row] = field(default_factory=list)
    letters: dict[int, tuple[str, date, bool]] = field(default_factory=dict)  # action -> ref, date, first


def _precheck(row: _Row) -> str | None:
    """Why an action cannot go out to its contact point, or None."""
    if row.contact_point_id is None:
        # A call without a number is still a task (the agent looks one up); a letter without a
        # chosen address goes to the debtor's best valid one (services/rendering.py).
        return None if row.channel in (Channel.CALL, Channel.LETTER) else NO_CONTACT
    if row.cp_kind is not None and row.cp_kind != EXPECTED_KIND[row.channel]:
        return NO_CONTACT
    if not row.cp_valid:
        return CONTACT_INVALID
    if row.cp_opted_out:
        return FailureCode.OPTED_OUT
    return None


def _message(env: _Env, row: _Row, context: dict[str, Any]) -> OutgoingMessage:
    reference = context["dossier"]["payment_reference"].replace(" ", "")
    categories = tuple(c for c in (row.scenario, row.step) if c)
    if row.channel is Channel.SMS:
        sms = env.renderer.render_sms(row.template, context)
        return OutgoingMessage(row.id, row.idempotency_key, Channel.SMS, to=row.cp_value, body_text=sms.text,
                               segments=sms.segments, reference=reference, categories=categories)
    if row.channel is Channel.EMAIL:
        email = env.renderer.render_email(row.template, context)
        metadata = {"unsubscribe_url": context["unsubscribe_url"]} if context.get("unsubscribe_url") else {}
        return OutgoingMessage(row.id, row.idempotency_key, Channel.EMAIL, to=row.cp_value,
                               body_text=email.text, subject=email.subject, body_html=email.html,
                               reference=reference, categories=categories, metadata=metadata)
    if row.channel is Channel.LETTER:
        lines = context["recipient"]["address_lines"]
        return OutgoingMessage(row.id, row.idempotency_key, Channel.LETTER, to="\n".join(lines),
                               body_text="", reference=reference, categories=categories,
                               metadata={"template": row.template, "context": context})
    raise ValueError(f"action {row.id}: no message for channel {row.channel}")


def _prepare(env: _Env, session, rows: Sequence[_Row], *, as_of: date,
             check_contacts: bool = True) -> _Prepared:
    prepared = _Prepared()
    needs_context = []
    for row in rows:
        problem = _precheck(row) if check_contacts else None
        if problem:
            prepared.refused.append((row, problem))
        elif row.channel is Channel.CALL:
            prepared.calls.append(row)
        else:
            needs_context.append(row)
    contexts = build_contexts(
        session, [r.id for r in needs_context], as_of=as_of, office=env.office, rates=env.rates,
        unsubscribe_page=env.policy.unsubscribe_page, unsubscribe_secret=env.policy.unsubscribe_secret,
    ) if needs_context else {}
    for row in needs_context:
        context = contexts.get(row.id)
        if context is None:
            prepared.refused.append((row, NO_CONTACT if row.channel is Channel.LETTER else RENDER_ERROR))
            continue
        try:
            prepared.messages.append(_message(env, row, context))
        except (TemplateError, KeyError, TypeError, ValueError) as exc:
            log.warning("action %s: cannot be rendered (%s)", row.id, type(exc).__name__)
            prepared.refused.append((row, RENDER_ERROR))
            continue
        if row.channel is Channel.LETTER and not is_quittance(row.idempotency_key):
            letter = context["letter"]
            prepared.letters[row.id] = (letter["reference"], letter["date"], letter["first"])
    return prepared


# ------------------------------------------------------------------------------------------------
# 4. Record
# ------------------------------------------------------------------------------------------------


def _guarded_update(session, row: _Row, values: dict[str, Any], *, from_status=ActionStatus.SENDING,
                    sending_at: datetime | None = None) -> bool:
    stmt = update(Action).where(Action.id == row.id, Action.status == from_status)
    if sending_at is not None:
        stmt = stmt.where(Action.sending_at == sending_at)
    result = session.execute(stmt.values(**values).execution_options(synchronize_session=False))
    return result.rowcount == 1


@contextmanager
def _writing(env: _Env, session=None):
    """The caller's session (it commits), or a unit of work of our own committed at the end."""
    if session is not None:
        yield session
        return
    with env.uow() as uow:
        yield uow.session
        uow.commit()


def _record_sent(env: _Env, row: _Row, outcome: Sent, now: datetime, *, sent_at: datetime,
                 segments: int | None = None, pages: int | None = None,
                 letter: tuple[str, date, bool] | None = None, guard_sending_at: datetime | None = None,
                 session=None) -> bool:
    cost = env.policy.costs.cost(row.channel, segments=segments, pages=pages)
    with _writing(env, session) as s:
        done = _guarded_update(s, row, {
            "status": ActionStatus.SENT, "provider_id": outcome.provider_id, "sent_at": sent_at,
            "segments": segments, "pages": pages, "cost": cost, "error_code": None, "updated_at": now,
        }, sending_at=guard_sending_at)
        if not done:
            log.info("action %s: no longer sending, outcome ignored", row.id)
            return False
        if letter is not None:
            reference, letter_date, _first = letter
            if record_first_letter(s, row.dossier_id, reference, letter_date, now=now):
                log.info("action %s: first letter of dossier %s", row.id, row.dossier_id)
        _add_event(s, row, EventKind.ACTION_SENT, now)
    return True


def _record_retry(env: _Env, row: _Row, error: ChannelError, now: datetime, *, attempts: int,
                  not_before: datetime | None = None, guard_sending_at: datetime | None = None,
                  session=None) -> str:
    """Planned again, or failed once the attempts are used up. Returns "retried" / "failed" / ""."""
    if attempts >= env.policy.max_attempts:
        failed = _record_failure(env, row, error.code, now, guard_sending_at=guard_sending_at, session=session)
        return "failed" if failed else ""
    when = not_before or now + env.policy.backoff(attempts, getattr(error, "retry_after", None))
    with _writing(env, session) as s:
        done = _guarded_update(s, row, {
            "status": ActionStatus.PLANNED, "not_before": when, "error_code": error.code, "updated_at": now,
        }, sending_at=guard_sending_at)
    return "retried" if done else ""


def _record_failure(env: _Env, row: _Row, code: str, now: datetime, *, contact_invalid: bool = False,
                    opted_out: bool = False, guard_sending_at: datetime | None = None, session=None) -> bool:
    with _writing(env, session) as s:
        done = _guarded_update(s, row, {
            "status": ActionStatus.FAILED, "error_code": str(code)[:40], "failed_at": now, "updated_at": now,
        }, sending_at=guard_sending_at)
        if not done:
            return False
        _add_event(s, row, EventKind.ACTION_FAILED, now, code=str(code))
        _mark_contact(s, row, now, code=str(code), contact_invalid=contact_invalid, opted_out=opted_out)
    return True


def _mark_contact(session, row: _Row, now: datetime, *, code: str, contact_invalid: bool, opted_out: bool,
                  source: str = EVENT_SOURCE) -> None:
    """Mark the contact point and ask the scenario engine for the fallback (events unprocessed)."""
    if not (contact_invalid or opted_out):
        return
    if row.contact_point_id is not None:
        if contact_invalid:
            values = {"valid": False, "invalid_reason": code[:120], "invalid_since": now, "updated_at": now}
            session.execute(
                update(ContactPoint)
                .where(ContactPoint.id == row.contact_point_id, ContactPoint.valid.is_(True))
                .values(**values).execution_options(synchronize_session=False)
            )
        else:
            column = {Channel.SMS: "opt_out_sms_at", Channel.EMAIL: "opt_out_email_at",
                      Channel.CALL: "opt_out_call_at"}.get(row.channel)
            if column is not None:
                session.execute(
                    update(ContactPoint)
                    .where(ContactPoint.id == row.contact_point_id, getattr(ContactPoint, column).is_(None))
                    .values({column: now, "updated_at": now}).execution_options(synchronize_session=False)
                )
    kind = EventKind.CONTACT_INVALID if contact_invalid else EventKind.OPT_OUT
    # scenarios/reactions.py replans `step` when it is the enrolment's last planned one, for the
    # same scenario and occurrence.
    _add_event(session, row, kind, now, source=source, contact_point_id=row.contact_point_id,
               scenario=row.scenario, occurrence=_occurrence(row.idempotency_key))


def _occurrence(idempotency_key: str) -> int | None:
    """The occurrence of a planner key "dossier:scenario:step:occurrence" ("3", or "2.3" in a
    later cycle), or None for another kind of key."""
    token = idempotency_key.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    return int(token) if token.isdigit() and ":" in idempotency_key else None


class _SentBatch:
    """The Sent outcomes of a batch, recorded together: one guarded UPDATE for all the rows, one
    for the dossiers' first letters and one multi-row INSERT of their events (an ORM statement
    per row cost 0.3-0.5 ms, more than sending the message)."""

    def __init__(self) -> None:
        self.rows: list[tuple[_Row, dict[str, Any], tuple[str, date, bool] | None]] = []

    def add(self, env: _Env, row: _Row, outcome: Sent, now: datetime, *, segments: int | None,
            pages: int | None, letter: tuple[str, date, bool] | None) -> None:
        cost = env.policy.costs.cost(row.channel, segments=segments, pages=pages)
        self.rows.append((row, {"id": row.id, "provider_id": outcome.provider_id, "segments": segments,
                                "pages": pages, "cost": cost}, letter))

    def record(self, session, now: datetime) -> list[_Row]:
        """Record every row still `sending`; returns those rows. Rows that left `sending` meanwhile
        (a reconciliation got there first) are skipped, as the one-row path skips them."""
        if not self.rows:
            return []
        table = Action.__table__
        ids = [row.id for row, _, _ in self.rows]
        lock = select(table.c.id).where(one_of(session, table.c.id, ids), table.c.status == ActionStatus.SENDING)
        if session.get_bind().dialect.name == "postgresql":
            lock = lock.with_for_update()
        still = set(session.scalars(lock))
        todo = [(row, params, letter) for row, params, letter in self.rows if row.id in still]
        if len(todo) < len(self.rows):
            log.info("%s actions no longer sending, outcome ignored", len(self.rows) - len(todo))
        if not todo:
            return []
        done = update_rows(session, table, [params for _, params, _ in todo],
                           where=[table.c.status == ActionStatus.SENDING],
                           values={"status": ActionStatus.SENT, "sent_at": now, "error_code": None, "updated_at": now})
        if done != len(todo):  # another writer moved rows between the check and the update
            raise RuntimeError(f"{len(todo) - done} actions changed while their outcomes were recorded")
        letters = [(row.dossier_id, letter[0], letter[1]) for row, _, letter in todo if letter is not None]
        if letters and (first := record_first_letters(session, letters, now=now)):
            log.info("%s first letters recorded on their dossiers", first)
        session.flush()  # events added earlier in this transaction keep their place before these
        bulk_insert(session.connection(), DossierEvent.__table__, [
            {"dossier_id": row.dossier_id, "kind": EventKind.ACTION_SENT, "occurred_at": now,
             "source": EVENT_SOURCE, "data": _event_data(row)} for row, _, _ in todo
        ])
        return [row for row, _, _ in todo]


def _record_outcome(env: _Env, row: _Row, outcome: SendOutcome, now: datetime, report: DispatchReport,
                    prepared: _Prepared, adapter: Any, message: OutgoingMessage | None, session,
                    sent: _SentBatch) -> str | None:
    """Returns an account error code when the channel must stop. Sent outcomes are collected in
    `sent`, recorded by the caller in the same transaction."""
    if isinstance(outcome, Sent):
        segments = outcome.segments or (message.segments if message is not None else None)
        pages = _pages(adapter, outcome) if row.channel is Channel.LETTER else None
        if row.channel is not Channel.SMS:
            segments = None
        sent.add(env, row, outcome, now, segments=segments, pages=pages, letter=prepared.letters.get(row.id))
        return None
    error = outcome.error
    known = isinstance(error, (RetryableChannelError, PermanentChannelError))
    if isinstance(error, AmbiguousSendError) or not known:
        log.warning("action %s: ambiguous answer (%s), left sending for reconciliation", row.id, error.code)
        report.ambiguous += 1
        return None
    if isinstance(error, RetryableChannelError):
        result = _record_retry(env, row, error, now, attempts=row.attempts, session=session)
        if result == "retried":
            report.retried += 1
        elif result == "failed":
            report.failed += 1
        return None
    if error.code in ACCOUNT_ERRORS:
        # The account is at fault: every message would fail alike. Keep them all for later.
        later = now + env.policy.backoff(len(env.policy.backoff_minutes))
        _guarded_update(session, row, {"status": ActionStatus.PLANNED, "error_code": error.code,
                                       "not_before": later, "updated_at": now})
        report.retried += 1
        return str(error.code)
    code = _render_code(row, error)
    contact_invalid = bool(error.contact_invalid)
    opted_out = error.opted_out
    if _record_failure(env, row, code, now, contact_invalid=contact_invalid, opted_out=opted_out,
                       session=session):
        report.failed += 1
        report.fallback += int(contact_invalid or opted_out)
    return None


def _render_code(row: _Row, error: PermanentChannelError) -> str:
    """Letter adapters render the PDF themselves: a refusal caused by the template or context is
    a rendering error of ours, not a provider's refusal."""
    cause = error.__cause__
    if row.channel is Channel.LETTER and cause is not None and not isinstance(cause, OSError):
        return RENDER_ERROR
    return str(error.code)


def _pages(adapter: Any, outcome: Sent) -> int | None:
    """Page count of a sent letter: from the outcome when an adapter gives it, else from the
    print spool's record (`<spool>/pending/<action>.json`, channels/letter_channel.py)."""
    pages = getattr(outcome, "pages", None)
    if pages:
        return int(pages)
    pending = getattr(adapter, "pending", None)
    if isinstance(pending, Path):
        candidates = [pending / f"{outcome.action_id}.json"]
        batches = getattr(adapter, "batches", None)
        if isinstance(batches, Path) and batches.is_dir():
            candidates += list(batches.glob(f"*/letters/{outcome.action_id}.json"))
        for path in candidates:
            try:
                return int(json.loads(path.read_text(encoding="utf-8")).get("page_count") or 0) or None
            except (OSError, ValueError):
                continue
    return None


# ------------------------------------------------------------------------------------------------
# Calls
# ------------------------------------------------------------------------------------------------


def call_priority(balance: Decimal, oldest_due: date | None, broken_promises: int, *, as_of: date) -> int:
    """Higher first: 1 point per 100 EUR owed (at most 50), 1 per month since the oldest unpaid
    due date (at most 24), 10 per broken promise (at most 30)."""
    balance_points = min(int(max(balance, Decimal(0)) // 100), 50)
    age_points = min(max((as_of - oldest_due).days, 0) // 30, 24) if oldest_due else 0
    return balance_points + age_points + 10 * min(broken_promises, 3)


def _window_end(due_at: datetime, tz_name: str, hour: int) -> datetime:
    try:
        tz = ZoneInfo(tz_name or "Europe/Paris")
    except (KeyError, ValueError):
        tz = ZoneInfo("Europe/Paris")
    local = due_at.astimezone(tz)
    end = datetime.combine(local.date(), time(hour), tzinfo=tz)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=tz)
    return end.astimezone(due_at.tzinfo)


def _call_facts(session, rows: Sequence[_Row]) -> tuple[dict, dict, dict, dict]:
    dossier_ids = sorted({r.dossier_id for r in rows})
    balances = outstanding(session, dossier_ids)
    oldest = dict(session.execute(
        select(Claim.dossier_id, func.min(Claim.due_date))
        .where(one_of(session, Claim.dossier_id, dossier_ids), Claim.principal_paid < Claim.principal)
        .group_by(Claim.dossier_id)
    ).all())
    broken = dict(session.execute(
        select(Promise.dossier_id, func.count())
        .where(one_of(session, Promise.dossier_id, dossier_ids), Promise.status == PromiseStatus.BROKEN)
        .group_by(Promise.dossier_id)
    ).all())
    zones = dict(session.execute(
        select(Debtor.id, Debtor.timezone).where(one_of(session, Debtor.id, sorted({r.debtor_id for r in rows})))
    ).all())
    return balances, oldest, broken, zones


def _create_call_tasks(env: _Env, rows: Sequence[_Row], now: datetime, report: DispatchReport) -> None:
    """Each call action becomes one call task for the agents, the batch in one transaction."""
    as_of = env.policy.local_date(now)
    with env.uow() as uow:
        s = uow.session
        balances, oldest, broken, zones = _call_facts(s, rows)
        sent = _SentBatch()
        for row in rows:
            sent.add(env, row, Sent(row.id, f"call-{row.id}"), now, segments=None, pages=None, letter=None)
        recorded = sent.record(s, now)
        ids = [row.id for row in recorded]
        existing = set(s.scalars(select(CallTask.action_id).where(one_of(s, CallTask.action_id, ids)))) if ids else set()
        tasks = [
            {"action_id": row.id, "idempotency_key": f"action:{row.id}", "dossier_id": row.dossier_id,
             "debtor_id": row.debtor_id, "phone_id": row.contact_point_id, "kind": "scenario",
             "script": row.template,
             "priority": call_priority(balances.get(row.dossier_id, Decimal(0)), oldest.get(row.dossier_id),
                                       broken.get(row.dossier_id, 0), as_of=as_of),
             "due_at": row.not_before,
             "window_end": _window_end(row.not_before, zones.get(row.debtor_id), env.policy.call_window_end_hour),
             "status": CallTaskStatus.OPEN, "attempts": 0, "created_at": now, "updated_at": now}
            for row in recorded if row.id not in existing
        ]
        bulk_insert(s.connection(), CallTask.__table__, tasks)
        uow.commit()
    report.sent += len(recorded)
    log.info("call tasks: %s created", len(tasks))


# ------------------------------------------------------------------------------------------------
# dispatch
# ------------------------------------------------------------------------------------------------


def dispatch(
    container_or_uow_factory,
    channels: Mapping[Channel, Any],
    *,
    now: datetime,
    channel: Channel | str | None = None,
    batch_size: int = 500,
    max_batches: int | None = None,
    office: Any = None,
    policy: DispatchPolicy | None = None,
    rates: Any = None,
    renderer: TemplateRenderer | None = None,
    throttle: Callable[[Channel, int], None] | None = None,
) -> DispatchReport:
    """Send every due planned action (of `channel`, or of every channel), batch by batch.

    `throttle(channel, n)` is called before `n` messages go to a provider and blocks until they
    may: a rate limit shared by every worker (flows/runtime.py wires Prefect's global
    concurrency limits); each adapter keeps its own per-process limit as well."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    env = _resolve(container_or_uow_factory, office=office, policy=policy, rates=rates, renderer=renderer)
    if env.office is None:
        raise ValueError("dispatch needs the office identity (a container, or office=...)")
    wanted = [Channel(channel)] if channel is not None else [c for c in CHANNEL_ORDER
                                                              if c is Channel.CALL or c in channels]
    report = DispatchReport()
    for ch in wanted:
        adapter = channels.get(ch)
        if ch is not Channel.CALL and adapter is None:
            log.warning("dispatch %s: no adapter wired, actions stay planned", ch.value)
            report.halted[ch.value] = NO_ADAPTER
            continue
        batches = 0
        while max_batches is None or batches < max_batches:
            ids = _claim(env, ch, now, batch_size)
            if not ids:
                break
            batches += 1
            stop = _run_batch(env, ch, adapter, ids, now, report, throttle)
            if stop:
                report.halted[ch.value] = stop
                break
            if len(ids) < batch_size:
                break
    log.info("dispatch: sent %s, failed %s, retried %s, ambiguous %s, fallback %s",
             report.sent, report.failed, report.retried, report.ambiguous, report.fallback)
    return report


def _run_batch(env: _Env, ch: Channel, adapter: Any, ids: list[int], now: datetime,
               report: DispatchReport, throttle: Callable[[Channel, int], None] | None = None) -> str | None:
    as_of = env.policy.local_date(now)
    try:
        with env.uow() as uow:
            rows = _load_rows(uow.session, ids)
            prepared = _prepare(env, uow.session, rows, as_of=as_of)
    except Exception:
        # Nothing reached a provider: the batch goes back to planned, then the error surfaces.
        _release(env, ids, now + env.policy.backoff(1), now)
        raise
    if prepared.refused:
        with env.uow() as uow:
            for row, code in prepared.refused:
                invalid, opted = code == CONTACT_INVALID, code == FailureCode.OPTED_OUT
                if _record_failure(env, row, code, now, contact_invalid=invalid, opted_out=opted,
                                   session=uow.session):
                    report.failed += 1
                    report.fallback += int(invalid or opted)
            uow.commit()
    if prepared.calls:
        _create_call_tasks(env, prepared.calls, now, report)
    if not prepared.messages:
        return None
    by_id = {r.id: r for r in rows}
    if throttle is not None:
        try:
            throttle(ch, len(prepared.messages))
        except Exception:
            # Claimed but never sent: back to planned, then the error surfaces (a missing limit).
            _release(env, [m.action_id for m in prepared.messages], now, now)
            raise
    try:
        outcomes = adapter.send_batch(prepared.messages)
    except Exception as exc:  # noqa: BLE001 - an adapter bug: the batch may be partly sent
        log.error("dispatch %s: adapter raised %s; %s actions left sending for reconciliation",
                  ch.value, type(exc).__name__, len(prepared.messages))
        report.ambiguous += len(prepared.messages)
        return "adapter_error"
    if len(outcomes) != len(prepared.messages):
        log.error("dispatch %s: %s outcomes for %s messages", ch.value, len(outcomes), len(prepared.messages))
    stop = None
    answered = set()
    # One transaction for the batch's outcomes: a commit per outcome cost more than the sending.
    # A crash before the commit leaves the whole batch `sending`, which reconcile_sending settles
    # with the provider: nothing is re-sent blindly.
    with env.uow() as uow:
        sent = _SentBatch()
        for message, outcome in zip(prepared.messages, outcomes):
            if outcome.action_id != message.action_id:
                log.error("dispatch %s: outcome for action %s in the place of %s", ch.value, outcome.action_id,
                          message.action_id)
                report.ambiguous += 1
                continue
            answered.add(message.action_id)
            row = by_id[message.action_id]
            halted = _record_outcome(env, row, outcome, now, report, prepared, adapter, message, uow.session, sent)
            stop = stop or halted
        report.sent += len(sent.record(uow.session, now))
        uow.commit()
    report.ambiguous += sum(1 for m in prepared.messages[len(outcomes):] if m.action_id not in answered)
    return stop


# ------------------------------------------------------------------------------------------------
# reconcile_sending
# ------------------------------------------------------------------------------------------------


def reconcile_sending(
    container_or_uow_factory,
    channels: Mapping[Channel, Any],
    *,
    now: datetime,
    older_than: timedelta = timedelta(minutes=10),
    batch_size: int = 500,
    office: Any = None,
    policy: DispatchPolicy | None = None,
    rates: Any = None,
    renderer: TemplateRenderer | None = None,
) -> ReconcileReport:
    """Settle actions left `sending` since before `now - older_than` (see the module docstring)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    env = _resolve(container_or_uow_factory, office=office, policy=policy, rates=rates, renderer=renderer)
    cutoff = now - older_than
    report = ReconcileReport()
    after = 0
    while True:
        with env.uow() as uow:
            ids = uow.session.execute(
                select(Action.id)
                .where(Action.status == ActionStatus.SENDING, Action.sending_at <= cutoff, Action.id > after)
                .order_by(Action.id).limit(batch_size)
            ).scalars().all()
            if not ids:
                break
            after = ids[-1]
            rows = _load_rows(uow.session, ids)
            messages = _reconcile_messages(env, uow.session, rows)
        for row in rows:
            _reconcile_one(env, channels, row, messages.get(row.id), now, report)
    log.info("reconcile: sent %s, retried %s, failed %s, review %s, skipped %s",
             report.sent, report.retried, report.failed, report.review, report.skipped)
    return report


def _reconcile_messages(env: _Env, session, rows: Sequence[_Row]) -> dict[int, tuple[OutgoingMessage, _Prepared]]:
    """Re-render each stuck action as it was rendered when claimed (as_of = its claim day), so an
    adapter that compares texts finds it. Unrenderable ones get a bare message (ids only)."""
    out: dict[int, tuple[OutgoingMessage, _Prepared]] = {}
    by_day: dict[date, list[_Row]] = defaultdict(list)
    for row in rows:
        if row.channel is not Channel.CALL:
            by_day[env.policy.local_date(row.sending_at)].append(row)
    for day, day_rows in by_day.items():
        prepared = _Prepared()
        if env.office is not None:
            try:
                prepared = _prepare(env, session, day_rows, as_of=day, check_contacts=False)
            except Exception as exc:  # noqa: BLE001 - reconciliation still asks with bare messages
                log.warning("reconcile: cannot re-render (%s)", type(exc).__name__)
        rendered = {m.action_id: m for m in prepared.messages}
        for row in day_rows:
            message = rendered.get(row.id) or OutgoingMessage(
                row.id, row.idempotency_key, row.channel, to=row.cp_value or "", body_text="",
                subject="(reconciliation)" if row.channel is Channel.EMAIL else None,
                metadata={"template": row.template} if row.channel is Channel.LETTER else {},
            )
            out[row.id] = (message, prepared)
    return out


def _reconcile_one(env: _Env, channels: Mapping[Channel, Any], row: _Row,
                   found: tuple[OutgoingMessage, _Prepared] | None, now: datetime, report: ReconcileReport) -> None:
    guard = row.sending_at
    if row.channel is Channel.CALL:
        with env.uow() as uow:
            has_task = uow.session.scalar(select(CallTask.id).where(CallTask.action_id == row.id)) is not None
        if has_task:
            if _record_sent(env, row, Sent(row.id, f"call-{row.id}"), now, sent_at=guard, guard_sending_at=guard):
                report.sent += 1
        else:
            _back_to_planned(env, row, now, report, guard)
        return
    adapter = channels.get(row.channel)
    if adapter is None or found is None:
        report.skipped += 1
        return
    message, prepared = found
    try:
        outcome = adapter.reconcile(message)
    except Exception as exc:  # noqa: BLE001 - an unknown answer is "unknown", never "send again"
        log.warning("action %s: reconcile raised %s", row.id, type(exc).__name__)
        outcome = None
    if isinstance(outcome, Sent):
        segments = (outcome.segments or message.segments) if row.channel is Channel.SMS else None
        pages = _pages(adapter, outcome) if row.channel is Channel.LETTER else None
        letter = prepared.letters.get(row.id) or _letter_of(env, row)
        if _record_sent(env, row, outcome, now, sent_at=guard, segments=segments, pages=pages,
                        letter=letter, guard_sending_at=guard):
            report.sent += 1
        return
    if isinstance(outcome, Failed) and isinstance(outcome.error, RetryableChannelError):
        _back_to_planned(env, row, now, report, guard, error=outcome.error)
        return
    if isinstance(outcome, Failed) and isinstance(outcome.error, PermanentChannelError):
        error = outcome.error
        if _record_failure(env, row, str(error.code), now, contact_invalid=bool(error.contact_invalid),
                           opted_out=error.opted_out, guard_sending_at=guard):
            report.failed += 1
        return
    with env.uow() as uow:
        done = _guarded_update(uow.session, row, {"status": ActionStatus.REVIEW, "error_code": "unreconciled",
                                                  "updated_at": now}, sending_at=guard)
        uow.commit()
    if done:
        log.warning("action %s: provider cannot say whether it was sent: shown for review", row.id)
        report.review += 1


def _letter_of(env: _Env, row: _Row) -> tuple[str, date, bool] | None:
    if row.channel is not Channel.LETTER or is_quittance(row.idempotency_key):
        return None
    return letter_reference(row.id, row.planned_at.year), env.policy.local_date(row.sending_at), False


def _back_to_planned(env: _Env, row: _Row, now: datetime, report: ReconcileReport, guard: datetime,
                     error: ChannelError | None = None) -> None:
    """The provider never took it: safe to send again, at once."""
    error = error or RetryableChannelError("never accepted", code=FailureCode.NOT_ACCEPTED)
    result = _record_retry(env, row, error, now, attempts=row.attempts, not_before=now, guard_sending_at=guard)
    if result == "retried":
        report.retried += 1
    elif result == "failed":
        report.failed += 1


# ------------------------------------------------------------------------------------------------
# record_delivery
# ------------------------------------------------------------------------------------------------


def record_delivery(
    session,
    provider_id: str,
    status: ActionStatus | str,
    *,
    at: datetime,
    error_code: str | None = None,
    contact_invalid: bool = False,
    source: str = "webhook",
) -> int:
    """A provider's delivery report: sent -> delivered | failed, forward only. A repeated, late or
    out-of-order callback changes nothing. A failure with `contact_invalid` (a bounce) marks the
    contact point and asks for the fallback. Returns the number of actions moved; the caller commits."""
    new = ActionStatus(status)
    if new not in (ActionStatus.DELIVERED, ActionStatus.FAILED):
        raise ValueError(f"a delivery report moves to delivered or failed, not {new.value}")
    if not provider_id:
        return 0
    candidates = session.execute(
        select(Action.id, Action.status).where(Action.provider_id == provider_id)
    ).all()
    moved = 0
    for action_id, current in candidates:
        if not can_advance(ActionStatus(current), new):
            continue
        values: dict[str, Any] = {"status": new, "updated_at": at}
        if new is ActionStatus.DELIVERED:
            values["delivered_at"] = at
        else:
            values.update(failed_at=at, error_code=(error_code or FailureCode.BOUNCED)[:40])
        result = session.execute(
            update(Action).where(Action.id == action_id, Action.status == current)
            .values(**values).execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            continue  # a concurrent callback moved it first
        moved += 1
        row = _load_rows(session, [action_id])[0]
        kind = EventKind.ACTION_DELIVERED if new is ActionStatus.DELIVERED else EventKind.ACTION_FAILED
        code = None if new is ActionStatus.DELIVERED else values["error_code"]
        _add_event(session, row, kind, at, source=source, code=code)
        if new is ActionStatus.FAILED and contact_invalid:
            _mark_contact(session, row, at, code=values["error_code"], contact_invalid=True, opted_out=False,
                          source=source)
    return moved
