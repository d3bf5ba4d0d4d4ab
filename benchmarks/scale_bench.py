"""The same relance day on 1, 2 and 4 Prefect process workers: throughput of each.

    .venv/bin/python benchmarks/scale_bench.py                          # 20,000 dossiers, 1 2 4 workers
    .venv/bin/python benchmarks/scale_bench.py --dossiers 5000 --workers 1 2

A real install on loopback (tests/e2e/cluster.py): a Prefect server on PostgreSQL, a process work
pool, the relance-day-shard deployment of prefect.yaml, N workers each running one flow run at a
time (--limit 1). The portfolio is imported and the campaign launched once into a template
database; each run gets an identical copy (CREATE DATABASE ... TEMPLATE), so every worker count
plays exactly the same day: the D0 SMS (and fallbacks) of every enrolled person, with the
sandbox channels. The day's wall time includes the orchestration (a flow-run process per shard
starting Python, Prefect and the wiring: several seconds each on a small machine).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from benchmarks._common import fresh_database  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
DAY = datetime(2026, 11, 26, 9, 0, tzinfo=PARIS)
BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/relance_bench_scale"


def _admin(url: str):
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def copy_database(template_url: str, name: str) -> str:
    admin = _admin(template_url)
    template = make_url(template_url).database
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
        conn.execute(text(f'create database "{name}" template "{template}"'))
    admin.dispose()
    return make_url(template_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    admin = _admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{make_url(url).database}" with (force)'))
    admin.dispose()


def prepare(workdir: Path, dossiers: int) -> tuple[str, int]:
    from app.bootstrap import bootstrap
    from app.settings import Settings
    from scenarios.catalogue import load_catalogue
    from services.campaigns import launch_campaign
    from services.portfolio_import import import_portfolio
    from services.synthetic_portfolio import write_portfolio

    url = fresh_database(BASE, workdir)
    c = bootstrap(Settings(database_url=url, outbox_dir=workdir / "outbox"))
    path = write_portfolio(workdir / "p.csv", dossiers, seed=21, as_of=date(2026, 11, 20))
    started = time.perf_counter()
    import_portfolio(c.uow, path, creditor="Banque Bench", as_of=date(2026, 11, 20),
                     rejects_path=workdir / "r.csv")
    report = launch_campaign(c.uow, load_catalogue(), name="bench", scenario="amiable-particulier", now=DAY,
                             where="kind = person")
    print(f"prepared {dossiers} dossiers, {report.enrolled} enrolled in {time.perf_counter() - started:.0f} s",
          flush=True)
    c.engine.dispose()
    return url, report.enrolled


def sent_count(url: str) -> int:
    from models.enums import ActionStatus
    from models.outbox import Action

    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).select_from(Action.__table__).where(
            Action.__table__.c.status == ActionStatus.SENT.value))
    engine.dispose()
    return n


def run(workdir: Path, template_url: str, workers: int, shards: int, cluster_args: dict) -> dict:
    from tests.e2e.cluster import Cluster

    url = copy_database(template_url, f"relance_bench_scale_w{workers}")
    root = workdir / f"w{workers}"
    cluster = Cluster(root, relance_db_url=url, outbox=root / "outbox", **cluster_args)
    try:
        cluster.start_server()
        cluster.deploy()
        for n in range(workers):
            cluster.start_worker(f"w{n + 1}", limit=1)
        time.sleep(3)  # the workers register and poll
        started = time.perf_counter()
        summary = cluster.run_day(DAY.isoformat(), shards=shards, timeout=3600)
        wall = time.perf_counter() - started
    finally:
        cluster.close()
    if summary is None:
        raise SystemExit(f"the day failed with {workers} workers: see {root / 'logs'}")
    sent = sent_count(url)
    drop_database(url)
    per_worker: dict[str, float] = {}
    for r in summary["shard_runs"]:
        per_worker[r["worker"]] = per_worker.get(r["worker"], 0) + r["seconds"]
    return {"workers": workers, "wall": wall, "sent": sent, "per_worker": per_worker,
            "longest_shard": max(r["seconds"] for r in summary["shard_runs"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--prefect-db", default="postgresql+asyncpg://postgres@127.0.0.1:5432/prefect_bench_scale")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="relance-scale-"))
    try:
        template, enrolled = prepare(workdir, args.dossiers)
        results = []
        for n in args.workers:
            result = run(workdir, template, n, args.shards, {"prefect_db_url": args.prefect_db})
            results.append(result)
            busy = ", ".join(f"{w} {s:.0f} s" for w, s in sorted(result["per_worker"].items()))
            print(f"{n} worker(s): {result['sent']} actions sent in {result['wall']:.1f} s = "
                  f"{result['sent'] / result['wall']:.0f} actions/s (longest shard {result['longest_shard']:.0f} s; "
                  f"busy: {busy})", flush=True)
        base = results[0]["sent"] / results[0]["wall"]
        print("\nworkers | wall (s) | actions sent | actions/s | vs first")
        for r in results:
            rate = r["sent"] / r["wall"]
            print(f"{r['workers']:>7} | {r['wall']:>8.1f} | {r['sent']:>12} | {rate:>9.0f} | {rate / base:>7.2f}x")
        drop_database(template)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
