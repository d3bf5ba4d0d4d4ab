"""The hourly pass: react to new events (webhooks, agent outcomes, payments), then send what has
become due since the morning run (steps deferred to a later hour, overseas time zones, retries)."""

from __future__ import annotations

from datetime import datetime, timezone

from prefect import flow

from flows.relance_day import dispatch_task, process_events_task, reconcile_task
from models.enums import Channel


@flow(name="relance-hourly")
def relance_hourly(as_of: datetime | None = None) -> dict:
    now = (as_of or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {
        "events": process_events_task(now),
        "reconcile": reconcile_task(now),
        "dispatch": {ch.value: dispatch_task(now, ch.value) for ch in (Channel.SMS, Channel.EMAIL, Channel.CALL)},
    }
