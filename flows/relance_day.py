"""The relance day: agreements evaluated, events reacted to, due steps planned into the outbox,
the outbox dispatched channel by channel, stuck sends reconciled. One flow run per day.

    relance run --as-of 2026-11-27T09:00   (in-process, Prefect's ephemeral API)
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flows.runtime import catalogue, channels, container, provider_throttle
from models.enums import Channel


def _retryable(task_, task_run, state) -> bool:
    """Retry database hiccups only; a bug or bad data fails at once."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - classifying, not handling
        from sqlalchemy.exc import OperationalError

        return isinstance(exc, OperationalError)
    return False


class DayParameters(BaseModel):
    as_of: datetime | None = None
    scenario: str | None = None
    dry_run: bool = False
    chunk: int = Field(default=2000, ge=100, le=50_000)
    shard: tuple[int, int] | None = None  # (index, count): this run plans dossier_id % count == index
    shards: int = Field(default=1, ge=1, le=256)  # >1: the day fans out to relance-day-shard runs
    shard_timeout: float = Field(default=3600, gt=0)  # seconds the day waits for its shards
    fan_out: Literal["auto", "deployments", "inline"] = "auto"  # see flows/relance_shards.py


@task(name="evaluate-agreements", cache_policy=NO_CACHE, retries=2, retry_condition_fn=_retryable)
def evaluate_agreements_task(now: datetime) -> dict:
    from services.agreements import evaluate_agreements

    from scenarios.language import Anchor

    c = container()
    plan_scenarios = [name for name, sc in catalogue().items() if sc.anchor is Anchor.INSTALLMENT]
    with c.uow() as uow:
        counts = evaluate_agreements(uow.session, as_of=now.date(), now=now, plan_scenarios=plan_scenarios)
        uow.commit()
    return dict(counts)


@task(name="process-events", cache_policy=NO_CACHE, retries=2, retry_condition_fn=_retryable)
def process_events_task(now: datetime) -> dict:
    from services.events import process_events

    return dict(process_events(container().uow, catalogue(), now=now))


@task(name="plan", cache_policy=NO_CACHE, retries=2, retry_condition_fn=_retryable)
def plan_task(now: datetime, scenario: str | None, chunk: int, dry_run: bool,
              shard: tuple[int, int] | None = None) -> dict:
    from services.relance_plan import plan_due

    report = plan_due(container().uow, catalogue(), now=now, scenario=scenario, chunk=chunk,
                      dry_run=dry_run, shard=shard)
    return report.as_dict()


@task(name="dispatch", cache_policy=NO_CACHE, retries=2, retry_condition_fn=_retryable)
def dispatch_task(now: datetime, channel: str) -> dict:
    from services.dispatch import dispatch

    report = dispatch(container().uow, channels(), now=now, channel=Channel(channel), throttle=provider_throttle())
    return _as_dict(report)


@task(name="archive", cache_policy=NO_CACHE, retries=2, retry_condition_fn=_retryable)
def archive_task(now: datetime) -> dict:
    from services.lifecycle import archive_closed

    c = container()
    report = archive_closed(c.uow, now=now, after_days=c.settings.archive_after_days)
    return {"archived": len(report.archived), **report.stopped}


@task(name="reconcile", cache_policy=NO_CACHE, retries=2, retry_condition_fn=_retryable)
def reconcile_task(now: datetime) -> dict:
    from services.dispatch import reconcile_sending

    return _as_dict(reconcile_sending(container().uow, channels(), now=now))


def _as_dict(report) -> dict:
    if isinstance(report, dict):
        return dict(report)
    if hasattr(report, "as_dict"):
        return report.as_dict()
    return {k: v for k, v in vars(report).items() if not k.startswith("_")}


def run_day(params: DayParameters) -> dict:
    """The body of a relance day, callable from any flow (the day flow, a scenario flow, the
    simulation). Returns the counts."""
    now = (params.as_of or datetime.now(timezone.utc)).astimezone(timezone.utc)
    if params.shards > 1 and not params.dry_run:
        from flows.relance_shards import run_sharded_day

        return run_sharded_day(params, now)
    summary: dict = {"as_of": now.isoformat(), "scenario": params.scenario, "dry_run": params.dry_run}
    if not params.dry_run:
        summary["agreements"] = evaluate_agreements_task(now)
        summary["events"] = process_events_task(now)
        summary["archive"] = archive_task(now)
    summary["plan"] = plan_task(now, params.scenario, params.chunk, params.dry_run, params.shard)
    if not params.dry_run:
        # Decisions of the planner (déchéance, promise checks) may emit events: react at once.
        summary["events_after_plan"] = process_events_task(now)
        summary["reconcile"] = reconcile_task(now)
        summary["dispatch"] = {ch.value: dispatch_task(now, ch.value)
                               for ch in (Channel.SMS, Channel.EMAIL, Channel.LETTER, Channel.CALL)}
    return summary


def summary_rows(summary: dict) -> list[dict]:
    plan = summary.get("plan", {})
    decisions = plan.get("decisions", {})
    sent = sum(d.get("sent", 0) for d in summary.get("dispatch", {}).values())
    failed = sum(d.get("failed", 0) for d in summary.get("dispatch", {}).values())
    return [
        {"count": "enrolments due", "value": plan.get("enrolments", 0)},
        {"count": "planned", "value": plan.get("planned", 0)},
        {"count": "deferred", "value": decisions.get("Deferred", 0)},
        {"count": "blocked", "value": decisions.get("Blocked", 0)},
        {"count": "ended", "value": sum(plan.get("ended", {}).values())},
        {"count": "sent", "value": sent},
        {"count": "failed", "value": failed},
    ]


@flow(name="relance-day", log_prints=False)
def relance_day(as_of: datetime | None = None, scenario: str | None = None, dry_run: bool = False,
                chunk: int = 2000, shards: int = 1, shard_timeout: float = 3600,
                fan_out: Literal["auto", "deployments", "inline"] = "auto") -> dict:
    params = DayParameters(as_of=as_of, scenario=scenario, dry_run=dry_run, chunk=chunk, shards=shards,
                           shard_timeout=shard_timeout, fan_out=fan_out)
    summary = run_day(params)
    create_table_artifact(key="relance-day", table=summary_rows(summary),
                          description=f"Relance day {summary['as_of']}" + (" (dry run)" if dry_run else ""))
    get_run_logger().info("relance day %s: %s", summary["as_of"], summary_rows(summary))
    return summary
