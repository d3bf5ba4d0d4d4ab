"""Call queue benchmark: N call tasks on PostgreSQL, A agents claiming at once from a second
process (a thread per agent, each with its own connection, calling `claim_next` directly through
the database on loopback). Prints claim latency p50 / p95 / p99 / max and checks that no task
was claimed twice (from the agents' own answers and from the database).

    python benchmarks/queue_bench.py                          # 1,000,000 tasks, 50 agents
    python benchmarks/queue_bench.py --tasks 100000 --claims 5000
    python benchmarks/queue_bench.py --think 1 --claims 5000  # agents pause ~1 s between claims

Back to back (`--think 0`, the default) the 50 agents saturate the second process: its Python CPU
per claim (a handful of statements and a commit, ~4.5 ms) times 50 threads sharing one GIL is
the latency. With agents that pause between claims, as agents on calls do, the latency is the
claim's own cost.
The queue mixes priorities (callbacks at 100, most tasks at 0), open and past calling windows,
and tasks not yet due, as a day of planning leaves it. Target: p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

from _common import peak_rss_mib

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/relance_bench_queue"
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
WARM_UP = datetime(2000, 1, 1, tzinfo=UTC)


def seed(url: str, tasks: int, dossiers: int, workdir: Path) -> float:
    from sqlalchemy import text

    from _common import fresh_database
    from app.bootstrap import bootstrap
    from app.settings import Settings
    from services.portfolio_import import import_portfolio
    from services.synthetic_portfolio import write_portfolio

    fresh_database(url, workdir)
    src = workdir / "portfolio.csv"
    write_portfolio(src, dossiers, seed=5)
    container = bootstrap(Settings(database_url=url))
    import_portfolio(container.uow, src, creditor="Bench", as_of=date(2026, 11, 2),
                     rejects_path=workdir / "rejets.csv")
    t0 = time.perf_counter()
    with container.engine.begin() as conn:
        # Spread over the dossiers; 5 % callbacks at priority 100, 10 % priority 50; due times over
        # the last 8 hours, 2 % not yet due; windows of 3 hours, so the oldest have passed.
        conn.execute(text("""
            insert into call_task (idempotency_key, dossier_id, debtor_id, kind, script, priority, due_at,
                                   window_end, status, attempts, created_at, updated_at)
            select 'bench:' || g, d.id, d.debtor_id,
                   case when g % 20 = 0 then 'callback' else 'scenario' end, 'call/particulier_relance',
                   case when g % 20 = 0 then 100 when g % 10 = 1 then 50 else 0 end,
                   :now - make_interval(secs => (g * 7919 % 28800)) + case when g % 50 = 7 then interval '2 hours' else interval '0' end,
                   :now - make_interval(secs => (g * 7919 % 28800)) + interval '3 hours',
                   'open', 0, :now, :now
            from generate_series(1::bigint, :n) g
            join (select id, debtor_id, row_number() over (order by id) - 1 as rn from dossier) d
              on d.rn = g % :dossiers
        """), {"now": NOW, "n": tasks, "dossiers": dossiers})
        conn.execute(text("analyze call_task"))
        count = conn.scalar(text("select count(*) from call_task"))
    container.engine.dispose()
    assert count == tasks, (count, tasks)
    return time.perf_counter() - t0


def agents_process(url: str, agents: int, claims: int, out: Path, think: float = 0.0) -> None:
    """The second process: `agents` threads claiming until `claims` tasks are handed out; with
    `think` > 0 each agent pauses a random 0 to 2 x `think` seconds after a claim (the call)."""
    import random
    from app.bootstrap import bootstrap
    from app.settings import Settings
    from models.accounts import Role
    from services.accounts import Principal
    from services.call_queue import claim_next

    container = bootstrap(Settings(database_url=url))
    container.engine.dispose()
    from app.database import make_engine, make_session_factory

    engine = make_engine(url, pool_size=agents, max_overflow=0)
    container.engine, container.session_factory = engine, make_session_factory(engine)
    remaining = [claims]
    lock = threading.Lock()
    start = threading.Barrier(agents)

    def work(n: int):
        agent = Principal(n + 1, f"agent{n:02d}", Role.AGENT, None)
        pause = random.Random(n)
        got, latencies = [], []
        # Warm the connection as a running console's pool is warm: a claim "in the year 2000" finds
        # nothing due and no lease to take back, writes nothing, and leaves the claim's plans cached.
        with container.uow() as uow:
            assert claim_next(uow, agent, WARM_UP) is None
        start.wait()
        while True:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            t0 = time.perf_counter()
            with container.uow() as uow:
                task = claim_next(uow, agent, NOW)
            latencies.append(time.perf_counter() - t0)
            if task is None:
                break
            got.append(task.id)
            if think:
                time.sleep(pause.uniform(0, 2 * think))
        return got, latencies

    t0 = time.perf_counter()
    with ThreadPoolExecutor(agents) as pool:
        results = list(pool.map(work, range(agents)))
    elapsed = time.perf_counter() - t0
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.write_text(json.dumps({"elapsed": elapsed, "cpu": usage.ru_utime + usage.ru_stime,
                               "ids": [r[0] for r in results],
                               "latencies": [r[1] for r in results]}))
    engine.dispose()


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(p * 10) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--claims", type=int, default=20_000, help="claims made in all by the agents")
    parser.add_argument("--dossiers", type=int, default=5_000)
    parser.add_argument("--db", default=DEFAULT_URL, help="a PostgreSQL URL (the database is recreated)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds an agent spends between two claims (0: claim back to back, the "
                             "saturation test; real agents spend minutes on a call)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        agents_process(args.db, args.agents, args.claims, args.worker, args.think)
        return
    if not args.db.startswith("postgresql"):
        parser.error("the queue benchmark runs on PostgreSQL")

    workdir = Path(tempfile.mkdtemp(prefix="relance-queue-bench-"))
    seeded = seed(args.db, args.tasks, args.dossiers, workdir)
    out = workdir / "agents.json"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--worker", str(out), "--db", args.db, "--agents", str(args.agents),
                    "--claims", str(args.claims), "--think", str(args.think)], check=True)
    wall = time.perf_counter() - t0
    result = json.loads(out.read_text())
    ids = [i for per_agent in result["ids"] for i in per_agent]
    per_agent = [[x * 1000 for x in agent] for agent in result["latencies"]]
    lat = [x for agent in per_agent for x in agent]
    first = [agent[0] for agent in per_agent if agent]
    later = [x for agent in per_agent for x in agent[1:]]

    from sqlalchemy import text

    from app.database import make_engine

    engine = make_engine(args.db)
    with engine.connect() as conn:
        claimed = conn.execute(text("select id, leased_by from call_task where status = 'claimed'")).all()
    engine.dispose()
    owners = {row.id: row.leased_by for row in claimed}
    duplicates = len(ids) - len(set(ids))
    mismatched = sum(1 for n, per_agent in enumerate(result["ids"]) for i in per_agent
                     if owners.get(i) != f"agent{n:02d}")
    print(f"queue_bench tasks={args.tasks:,} agents={args.agents} claims={len(ids):,} think={args.think:g}s "
          f"(seeded in {seeded:.1f}s; agents process {wall:.1f}s wall)")
    print(f"  claim latency ms : p50 {pct(lat, 50):6.1f}  p95 {pct(lat, 95):6.1f}  p99 {pct(lat, 99):6.1f}  "
          f"max {max(lat):6.1f}")
    if later:
        print(f"  first claims     : p50 {pct(first, 50):6.1f}  max {max(first):6.1f}  (each agent's first claim, "
              f"all {len(first)} in the same instant)")
        print(f"  later claims     : p50 {pct(later, 50):6.1f}  p95 {pct(later, 95):6.1f}  p99 {pct(later, 99):6.1f}  "
              f"max {max(later):6.1f}")
    print(f"  throughput       : {len(ids) / result['elapsed']:,.0f} claims/s "
          f"(agents process CPU {result['cpu']:.1f} s over {result['elapsed']:.1f} s of claiming)")
    print(f"  claimed twice    : {duplicates} (agents' answers); rows claimed in the database: {len(owners):,}, "
          f"owner mismatches: {mismatched}")
    print(f"  peak memory      : {peak_rss_mib():.0f} MiB (this process)")
    ok = duplicates == 0 and mismatched == 0 and len(owners) == len(ids)
    print("  check            :", "OK" if ok else "FAILED", "| p99 target 50 ms:",
          "met" if pct(lat, 99) < 50 else "NOT met")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
