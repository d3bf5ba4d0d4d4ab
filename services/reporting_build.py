"""Rebuilding the reporting table (models/reporting.py), in full or day by day.

    rebuild_all(uow_factory, policy, *, now) -> RefreshReport
    refresh_days(uow_factory, policy, days, *, now) -> RefreshReport
    changed_days(uow_factory, *, since) -> set[date]

Set-based: one INSERT ... SELECT per run of consecutive days, over a UNION ALL of seven parts
grouped by day x creditor x campaign x scenario x step x channel x variant. A refresh deletes and
re-inserts its days in one transaction, so a reader never sees a half-built day, and a late
webhook or a late payment lands on the day it belongs to when that day is rebuilt.

Which day a fact belongs to (days are UTC calendar days; the office's working hours in
metropolitan France fall within one):
- an enrolment: the day the dossier entered the campaign (dossiers, amount placed, and the
  creditor's fixed fee per file, once per dossier: on its first enrolment);
- an action: the day it was handed to its provider (`sending_at`): attempted, then sent,
  delivered, failed as it stands now (a late delivery report corrects that day), SMS segments,
  letter pages and the cost the dispatcher recorded;
- a call attempt or a right-party contact: the day of the event; agent minutes are the event's
  `duration_seconds` when the console records it, else `minutes_per_attempt`; they go to the call
  step whose call task the event names;
- a promise: counted as made on `made_on`, and as due on `due_on` once resolved (kept, partly kept
  or broken; kept only when `kept`); a plan on `agreed_on`;
- a payment (applied, not reversed): on `received_on`, with the mandate's commission on it.

Attribution: a payment, a promise or a plan goes to the *last action sent* to the dossier
(status sent or delivered) within `attribution_days` before its day (same day included); that
action's campaign, scenario, step, channel and variant. Without one it goes to the dossier's
campaign enrolment of the time with empty scenario, step and channel (the "no action" bucket).
Each fact lands on exactly one row: totals never count it twice.
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import Date, bindparam, text

from models.types import UTCDateTime
from services.campaigns import CHALLENGER

log = logging.getLogger(__name__)

DIMENSIONS = ("day", "creditor_id", "campaign_id", "scenario", "step", "channel", "variant")
MEASURES = (
    "dossiers", "amount_placed", "actions_attempted", "actions_sent", "actions_delivered", "actions_failed",
    "sms_segments", "letter_pages", "call_attempts", "right_party_contacts", "agent_minutes",
    "promises_made", "promises_amount", "promises_due", "promises_kept", "plans_agreed", "plans_amount",
    "payments", "collected", "fees_earned", "cost_messages", "cost_agents",
)


@dataclass(frozen=True)
class ReportPolicy:
    attribution_days: int = 30
    minutes_per_attempt: Decimal = Decimal("3")
    cost_agent_minute: Decimal = Decimal("0.60")


@dataclass
class RefreshReport:
    days: list[date] | None  # None: the whole table
    rows: int
    seconds: float


# ------------------------------------------------------------------------------------------------
# SQL, written once, with the few expressions that differ between SQLite and PostgreSQL
# ------------------------------------------------------------------------------------------------


class _Dialect:
    def __init__(self, name: str):
        self.pg = name == "postgresql"

    def ts_day(self, col: str) -> str:
        """The UTC calendar day of a timestamp column."""
        return f"(({col}) AT TIME ZONE 'UTC')::date" if self.pg else f"date({col})"

    def day_start(self, day: str, offset: str) -> str:
        """Midnight UTC of `day` + `offset` days, comparable with timestamp columns."""
        if self.pg:
            return f"((({day}) + CAST({offset} AS integer))::timestamp AT TIME ZONE 'UTC')"
        return f"datetime({day}, printf('%+d days', {offset}))"

    def json_int(self, col: str, key: str) -> str:
        return f"(({col}) ->> '{key}')::bigint" if self.pg else f"CAST(json_extract({col}, '$.{key}') AS INTEGER)"

    def json_num(self, col: str, key: str) -> str:
        return f"(({col}) ->> '{key}')::numeric" if self.pg else f"json_extract({col}, '$.{key}')"


def _measures(given: dict[str, str]) -> str:
    unknown = set(given) - set(MEASURES)
    assert not unknown, unknown
    return ", ".join(f"{given.get(m, '0')} AS {m}" for m in MEASURES)


def _ts_range(col: str, bounded: bool) -> str:
    return f"{col} >= :start_ts AND {col} < :end_ts" if bounded else "1 = 1"


def _day_range(col: str, bounded: bool) -> str:
    return f"{col} >= :start_day AND {col} < :end_day" if bounded else "1 = 1"


def _attributed(d: _Dialect, *, source: str, day: str, attributed_on: str, where: str,
                measures: dict[str, str]) -> str:
    """A part whose facts (rows `x` of `source`) go to the last action sent to their dossier before
    them, else to the dossier's enrolment of the time. PostgreSQL looks both up with LATERAL joins
    (one index probe per fact); SQLite, which has no LATERAL, with correlated subqueries of ids."""
    action_window = f"""la.dossier_id = x.dossier_id AND la.sent_at IS NOT NULL
              AND la.sent_at < {d.day_start(attributed_on, '1')}
              AND la.sent_at >= {d.day_start(attributed_on, '-:window')}
              AND la.status IN ('sent', 'delivered')
            ORDER BY la.sent_at DESC, la.id DESC LIMIT 1"""
    enrolment_before = f"""le.dossier_id = x.dossier_id AND le.enrolled_at < {d.day_start(attributed_on, '1')}
            ORDER BY le.enrolled_at DESC, le.id DESC LIMIT 1"""
    dims = f"""{day} AS day, d.creditor_id AS creditor_id, COALESCE(a.campaign_id, e.campaign_id) AS campaign_id,
           COALESCE(a.scenario, '') AS scenario, COALESCE(a.step, '') AS step, COALESCE(a.channel, '') AS channel,
           COALESCE(a.variant, e.variant, '') AS variant, {_measures(measures)}"""
    if d.pg:
        return f"""
    SELECT {dims}
    FROM {source} x
    JOIN dossier d ON d.id = x.dossier_id
    JOIN creditor cr ON cr.id = d.creditor_id
    LEFT JOIN LATERAL (SELECT la.campaign_id, la.scenario, la.step, la.channel, la.variant FROM action la
            WHERE {action_window}) a ON true
    LEFT JOIN LATERAL (SELECT le.campaign_id, le.variant FROM enrolment le
            WHERE a.channel IS NULL AND {enrolment_before}) e ON true
    WHERE {where}
    GROUP BY 1, 2, 3, 4, 5, 6, 7"""
    return f"""
    SELECT {dims}
    FROM (SELECT s.*, CASE WHEN s.action_id IS NULL THEN (SELECT le.id FROM enrolment le
                 WHERE {enrolment_before.replace('x.', 's.')}) END AS enrolment_id
          FROM (SELECT x.*, (SELECT la.id FROM action la WHERE {action_window}) AS action_id
                FROM {source} x WHERE {where}) s) x
    JOIN dossier d ON d.id = x.dossier_id
    JOIN creditor cr ON cr.id = d.creditor_id
    LEFT JOIN action a ON a.id = x.action_id
    LEFT JOIN enrolment e ON e.id = x.enrolment_id
    GROUP BY 1, 2, 3, 4, 5, 6, 7"""


_ACTION_MEASURES = {
    "actions_attempted": "COUNT(*)",
    "actions_sent": "SUM(CASE WHEN a.sent_at IS NOT NULL THEN 1 ELSE 0 END)",
    "actions_delivered": "SUM(CASE WHEN a.status = 'delivered' THEN 1 ELSE 0 END)",
    "actions_failed": "SUM(CASE WHEN a.status = 'failed' THEN 1 ELSE 0 END)",
    "sms_segments": "SUM(CASE WHEN a.channel = 'sms' AND a.sent_at IS NOT NULL THEN COALESCE(a.segments, 1) ELSE 0 END)",
    "letter_pages": "SUM(CASE WHEN a.channel = 'letter' AND a.sent_at IS NOT NULL THEN COALESCE(a.pages, 1) ELSE 0 END)",
    "cost_messages": "SUM(a.cost)",
}


def _select_sql(d: _Dialect, bounded: bool) -> str:
    enrolments = f"""
    SELECT {d.ts_day('e.enrolled_at')} AS day, d.creditor_id AS creditor_id, e.campaign_id AS campaign_id,
           COALESCE(CASE WHEN e.variant = '{CHALLENGER}' THEN c.challenger_scenario ELSE c.scenario END, '') AS scenario,
           '' AS step, '' AS channel, e.variant AS variant,
           {_measures({
               "dossiers": "COUNT(*)", "amount_placed": "SUM(d.amount_placed)",
               "fees_earned": "SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM enrolment e0 WHERE e0.dossier_id = e.dossier_id"
                              " AND e0.id < e.id) THEN cr.fixed_fee_per_file ELSE 0 END)",
           })}
    FROM enrolment e JOIN dossier d ON d.id = e.dossier_id JOIN campaign c ON c.id = e.campaign_id
    JOIN creditor cr ON cr.id = d.creditor_id
    WHERE {_ts_range('e.enrolled_at', bounded)}
    GROUP BY 1, 2, 3, 4, 5, 6, 7"""

    # The creditor of an action is its campaign's when the campaign was launched for one creditor
    # (it then holds only that creditor's dossiers): the dossier is joined only for the others,
    # after a first aggregation, so ten million actions are not joined one by one.
    actions = f"""
    SELECT pre.day AS day, COALESCE(pre.campaign_creditor_id, d.creditor_id) AS creditor_id,
           pre.campaign_id AS campaign_id, pre.scenario AS scenario, pre.step AS step, pre.channel AS channel,
           pre.variant AS variant, {_measures({m: f"SUM(pre.{m})" for m in _ACTION_MEASURES})}
    FROM (SELECT {d.ts_day('a.sending_at')} AS day, c.creditor_id AS campaign_creditor_id,
                 CASE WHEN c.creditor_id IS NULL THEN a.dossier_id END AS dossier_id, a.campaign_id AS campaign_id,
                 COALESCE(a.scenario, '') AS scenario, COALESCE(a.step, '') AS step, a.channel AS channel,
                 COALESCE(a.variant, '') AS variant,
                 {", ".join(f"{sql} AS {m}" for m, sql in _ACTION_MEASURES.items())}
          FROM action a LEFT JOIN campaign c ON c.id = a.campaign_id
          WHERE a.sending_at IS NOT NULL AND {_ts_range('a.sending_at', bounded)}
          GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) pre
    LEFT JOIN dossier d ON d.id = pre.dossier_id
    GROUP BY 1, 2, 3, 4, 5, 6, 7"""

    minutes = (f"CASE WHEN x.kind = 'call_attempt' THEN COALESCE({d.json_num('x.data', 'duration_seconds')} / 60.0, "
               f"CAST(:minutes_per_attempt AS NUMERIC)) ELSE 0 END")
    call_dims = f"""{d.ts_day('x.occurred_at')} AS day, d.creditor_id AS creditor_id,
           COALESCE(a.campaign_id, e.campaign_id) AS campaign_id, COALESCE(a.scenario, '') AS scenario,
           COALESCE(a.step, '') AS step, 'call' AS channel, COALESCE(a.variant, e.variant, '') AS variant,
           {_measures({
               "call_attempts": "SUM(CASE WHEN x.kind = 'call_attempt' THEN 1 ELSE 0 END)",
               "right_party_contacts": "SUM(CASE WHEN x.kind = 'right_party_contact' THEN 1 ELSE 0 END)",
               "agent_minutes": f"ROUND(SUM({minutes}), 2)",
               "cost_agents": f"ROUND(SUM({minutes}) * CAST(:cost_agent_minute AS NUMERIC), 2)",
           })}"""
    call_events = f"x.kind IN ('call_attempt', 'right_party_contact') AND {_ts_range('x.occurred_at', bounded)}"
    enrolment_then = (f"le.dossier_id = x.dossier_id AND le.enrolled_at < "
                      f"{d.day_start(d.ts_day('x.occurred_at'), '1')} ORDER BY le.enrolled_at DESC, le.id DESC LIMIT 1")
    if d.pg:
        calls = f"""
    SELECT {call_dims}
    FROM dossier_event x
    JOIN dossier d ON d.id = x.dossier_id
    LEFT JOIN call_task t ON t.id = {d.json_int('x.data', 'call_task_id')}
    LEFT JOIN action a ON a.id = t.action_id
    LEFT JOIN LATERAL (SELECT le.campaign_id, le.variant FROM enrolment le
            WHERE a.id IS NULL AND {enrolment_then}) e ON true
    WHERE {call_events}
    GROUP BY 1, 2, 3, 4, 5, 6, 7"""
    else:
        calls = f"""
    SELECT {call_dims}
    FROM (SELECT s.*, CASE WHEN s.action_id IS NULL THEN (SELECT le.id FROM enrolment le
                 WHERE {enrolment_then.replace('x.', 's.')}) END AS enrolment_id
          FROM (SELECT x.*, t.action_id AS action_id FROM dossier_event x
                LEFT JOIN call_task t ON t.id = {d.json_int('x.data', 'call_task_id')}
                WHERE {call_events}) s) x
    JOIN dossier d ON d.id = x.dossier_id
    LEFT JOIN action a ON a.id = x.action_id
    LEFT JOIN enrolment e ON e.id = x.enrolment_id
    GROUP BY 1, 2, 3, 4, 5, 6, 7"""

    promises_made = _attributed(
        d, source="promise", day="x.made_on", attributed_on="x.made_on", where=_day_range("x.made_on", bounded),
        measures={"promises_made": "COUNT(*)", "promises_amount": "SUM(x.amount)"})
    promises_due = _attributed(
        d, source="promise", day="x.due_on", attributed_on="x.made_on",
        where=f"x.status IN ('kept', 'partly_kept', 'broken') AND {_day_range('x.due_on', bounded)}",
        measures={"promises_due": "COUNT(*)",
                  "promises_kept": "SUM(CASE WHEN x.status = 'kept' THEN 1 ELSE 0 END)"})
    plans = _attributed(
        d, source="payment_plan", day="x.agreed_on", attributed_on="x.agreed_on",
        where=_day_range("x.agreed_on", bounded),
        measures={"plans_agreed": "COUNT(*)", "plans_amount": "SUM(x.total)"})
    payments = _attributed(
        d, source="payment", day="x.received_on", attributed_on="x.received_on",
        where=f"x.status = 'applied' AND x.dossier_id IS NOT NULL AND {_day_range('x.received_on', bounded)}",
        measures={"payments": "COUNT(*)", "collected": "SUM(x.amount)",
                  "fees_earned": "SUM(ROUND(x.amount * cr.commission_rate, 2))"})

    parts = [enrolments, actions, calls, promises_made, promises_due, plans, payments]
    dims = ", ".join(DIMENSIONS)
    sums = ", ".join(f"SUM({m})" for m in MEASURES)
    union = "\n    UNION ALL\n".join(parts)
    return (f"INSERT INTO report_row ({dims}, {', '.join(MEASURES)}, refreshed_at)\n"
            f"SELECT {dims}, {sums}, :now FROM ({union}\n) u GROUP BY {dims}")


def _statement(dialect_name: str, bounded: bool):
    stmt = text(_select_sql(_Dialect(dialect_name), bounded))
    params = [bindparam("now", type_=UTCDateTime())]
    if bounded:
        params += [bindparam("start_ts", type_=UTCDateTime()), bindparam("end_ts", type_=UTCDateTime()),
                   bindparam("start_day", type_=Date()), bindparam("end_day", type_=Date())]
    return stmt.bindparams(*params)


def _policy_params(policy: ReportPolicy) -> dict:
    # Decimal parameters as strings: SQLite has no decimal type and the CASTs above take text.
    return {"window": policy.attribution_days, "minutes_per_attempt": str(policy.minutes_per_attempt),
            "cost_agent_minute": str(policy.cost_agent_minute)}


# ------------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------------


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), timezone.utc)


def day_runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as [start, end) runs: 1, 2, 3, 5 -> [1, 4), [5, 6)."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], day + timedelta(days=1))
        else:
            runs.append((day, day + timedelta(days=1)))
    return runs


def _tune(session) -> None:
    """PostgreSQL, for this transaction only: the rebuild's queries are short enough that JIT
    compilation costs more than it saves, and its aggregations need more than the default 4 MB."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '256MB'"))


def rebuild_all(uow_factory: Callable, policy: ReportPolicy, *, now: datetime) -> RefreshReport:
    """Delete and rebuild the whole table in one transaction."""
    started = _time.perf_counter()
    with uow_factory() as uow:
        s = uow.session
        _tune(s)
        s.execute(text("DELETE FROM report_row"))
        result = s.execute(_statement(s.get_bind().dialect.name, False), {"now": now, **_policy_params(policy)})
        uow.commit()
    seconds = _time.perf_counter() - started
    log.info("reporting rebuilt: %s rows in %.1f s", result.rowcount, seconds)
    return RefreshReport(None, result.rowcount, seconds)


def refresh_days(uow_factory: Callable, policy: ReportPolicy, days: Iterable[date], *,
                 now: datetime) -> RefreshReport:
    """Rebuild these days: each run of consecutive days is deleted and re-inserted in one transaction."""
    started = _time.perf_counter()
    days = sorted(set(days))
    rows = 0
    for start, end in day_runs(days):
        with uow_factory() as uow:
            s = uow.session
            _tune(s)
            s.execute(text("DELETE FROM report_row WHERE day >= :start_day AND day < :end_day")
                      .bindparams(bindparam("start_day", type_=Date()), bindparam("end_day", type_=Date())),
                      {"start_day": start, "end_day": end})
            result = s.execute(_statement(s.get_bind().dialect.name, True), {
                "now": now, "start_ts": _midnight(start), "end_ts": _midnight(end), "start_day": start,
                "end_day": end, **_policy_params(policy)})
            uow.commit()
            rows += result.rowcount
    seconds = _time.perf_counter() - started
    log.info("reporting refreshed: %s days, %s rows in %.1f s", len(days), rows, seconds)
    return RefreshReport(days, rows, seconds)


def changed_days(uow_factory: Callable, *, since: datetime) -> set[date]:
    """The days whose rows may have changed since `since`: actions updated (a late delivery report),
    payments recorded or reversed, promises made or resolved, plans agreed, enrolments, call events."""
    with uow_factory() as uow:
        s = uow.session
        d = _Dialect(s.get_bind().dialect.name)
        sql = f"""
            SELECT DISTINCT {d.ts_day('sending_at')} FROM action WHERE updated_at >= :since AND sending_at IS NOT NULL
            UNION SELECT received_on FROM payment WHERE created_at >= :since OR applied_at >= :since
            UNION SELECT p.received_on FROM journal_entry j JOIN payment p ON j.reference = CAST(p.id AS VARCHAR(64))
                  WHERE j.kind = 'reversal' AND j.created_at >= :since
            UNION SELECT made_on FROM promise WHERE created_at >= :since
            UNION SELECT due_on FROM promise WHERE resolved_on >= :since_day
            UNION SELECT agreed_on FROM payment_plan WHERE created_at >= :since
            UNION SELECT {d.ts_day('enrolled_at')} FROM enrolment WHERE enrolled_at >= :since
            UNION SELECT {d.ts_day('occurred_at')} FROM dossier_event
                  WHERE kind IN ('call_attempt', 'right_party_contact') AND occurred_at >= :since"""
        stmt = text(sql).bindparams(bindparam("since", type_=UTCDateTime()), bindparam("since_day", type_=Date()))
        values = s.execute(stmt, {"since": since, "since_day": since.astimezone(timezone.utc).date()}).scalars()
        return {v if isinstance(v, date) else date.fromisoformat(str(v)) for v in values if v is not None}


def last_refresh(uow_factory: Callable) -> datetime | None:
    from sqlalchemy import func, select

    from models.reporting import ReportRow

    with uow_factory() as uow:
        return uow.session.scalar(select(func.max(ReportRow.refreshed_at)))


def refresh_recent(uow_factory: Callable, policy: ReportPolicy, *, since: datetime, today: date,
                   lookback_days: int, now: datetime) -> RefreshReport:
    """The nightly refresh: every day changed since `since`, plus the last `lookback_days` days up to
    `today` (today included)."""
    days = changed_days(uow_factory, since=since)
    days |= {today - timedelta(days=n) for n in range(lookback_days + 1)}
    return refresh_days(uow_factory, policy, days, now=now)


def refresh_nightly(uow_factory: Callable, policy: ReportPolicy, *, now: datetime,
                    lookback_days: int) -> RefreshReport:
    """What changed since the last refresh, plus the last days. A last refresh in the future (a
    simulation's clock ran ahead) or none at all counts as "a day ago"."""
    since = last_refresh(uow_factory)
    if since is None or since > now:
        since = now - timedelta(days=1)
    return refresh_recent(uow_factory, policy, since=since, today=now.astimezone(timezone.utc).date(),
                          lookback_days=lookback_days, now=now)
