"""The reporting flow: refreshes the reporting table and leaves a table artifact of the campaigns.

    relance-reporting                 nightly (prefect.yaml): days changed since the last refresh,
                                      plus the last RELANCE_REPORT_LOOKBACK_DAYS days
    relance-reporting full=true       the whole table
    relance-reporting days=[...]      these days
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.relance_day import _retryable
from flows.runtime import container


@task(name="refresh-reporting", cache_policy=NO_CACHE, retries=2, retry_condition_fn=_retryable)
def refresh_task(full: bool, days: list[date] | None, now: datetime) -> dict:
    from services.reporting_build import rebuild_all, refresh_days, refresh_nightly

    c = container()
    policy = c.settings.reporting.policy()
    if full:
        report = rebuild_all(c.uow, policy, now=now)
    elif days:
        report = refresh_days(c.uow, policy, days, now=now)
    else:
        report = refresh_nightly(c.uow, policy, now=now, lookback_days=c.settings.reporting.report_lookback_days)
    return {"days": None if report.days is None else [d.isoformat() for d in report.days],
            "rows": report.rows, "seconds": round(report.seconds, 2)}


@task(name="campaign-table", cache_policy=NO_CACHE)
def campaign_table() -> list[dict]:
    from services.report_export import report_records
    from services.reporting import build_report

    return report_records(build_report(container().uow, by="campaign"))


@flow(name="relance-reporting", log_prints=False)
def reporting(full: bool = False, days: list[date] | None = None, as_of: datetime | None = None) -> dict:
    now = (as_of or datetime.now(timezone.utc)).astimezone(timezone.utc)
    refreshed = refresh_task(full, days, now)
    table = campaign_table()
    what = "full rebuild" if full else f"{len(refreshed['days'] or [])} days"
    create_table_artifact(key="relance-reporting", table=table,
                          description=f"Reporting refreshed {now:%Y-%m-%d %H:%M} UTC ({what}, "
                                      f"{refreshed['rows']} rows, {refreshed['seconds']} s)")
    get_run_logger().info("reporting refreshed: %s, %s rows in %s s", what, refreshed["rows"], refreshed["seconds"])
    return {**refreshed, "campaigns": len(table) - 1}  # the last record is the total


@task(name="refresh-reporting-day", cache_policy=NO_CACHE, retries=2, retry_condition_fn=_retryable)
def refresh_simulated_day(day: date, now: datetime) -> dict:
    """The simulation's nightly refresh: what changed during the simulated `day` (its clock)."""
    from services.reporting_build import refresh_recent

    c = container()
    since = datetime.combine(day, datetime.min.time(), timezone.utc)
    report = refresh_recent(c.uow, c.settings.reporting.policy(), since=since, today=day, lookback_days=0, now=now)
    return {"days": len(report.days or []), "rows": report.rows}
