"""A sharded relance day on a real Prefect server (PostgreSQL) with two process workers.

Run it alone with `pytest -m cluster` (about 3 min with the default 5,000 dossiers;
RELANCE_CLUSTER_DOSSIERS=20000 for the issue's size). It needs PostgreSQL on 127.0.0.1:5432; the
Prefect server gets its own database (prefect_test_<relance test database>).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, _ensure_pg_database, _reset_schema
from tests.e2e.cluster import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.xdist_group("cluster")]
PARIS = ZoneInfo("Europe/Paris")
DOSSIERS = int(os.environ.get("RELANCE_CLUSTER_DOSSIERS", "5000"))
SHARDS = 4
DAY1 = datetime(2026, 11, 26, 9, 0, tzinfo=PARIS)  # a Thursday: the SMS of D0
DAY2 = datetime(2026, 11, 30, 9, 0, tzinfo=PARIS)  # the Monday after: the emails of D3


def _urls(worker_id: str) -> tuple[str, str]:
    base = make_url(PG_URL)
    suffix = "" if worker_id in ("master", "") else f"_{worker_id}"
    relance = base.set(database=f"{base.database}_cluster{suffix}").render_as_string(hide_password=False)
    prefect = base.set(drivername="postgresql+asyncpg", database=f"prefect_{base.database}{suffix}")
    return relance, prefect.render_as_string(hide_password=False)


def _file_keys(outbox: Path) -> Counter:
    """The idempotency key written in every SMS and email the sandbox provider accepted."""
    keys: Counter = Counter()
    for path in outbox.rglob("*"):
        if path.suffix not in (".txt", ".eml") or not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="ignore").splitlines()[:20]:
            if line.startswith(("Idempotency-Key:", "X-Relance-Idempotency-Key:")):
                keys[line.split(":", 1)[1].strip()] += 1
                break
    return keys


def _outbox_state(container):
    from models.enums import ActionStatus, Channel
    from models.outbox import Action

    with container.uow() as uow:
        s = uow.session
        by_status = dict(s.execute(select(Action.status, func.count()).group_by(Action.status)).all())
        sent_keys = set(s.scalars(select(Action.idempotency_key).where(
            Action.status == ActionStatus.SENT, Action.channel.in_([Channel.SMS, Channel.EMAIL]))))
        max_attempts = s.scalar(select(func.max(Action.attempts)))
    return {str(k): v for k, v in by_status.items()}, sent_keys, max_attempts


def _overdue(container, moment: datetime) -> int:
    from models.campaigns import Enrolment

    with container.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Enrolment).where(
            Enrolment.active, Enrolment.next_due_at <= moment))


def _sent_since(container, moment: datetime) -> int:
    from models.enums import ActionStatus
    from models.outbox import Action

    with container.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Action).where(
            Action.planned_at >= moment, Action.status == ActionStatus.SENT))


def test_a_sharded_day_on_two_workers_sends_each_action_once_and_survives_a_killed_worker(tmp_path, worker_id):
    from app.bootstrap import bootstrap
    from app.settings import Settings
    from scenarios.catalogue import load_catalogue
    from services.campaigns import launch_campaign
    from services.portfolio_import import import_portfolio
    from services.synthetic_portfolio import write_portfolio

    relance_url, prefect_url = _urls(worker_id)
    _ensure_pg_database(relance_url)
    _reset_schema(relance_url)
    outbox = tmp_path / "outbox"
    container = bootstrap(Settings(database_url=relance_url, outbox_dir=outbox))
    path = write_portfolio(tmp_path / "p.csv", DOSSIERS, seed=8, as_of=date(2026, 11, 20))
    import_portfolio(container.uow, path, creditor="Banque Cluster", as_of=date(2026, 11, 20),
                     rejects_path=tmp_path / "r.csv")
    launched = launch_campaign(container.uow, load_catalogue(), name="cluster", scenario="amiable-particulier",
                               now=DAY1, where="kind = person")
    assert launched.enrolled > DOSSIERS / 2

    cluster = Cluster(tmp_path / "cluster", relance_db_url=relance_url, prefect_db_url=prefect_url, outbox=outbox)
    day = None
    try:
        cluster.start_server()
        cluster.deploy()
        cluster.start_worker("w1", limit=2)
        cluster.start_worker("w2", limit=2)

        # Day 1: every due step handled once, by both workers together.
        first = cluster.run_day(DAY1.isoformat(), shards=SHARDS, timeout=600)
        assert first is not None, f"day 1 failed: see {cluster.logs}"
        assert first["fan_out"] == "deployments"
        assert sorted(r["shard"][0] for r in first["shard_runs"]) == list(range(SHARDS))
        assert {r["worker"] for r in first["shard_runs"]} == {"w1", "w2"}
        assert first["plan"]["enrolments"] == launched.enrolled
        statuses, sent_keys, _ = _outbox_state(container)
        assert set(statuses) <= {"sent"} and statuses["sent"] == first["plan"]["planned"] > 0
        keys = _file_keys(outbox)
        assert max(keys.values()) == 1 and set(keys) == sent_keys
        assert _overdue(container, DAY1) == 0

        # Day 2: a worker dies (SIGKILL, with its flow runs) in the middle; the rerun finishes it.
        day = cluster.start_day(DAY2.isoformat(), shards=SHARDS, shard_timeout=45)
        deadline = time.monotonic() + 300
        while _sent_since(container, DAY2) < 50 and time.monotonic() < deadline:
            time.sleep(0.2)
        cluster.kill_worker("w2")
        day.communicate(timeout=400)
        assert day.returncode != 0, "the day should report the shards it lost"
        day = None
        cluster.start_worker("w2", limit=2)
        rerun_at = DAY2 + timedelta(minutes=15)  # a later pass: stuck sends are old enough to reconcile
        rerun = cluster.run_day(rerun_at.isoformat(), shards=SHARDS, timeout=600)
        assert rerun is not None, f"rerun failed: see {cluster.logs}"

        statuses, sent_keys, max_attempts = _outbox_state(container)
        assert set(statuses) <= {"sent"}, statuses  # nothing left planned, sending or for review
        keys = _file_keys(outbox)
        assert max(keys.values()) == 1 and set(keys) == sent_keys  # one provider record per action
        assert max_attempts <= 2  # at most the claim lost with the worker, then one send
        assert _overdue(container, rerun_at) == 0  # every due enrolment was planned
    finally:
        if day is not None and day.poll() is None:
            from tests.e2e.cluster import kill_tree

            kill_tree(day)
        cluster.close()
        container.engine.dispose()
        shutil.rmtree(tmp_path / "cluster" / "prefect-home", ignore_errors=True)
