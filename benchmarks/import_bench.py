"""Portfolio import benchmark: generate N synthetic rows, import them, print rows/s and peak memory.

    python benchmarks/import_bench.py --rows 100000 --db sqlite
    python benchmarks/import_bench.py --rows 1000000 --db postgresql
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from _common import fresh_database, peak_rss_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="dossiers to generate")
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or a database URL")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--chunk", type=int, default=5000)
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
    t0 = time.perf_counter()
    report = import_portfolio(container.uow, src, creditor="Bench", as_of=date(2026, 11, 2),
                              rejects_path=workdir / "rejets.csv", chunk_rows=args.chunk)
    elapsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    again = import_portfolio(container.uow, src, creditor="Bench", as_of=date(2026, 11, 2),
                             rejects_path=workdir / "rejets2.csv", chunk_rows=args.chunk)
    reimport = time.perf_counter() - t1
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(f"import_bench backend={backend} dossiers={args.rows} lines={lines} "
          f"(file generated in {gen:.1f}s, {src.stat().st_size / 2**20:.0f} MiB)")
    print(f"  first import : {elapsed:8.1f} s  {lines / elapsed:10,.0f} rows/s  "
          f"created={report.created} rejected={report.rejected}")
    print(f"  re-import    : {reimport:8.1f} s  {lines / reimport:10,.0f} rows/s  "
          f"created={again.created} updated={again.updated} unchanged={again.unchanged}")
    print(f"  peak memory  : {peak_rss_mib():8.0f} MiB (whole process)")


if __name__ == "__main__":
    main()
