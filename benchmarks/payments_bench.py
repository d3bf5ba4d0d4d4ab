"""Payments benchmark: N payments read from a bank CSV, matched by their RF reference, applied
(interest, imputation, prescription, events), booked and receipted, through the same service as
`relance payments import` (services/payment_matching.import_payments, chunk-wise batch path).

    python benchmarks/payments_bench.py --payments 100000 --db postgresql
    python benchmarks/payments_bench.py --payments 1000000 --db postgresql      (the target: < 180 s)
    python benchmarks/payments_bench.py --payments 20000 --db sqlite --reimport

The N dossiers come from benchmarks/_relance_data.py (set-based: one consumer claim each, 10 %
bearing legal interest, every debtor with a postal address, 85 % with an email). Payment i goes
to dossier i: 20 % pay the whole principal of a claim without interest (paid in full, dossier
closed), the others pay 20,00 EUR (partial payment); 1 % carry no reference and a payer name
nobody has (suspense). The file is written first and not timed; the import is. --db postgresql
uses its own database (relance_payments_bench).

On PostgreSQL, from 20,000 payments, the import runs in two streams, one process each
(services/payment_streams.py); --streams 1 gives the one-stream import.

Besides wall-clock time it prints the CPU time of this process, of the stream processes and of
the PostgreSQL client backends serving them (read from /proc every 0.2 s while the import runs,
from a connection of its own: the server must run on this machine; autovacuum is left out): on
a shared machine, compare those, over several runs. --profile FILE runs the import under cProfile
(CPU time of this process only: use --streams 1 to see the import's own functions), saves the
stats to FILE and prints the 25 most expensive functions.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import tempfile
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from _common import fresh_database, peak_rss_mib

TARGET = (1_000_000, "postgresql", 180.0)
BENCH_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/relance_payments_bench"  # its own, not import_bench's
ACCOUNT = "FR7630006000011234567890189"


def principal_of(i: int) -> Decimal:
    """The principal _relance_data gives dossier i's claim."""
    hi = (i * 2654435761) % 1000003
    return Decimal(2000 + (hi * 7) % 198000) / 100


def write_statement(path: Path, n: int, day: str) -> None:
    from models.references import payment_reference

    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("identifiant;date;montant;reference;libelle;nom\n")
        for i in range(1, n + 1):
            if i % 100 == 7:
                fh.write(f"B{i:09d};{day};20,00;;VIREMENT;PAYEUR INCONNU {i}\n")
                continue
            amount = principal_of(i) if i % 5 == 1 and i % 10 != 0 else Decimal("20.00")
            fh.write(f"B{i:09d};{day};{str(amount).replace('.', ',')};{payment_reference(i, compact=True)};"
                     f"VIR SEPA;DEBITEUR {i}\n")


class ServerCpu:
    """CPU time the PostgreSQL backends spent for us, read from /proc (the server runs on this
    machine): on a shared machine wall-clock time measures the neighbours as much as the code.
    Read every 0.2 s while the import runs: the worker processes' backends end with them."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.conn = engine.connect() if engine.dialect.name == "postgresql" else None
        self.start = self._backends() if self.conn is not None else None
        self.last: dict[int, float] = dict(self.start or {})
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        if self.start is not None:
            self.thread.start()

    def _sample(self) -> None:
        while not self.stop.wait(0.2):
            seen = self._backends()
            if seen is not None:
                self.last.update(seen)

    def _backends(self) -> dict[int, float] | None:
        from sqlalchemy import text

        # Its own connection, left out (pooled ones would take turns with the import's); client
        # backends only (autovacuum's workers come and go on their own schedule).
        pids = self.conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                                      )).scalars().all()
        self.conn.rollback()  # a transaction would keep showing the same snapshot of the activity
        ticks = os.sysconf("SC_CLK_TCK")
        out = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            out[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        return out if out or not pids else None

    def describe(self) -> str:
        if self.start is None:
            return "database in this process"
        self.stop.set()
        self.thread.join()
        end = self._backends()
        self.conn.close()
        if end is None:
            return "PostgreSQL backends not readable"
        self.last.update(end)
        return f"PostgreSQL backends {sum(v - self.start.get(pid, 0.0) for pid, v in self.last.items()):.1f} s"


def children_cpu() -> float:
    """CPU time of the ended child processes (the import's stream workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compare(c, k: int, now) -> None:
    """The per-payment ORM path against the batch path, on payments of 1,00 EUR to open dossiers."""
    from sqlalchemy import select

    from models import Dossier
    from models.enums import DossierStatus
    from services.payment_batch import BatchPayment, apply_payments
    from services.payments import apply_payment

    with c.uow() as uow:
        open_ids = list(uow.session.scalars(select(Dossier.id).where(Dossier.status != DossierStatus.CLOSED)
                                            .order_by(Dossier.id).limit(2 * k)))
    day = now.date()
    t = time.perf_counter()
    with c.uow() as uow:
        for d in open_ids[:k]:
            apply_payment(uow.session, dossier_id=d, amount=Decimal("1.00"), received_on=day, method="transfer",
                          external_id=f"cmp-single-{d}", now=now, rates=c.rates)
        uow.commit()
    single = time.perf_counter() - t
    t = time.perf_counter()
    with c.uow() as uow:
        apply_payments(uow.session, [BatchPayment(d, Decimal("1.00"), day, "transfer", f"cmp-batch-{d}")
                                     for d in open_ids[k:]], now=now, rates=c.rates)
        uow.commit()
    batch = time.perf_counter() - t
    print(f"apply only, {k:,} payments: apply_payment one by one {k / single:,.0f}/s, "
          f"batch path {k / batch:,.0f}/s ({single / batch:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=TARGET[0])
    parser.add_argument("--db", default=TARGET[1], help="sqlite, postgresql or a full URL")
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--reimport", action="store_true", help="import the same file again (idempotence)")
    parser.add_argument("--streams", type=int, default=None,
                        help="concurrent streams of the import (1: sequential; default: the service's)")
    parser.add_argument("--compare", type=int, default=0, metavar="K",
                        help="then apply K more payments one by one with apply_payment and K with the batch path")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="profile the import with cProfile, dump the stats to FILE, print the top functions")
    args = parser.parse_args()

    from sqlalchemy import func, select

    from _relance_data import generate
    from app.bootstrap import bootstrap
    from app.settings import Settings
    from models import JournalEntry, LedgerLine, Payment
    from services.payment_matching import import_payments

    now = datetime(2026, 11, 3, 18, 0, tzinfo=UTC)
    work = Path(tempfile.mkdtemp(prefix="payments-bench-"))
    url = fresh_database(BENCH_PG if args.db in ("postgresql", "pg") else args.db, work)
    c = bootstrap(Settings(database_url=url))
    print(f"data: {args.payments:,} dossiers on {c.engine.dialect.name}")
    t = time.perf_counter()
    generate(c.engine, args.payments, now=now, log=lambda *_: None)
    print(f"  generated in {time.perf_counter() - t:.1f} s")
    path = work / "releve.csv"
    t = time.perf_counter()
    write_statement(path, args.payments, now.date().strftime("%d/%m/%Y"))
    print(f"  statement written in {time.perf_counter() - t:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)")

    t = time.perf_counter()
    marks = {"done": 0, "last": t}

    def progress(n: int) -> None:
        # Every 20 chunks: the rate of the last ones, to see that it holds as the tables grow.
        # (The streams report parts of chunks: print when a multiple of 20 chunks is passed.)
        before = marks["done"] // (20 * args.chunk)
        marks["done"] += n
        if marks["done"] // (20 * args.chunk) > before:
            now_t = time.perf_counter()
            print(f"  {marks['done']:>9,} payments, last {20 * args.chunk / (now_t - marks['last']):,.0f}/s")
            marks["last"] = now_t

    server = ServerCpu(c.engine)
    cpu, children = time.process_time(), children_cpu()
    streams = {} if args.streams is None else {"streams": args.streams}
    profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU time: the machine is shared
    if profiler:
        profiler.enable()
    report = import_payments(c.uow, path, now=now, account=ACCOUNT, rates=c.rates, chunk=args.chunk,
                             progress=progress, **streams)
    if profiler:
        profiler.disable()
    cpu, children = time.process_time() - cpu, children_cpu() - children
    elapsed = time.perf_counter() - t
    print(f"import: {report.created:,} payments in {elapsed:.1f} s = {report.created / elapsed:,.0f} payments/s")
    print(f"  CPU: this process {cpu:.1f} s, its stream processes {children:.1f} s, {server.describe()} "
          f"(load {os.getloadavg()[0]:.1f})")
    print(f"  matched {dict(report.matched)}, suspense {report.unmatched:,}, paid in full {report.paid_in_full:,}, "
          f"quittances {report.quittances:,}")
    with c.uow() as uow:
        s = uow.session
        lines = s.scalar(select(func.count()).select_from(LedgerLine))
        entries = s.scalar(select(func.count()).select_from(JournalEntry))
        unbalanced = s.execute(select(LedgerLine.entry_id).group_by(LedgerLine.entry_id)
                               .having(func.sum(LedgerLine.amount) != 0).limit(1)).first()
        print(f"  books: {entries:,} journal entries, {lines:,} ledger lines, every entry balanced: {unbalanced is None}")
        assert s.scalar(select(func.count()).select_from(Payment)) == report.created
    if args.payments == TARGET[0] and c.engine.dialect.name == TARGET[1]:
        print(f"  target {TARGET[2]:.0f} s: {'met' if elapsed < TARGET[2] else 'MISSED'}")
    if args.reimport:
        t = time.perf_counter()
        again = import_payments(c.uow, path, now=now, account=ACCOUNT, rates=c.rates, chunk=args.chunk)
        print(f"re-import: {again.created} created, {again.duplicates:,} known, {time.perf_counter() - t:.1f} s")
    if args.compare:
        compare(c, args.compare, now)
    if profiler:
        profiler.dump_stats(args.profile)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    print(f"peak memory {peak_rss_mib():.0f} MiB")
    c.engine.dispose()


if __name__ == "__main__":
    main()
