"""Remittance benchmark: N applied payments across C creditors remitted in one run.

    python benchmarks/remit_bench.py --payments 100000 --db sqlite
    python benchmarks/remit_bench.py --payments 100000 --db postgresql [--pdf]

Set-up (not measured): creditors with a mandate (12 % commission, 15.00 per file) and an IBAN,
one debtor and one dossier per two payments, and each payment with the journal entry that
services/payments.py books for it (TRUST_BANK / CREDITOR_PAYABLE; the memo lines are left out:
a remittance does not read them), bulk-inserted. Measured: `services.remittance.remit` (select
the due lines, fees, remittance rows and items, fee and remittance entries, CSV statements and
the pain.001 file; the PDF statements only with --pdf), then `services.books.check_invariants`.
PostgreSQL uses its own database (relance_remit_bench).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from _common import fresh_database, peak_rss_mib

BENCH_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/relance_remit_bench"
IBANS = ["FR7630004000010001234567830", "FR7630002000010009876543224", "FR7610107000010005551234574",
         "FR7630003000010001112223371"]
NOW = datetime(2025, 8, 1, 9, 0, tzinfo=UTC)
CHUNK = 10_000


def populate(container, payments: int, creditors: int) -> None:
    from sqlalchemy import insert

    from models.enums import DebtorKind, LedgerAccount, PaymentStatus
    from models.ledger import JournalEntry, LedgerLine
    from models.parties import Creditor, Debtor
    from models.dossiers import Dossier
    from models.payments import Payment

    dossiers = (payments + 1) // 2
    with container.engine.begin() as conn:
        conn.execute(insert(Creditor), [
            {"id": c + 1, "name": f"Créancier {c + 1}", "legal_name": f"Créancier {c + 1} SA",
             "iban": IBANS[c % len(IBANS)], "bic": None, "commission_rate": Decimal("0.12"),
             "fixed_fee_per_file": Decimal("15.00"), "remittance_delay_days": 30, "is_private_person": False,
             "retention_years": 5, "created_at": NOW} for c in range(creditors)])
        for start in range(0, dossiers, CHUNK):
            ids = range(start + 1, min(dossiers, start + CHUNK) + 1)
            conn.execute(insert(Debtor), [
                {"id": i, "creditor_id": i % creditors + 1, "external_ref": f"DEB-{i}", "kind": DebtorKind.PERSON,
                 "last_name": "Bench", "timezone": "Europe/Paris", "deceased": False, "created_at": NOW,
                 "updated_at": NOW} for i in ids])
            conn.execute(insert(Dossier), [
                {"id": i, "creditor_id": i % creditors + 1, "debtor_id": i, "external_ref": f"DOS-{i}",
                 "placed_on": date(2025, 1, 2), "amount_placed": Decimal("1000.00"), "created_at": NOW,
                 "updated_at": NOW} for i in ids])
        for start in range(0, payments, CHUNK):
            ids = range(start + 1, min(payments, start + CHUNK) + 1)
            amount = {i: Decimal(1000 + (i * 7919) % 40000) / 100 for i in ids}
            received = {i: date(2025, 7, 1) + timedelta(days=i % 31) for i in ids}
            conn.execute(insert(Payment), [
                {"id": i, "external_id": f"VIR-{i}", "dossier_id": (i + 1) // 2, "amount": amount[i],
                 "currency": "EUR", "received_on": received[i], "method": "transfer",
                 "status": PaymentStatus.APPLIED, "applied_at": NOW, "created_at": NOW} for i in ids])
            conn.execute(insert(JournalEntry), [
                {"id": i, "posted_on": received[i], "kind": "payment", "dossier_id": (i + 1) // 2,
                 "reference": str(i), "data": {}, "created_at": NOW} for i in ids])
            lines = []
            for i in ids:
                cred, dossier = ((i + 1) // 2) % creditors + 1, (i + 1) // 2
                lines.append({"entry_id": i, "account": LedgerAccount.TRUST_BANK, "creditor_id": cred,
                              "dossier_id": dossier, "amount": amount[i]})
                lines.append({"entry_id": i, "account": LedgerAccount.CREDITOR_PAYABLE, "creditor_id": cred,
                              "dossier_id": dossier, "amount": -amount[i]})
            conn.execute(insert(LedgerLine), lines)
        if container.engine.dialect.name == "postgresql":
            for table in ("creditor", "debtor", "dossier", "payment", "journal_entry"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")
            conn.exec_driver_sql("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--creditors", type=int, default=20)
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or a full URL")
    parser.add_argument("--pdf", action="store_true", help="also render the PDF statements")
    args = parser.parse_args()

    from app.bootstrap import bootstrap
    from app.settings import Settings
    from services.books import check_invariants
    from services.remittance import OfficeAccounts, remit

    work = Path(tempfile.mkdtemp(prefix="remit-bench-"))
    url = fresh_database(BENCH_PG if args.db in ("postgresql", "pg") else args.db, work)
    container = bootstrap(Settings(database_url=url))
    t = time.perf_counter()
    populate(container, args.payments, args.creditors)
    print(f"set-up: {args.payments:,} payments, {args.creditors} creditors ({time.perf_counter() - t:.1f} s)")

    office = OfficeAccounts(name="Cabinet Bench", trust_iban="FR7630006000011234567890189", trust_bic="AGRIFRPP",
                            fees_iban="FR7630003000010001112223371", fees_bic=None, address_lines=("1 RUE X", "75001 PARIS"))
    t = time.perf_counter()
    run = remit(container.uow, as_of=date(2025, 8, 1), now=NOW, office=office, out_dir=work / "out",
                write_pdf=args.pdf)
    elapsed = time.perf_counter() - t
    lines = sum(len(r.lines) for r in run.remittances)
    print(f"remit: {len(run.remittances)} remittances, {lines:,} payments in {elapsed:.1f} s "
          f"= {lines / elapsed:,.0f} payments/s; net {run.total_net} EUR, fees {run.fees_transfer} EUR")
    t = time.perf_counter()
    with container.uow() as uow:
        problems = check_invariants(uow)
    print(f"books check: {len(problems)} violation(s) in {time.perf_counter() - t:.1f} s")
    print(f"peak RSS {peak_rss_mib():.0f} MiB; files in {work / 'out'}")
    container.engine.dispose()


if __name__ == "__main__":
    main()
