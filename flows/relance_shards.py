"""A relance day spread over several workers.

The day (flow `relance-day`, `shards` > 1) does the global steps itself: agreements, events,
archiving, reconciliation. It then starts one `relance-day-shard` run per shard; shard i plans the
due enrolments whose `dossier_id % shards == i` and dispatches. Different workers take different
shard runs from the work pool. Dispatch needs no shard filter: on PostgreSQL each batch is claimed
with `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent shards share the outbox without ever
taking the same row. When every shard is over, the day reacts to the events the planner emitted,
reconciles, and sends what is left (a shard that died mid-way leaves planned rows; a later pass,
or the rerun, takes them: nothing is lost, nothing is sent twice).

Where the shards run:
- `deployments`: `run_deployment("relance-day-shard/relance-day-shard")` on a Prefect server with
  workers (a process work pool, or `python -m flows.serve` on one machine);
- `inline`: sub-flows in this process, one after the other (ephemeral mode, SQLite, tests);
- `auto` (default): deployments when a server is configured and the deployment exists.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timezone

from prefect import flow, get_run_logger

from flows.relance_day import (DayParameters, archive_task, dispatch_task, evaluate_agreements_task, plan_task,
                               process_events_task, reconcile_task)
from models.enums import Channel

SHARD_DEPLOYMENT = "relance-day-shard/relance-day-shard"
CHANNELS = (Channel.SMS, Channel.EMAIL, Channel.LETTER, Channel.CALL)
_FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def worker_identity() -> dict:
    """Who ran a shard: shown in its log line and summary (RELANCE_WORKER_NAME, else the host)."""
    return {"worker": os.environ.get("RELANCE_WORKER_NAME") or socket.gethostname(),
            "pid": os.getpid(), "ppid": os.getppid()}


@flow(name="relance-day-shard", persist_result=True)
def relance_day_shard(as_of: datetime, shard_index: int, shard_count: int, scenario: str | None = None,
                      chunk: int = 2000) -> dict:
    """One shard of a relance day: plan its dossiers, then dispatch (claims skip locked rows)."""
    if not 0 <= shard_index < shard_count:
        raise ValueError(f"shard {shard_index} hors de 0..{shard_count - 1}")
    now = as_of.astimezone(timezone.utc)
    started = time.perf_counter()
    summary = {"shard": [shard_index, shard_count], **worker_identity()}
    summary["plan"] = plan_task(now, scenario, chunk, False, (shard_index, shard_count))
    summary["dispatch"] = {ch.value: dispatch_task(now, ch.value) for ch in CHANNELS}
    summary["seconds"] = round(time.perf_counter() - started, 3)
    get_run_logger().info("relance-day-shard %s", json.dumps(summary, sort_keys=True))
    return summary


def _server_has_shard_deployment() -> bool:
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return False  # ephemeral mode: no worker would ever take the runs
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(SHARD_DEPLOYMENT)
        return True
    except ObjectNotFound:
        return False


def _run_as_deployments(params: DayParameters, now: datetime) -> tuple[list[dict], list[str]]:
    from prefect.client.orchestration import get_client
    from prefect.context import get_run_context
    from prefect.deployments import run_deployment

    parent = get_run_context().flow_run.id
    runs = []
    for index in range(params.shards):
        runs.append(run_deployment(
            SHARD_DEPLOYMENT, timeout=0, as_subflow=True,
            parameters={"as_of": now.isoformat(), "shard_index": index, "shard_count": params.shards,
                        "scenario": params.scenario, "chunk": params.chunk},
            # A retried day does not start its shards twice.
            idempotency_key=f"{parent}:{index}/{params.shards}",
            flow_run_name=f"shard-{index}-of-{params.shards}",
        ))
    deadline = time.monotonic() + params.shard_timeout
    results, problems = [None] * len(runs), []
    pending = set(range(len(runs)))
    with get_client(sync_client=True) as client:
        while pending and time.monotonic() < deadline:
            for i in sorted(pending):
                run = client.read_flow_run(runs[i].id)
                if run.state is not None and run.state.type.value in _FINAL:
                    pending.discard(i)
                    if run.state.type.value != "COMPLETED":
                        problems.append(f"shard {i}: {run.state.name}")
                        continue
                    try:
                        results[i] = run.state.result(raise_on_failure=False)
                    except Exception:  # noqa: BLE001 - results kept on another machine's disk
                        results[i] = {"shard": [i, params.shards], "result": "unavailable"}
            if pending:
                time.sleep(1)
    problems += [f"shard {i}: still running after {params.shard_timeout:.0f} s" for i in sorted(pending)]
    return [r for r in results if isinstance(r, dict)], problems


def _run_inline(params: DayParameters, now: datetime) -> tuple[list[dict], list[str]]:
    results, problems = [], []
    for index in range(params.shards):
        try:
            results.append(relance_day_shard(as_of=now, shard_index=index, shard_count=params.shards,
                                             scenario=params.scenario, chunk=params.chunk))
        except Exception as exc:  # noqa: BLE001 - the other shards still run; the day fails at the end
            problems.append(f"shard {index}: {type(exc).__name__}")
    return results, problems


def _add(total: dict, part: dict) -> None:
    for key, value in part.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, dict):
            _add(total.setdefault(key, {}), value)


def run_sharded_day(params: DayParameters, now: datetime) -> dict:
    mode = params.fan_out
    if mode == "auto":
        mode = "deployments" if _server_has_shard_deployment() else "inline"
    summary: dict = {"as_of": now.isoformat(), "scenario": params.scenario, "dry_run": False,
                     "shards": params.shards, "fan_out": mode}
    summary["agreements"] = evaluate_agreements_task(now)
    summary["events"] = process_events_task(now)
    summary["archive"] = archive_task(now)
    summary["reconcile"] = reconcile_task(now)
    results, problems = (_run_as_deployments if mode == "deployments" else _run_inline)(params, now)
    summary["shard_runs"] = [{k: r.get(k) for k in ("shard", "worker", "pid", "seconds")} for r in results]
    plan: dict = {}
    dispatch: dict = {}
    for r in results:
        _add(plan, r.get("plan", {}))
        _add(dispatch, r.get("dispatch", {}))
    summary["events_after_plan"] = process_events_task(now)
    final = {ch.value: dispatch_task(now, ch.value) for ch in CHANNELS}
    _add(dispatch, final)
    summary["plan"], summary["dispatch"] = plan, dispatch
    if problems:
        raise RuntimeError("relance day incomplete, rerun it (nothing is sent twice): " + "; ".join(problems))
    return summary
