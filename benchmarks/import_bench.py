"""Portfolio import benchmark: generate N synthetic rows, import them twice (the second import
changes nothing), print rows/s, CPU seconds and peak memory.

    python benchmarks/import_bench.py --rows 100000 --db sqlite
    python benchmarks/import_bench.py --rows 1000000 --db postgresql
    python benchmarks/import_bench.py --rows 20000 --db postgresql --profile /tmp/import.prof

CPU seconds are this process's plus its parser processes' (reaped at the end of each import),
printed as total (this process + parsers); on a local PostgreSQL the backends' CPU is printed
too (read from /proc). On a shared machine they compare runs better than wall-clock time.
`--profile FILE` runs both imports under cProfile (this process only, timed by its CPU time),
writes FILE.first and FILE.again, and prints the 25 heaviest functions of each by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from _common import fresh_database, peak_rss_mib


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process, and of its reaped children (the parser processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _server_cpu(url: str) -> float | None:
    """CPU seconds of the PostgreSQL backends connected to the bench's database (a local server's
    /proc), None elsewhere: the third share of an import's work, beside this process and its parsers."""
    if not url.startswith("postgresql"):
        return None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            pids = conn.execute(text("select pid from pg_stat_activity where datname = :db and pid <> pg_backend_pid()"),
                                {"db": make_url(url).database}).scalars().all()
    finally:
        engine.dispose()
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return None  # not a local server
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _timed(run, profile: Path | None):
    """(result, wall seconds, CPU seconds) of run(), under cProfile when `profile` is given."""
    # Timed by CPU, not wall clock: waits on the database and the parser process do not count.
    profiler = cProfile.Profile(time.process_time) if profile else None
    c0, t0 = _cpu(), time.perf_counter()
    if profiler:
        profiler.enable()
    result = run()
    if profiler:
        profiler.disable()
    wall, c1 = time.perf_counter() - t0, _cpu()
    cpu = (c1[0] - c0[0], c1[1] - c0[1])
    if profiler:
        profiler.dump_stats(profile)
        pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(25)
    return result, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="dossiers to generate")
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or a database URL")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=None,
                        help="parser processes (default: the import's own choice by file size)")
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats to FILE.first/.again")
    args = parser.parse_args()

    from app.bootstrap import bootstrap
    from app.settings import Settings
    from services.portfolio_import import import_portfolio
    from services.synthetic_portfolio import write_portfolio

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="relance-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = fresh_database(args.db, workdir)
    src = workdir / f"portfolio-{args.rows}.csv"
    t0 = time.perf_counter()
    write_portfolio(src, args.rows, seed=11)
    gen = time.perf_counter() - t0
    with open(src, encoding="utf-8") as fh:
        lines = sum(1 for _ in fh) - 1

    container = bootstrap(Settings(database_url=url))

    def run(rejects: str):
        return lambda: import_portfolio(container.uow, src, creditor="Bench", as_of=date(2026, 11, 2),
                                        rejects_path=workdir / rejects, chunk_rows=args.chunk,
                                        workers=args.workers)

    prof = args.profile
    report, elapsed, cpu = _timed(run("rejets.csv"), prof and prof.with_suffix(prof.suffix + ".first"))
    server = _server_cpu(url)  # the pool keeps its connection open between the two imports
    again, reimport, cpu2 = _timed(run("rejets2.csv"), prof and prof.with_suffix(prof.suffix + ".again"))
    server2 = _server_cpu(url)
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(f"import_bench backend={backend} dossiers={args.rows} lines={lines} "
          f"(file generated in {gen:.1f}s, {src.stat().st_size / 2**20:.0f} MiB)")
    print(f"  first import : {elapsed:8.1f} s  {lines / elapsed:10,.0f} rows/s  CPU {sum(cpu):6.1f} s ({cpu[0]:.1f} + {cpu[1]:.1f})  "
          f"created={report.created} rejected={report.rejected}")
    print(f"  re-import    : {reimport:8.1f} s  {lines / reimport:10,.0f} rows/s  CPU {sum(cpu2):6.1f} s ({cpu2[0]:.1f} + {cpu2[1]:.1f})  "
          f"created={again.created} updated={again.updated} unchanged={again.unchanged}")
    if server is not None and server2 is not None:
        print(f"  PostgreSQL backends CPU: first import {server:.1f} s, re-import {server2 - server:.1f} s")
    print(f"  peak memory  : {peak_rss_mib():8.0f} MiB (whole process)")
    with open("/proc/loadavg") as fh:
        print(f"  load average : {fh.read().split()[0]}")


if __name__ == "__main__":
    main()
