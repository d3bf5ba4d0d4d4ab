"""Reporting benchmark: full rebuild and one-day refresh of the reporting table on PostgreSQL.

    python benchmarks/reporting_bench.py                                   (10,000,000 actions, 1,000,000 payments)
    python benchmarks/reporting_bench.py --actions 1000000 --payments 100000
    python benchmarks/reporting_bench.py --keep                            (reuse the data of the last run)

The data is generated set-based (INSERT ... SELECT generate_series) straight into its own database
(relance_reporting_bench), foreign-key triggers off during the load: one dossier per 10 actions,
20 campaigns with a challenger over 10 creditors, actions spread over 365 days on the four
channels (a tenth of them failed, half of the rest delivered), call attempts and right-party
contacts (one per 20 actions), promises (one per 5 payments), plans (one per 20 payments) and the
payments (2 % reversed). Then it measures:

 1. the full rebuild (services.reporting_build.rebuild_all);
 2. the refresh of one day (refresh_days on a day in the middle of the year), three times;
 3. the scan for days changed since a moment (changed_days), as the nightly flow runs it.

Targets (issue 7): full rebuild < 60 s, one day < 5 s, at 10,000,000 actions and 1,000,000 payments.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from _common import fresh_database, peak_rss_mib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/relance_reporting_bench"
START = date(2026, 1, 1)
DAYS = 365
FULL_TARGET_S, DAY_TARGET_S = 60.0, 5.0


def _load(engine, actions: int, payments: int) -> dict[str, float]:
    from sqlalchemy import text

    dossiers = max(actions // 10, 10)
    t: dict[str, float] = {}
    p = {"dossiers": dossiers, "actions": actions, "payments": payments, "start": START, "days": DAYS,
         "events": max(actions // 20, 1), "promises": max(payments // 5, 1), "plans": max(payments // 20, 1)}
    steps = [
        ("creditors", """INSERT INTO creditor (id, name, is_private_person, commission_rate, fixed_fee_per_file,
                remittance_delay_days, retention_years, created_at)
            SELECT g, 'Créancier ' || g, false, 0.12 + g * 0.005, 3.50, 30, 5, now() FROM generate_series(1, 10) g"""),
        ("campaigns", """INSERT INTO campaign (id, name, scenario, challenger_scenario, challenger_percent, creditor_id,
                status, created_at)
            SELECT g, 'campagne-' || g, 'amiable-particulier', 'amiable-particulier-appel', 30, 1 + (g - 1) % 10, 'active', now()
            FROM generate_series(1, 20) g"""),
        ("debtors", """INSERT INTO debtor (id, creditor_id, external_ref, kind, last_name, deceased, timezone,
                created_at, updated_at)
            SELECT g, 1 + g % 10, 'D' || g, 'person', 'Débiteur', false, 'Europe/Paris', now(), now()
            FROM generate_series(1, :dossiers) g"""),
        ("dossiers", """INSERT INTO dossier (id, creditor_id, debtor_id, external_ref, status, placed_on, amount_placed,
                created_at, updated_at)
            SELECT g, 1 + g % 10, g, 'R' || g, 'active', :start, 50 + (g::bigint * 7919) % 4950, now(), now()
            FROM generate_series(1, :dossiers) g"""),
        ("enrolments", """INSERT INTO enrolment (id, campaign_id, dossier_id, debtor_id, variant, active, scenario,
                anchor_on, next_step, occurrence, cycle, status, cycles, enrolled_at, updated_at)
            SELECT g, 1 + g % 20, g, g, CASE WHEN (g * 31) % 100 < 30 THEN 'challenger' ELSE 'champion' END, true,
                   'amiable-particulier', :start, 0, 1, 1, 'active', '[]',
                   (:start + (g % 30))::timestamp AT TIME ZONE 'UTC' + interval '8 hours', now()
            FROM generate_series(1, :dossiers) g"""),
        ("actions", """INSERT INTO action (id, idempotency_key, enrolment_id, campaign_id, dossier_id, debtor_id,
                scenario, step, variant, channel, template, status, fallback, not_before, attempts, provider_id,
                segments, pages, cost, planned_at, sending_at, sent_at, delivered_at, failed_at, updated_at)
            SELECT g, 'k' || g, dd, 1 + dd % 20, dd, dd,
                   CASE WHEN ch = 'call' THEN 'amiable-particulier-appel' ELSE 'amiable-particulier' END,
                   ch || '-' || (g % 4), CASE WHEN (dd * 31) % 100 < 30 THEN 'challenger' ELSE 'champion' END,
                   ch, 't', st, false, ts, 1, 'prov-' || g,
                   CASE WHEN ch = 'sms' THEN 1 + g % 2 END, CASE WHEN ch = 'letter' THEN 1 + g % 3 END,
                   CASE ch WHEN 'sms' THEN 0.05 WHEN 'email' THEN 0.01 WHEN 'letter' THEN 2.59 ELSE 0 END,
                   ts, ts, CASE WHEN st <> 'failed' OR g % 3 = 0 THEN ts END,
                   CASE WHEN st = 'delivered' THEN ts + interval '2 minutes' END,
                   CASE WHEN st = 'failed' THEN ts + interval '3 minutes' END, ts
            FROM (SELECT g, 1 + (g * 7) % :dossiers AS dd,
                         (ARRAY['sms', 'email', 'letter', 'call'])[1 + g % 4] AS ch,
                         CASE WHEN g % 10 = 0 THEN 'failed' WHEN g % 2 = 0 THEN 'delivered' ELSE 'sent' END AS st,
                         (:start + ((g::bigint * :days) / :actions)::int)::timestamp AT TIME ZONE 'UTC'
                           + (g % 600) * interval '1 minute' + interval '7 hours' AS ts
                  FROM generate_series(1, :actions) g) x"""),
        ("events", """INSERT INTO dossier_event (dossier_id, kind, occurred_at, source, data)
            SELECT 1 + (g * 13) % :dossiers, CASE WHEN g % 3 = 0 THEN 'right_party_contact' ELSE 'call_attempt' END,
                   (:start + ((g::bigint * :days) / :events)::int)::timestamp AT TIME ZONE 'UTC' + interval '10 hours',
                   'agent', '{}'
            FROM generate_series(1, :events) g"""),
        ("promises", """INSERT INTO promise (dossier_id, amount, due_on, made_on, grace_days, paid, status, resolved_on,
                created_at)
            SELECT 1 + (g * 17) % :dossiers, 100, m + 10, m, 1, 0,
                   CASE WHEN m + 11 > :start + :days THEN 'open' WHEN g % 3 = 0 THEN 'broken' ELSE 'kept' END,
                   CASE WHEN m + 11 <= :start + :days THEN m + 11 END, now()
            FROM (SELECT g, :start + ((g::bigint * :days) / :promises)::int AS m FROM generate_series(1, :promises) g) x"""),
        ("plans", """INSERT INTO payment_plan (dossier_id, agreed_on, total, missed_allowed, status, created_at)
            SELECT 1 + (g * 19) % :dossiers, :start + ((g::bigint * :days) / :plans)::int, 600, 2, 'active', now()
            FROM generate_series(1, :plans) g"""),
        ("payments", """INSERT INTO payment (external_id, dossier_id, amount, currency, received_on, method, status,
                applied_at, created_at)
            SELECT 'P' || g, 1 + (g * 11) % :dossiers, 10 + (g * 37) % 490, 'EUR',
                   :start + ((g::bigint * :days) / :payments)::int, 'transfer',
                   CASE WHEN g % 50 = 0 THEN 'reversed' ELSE 'applied' END, now(), now()
            FROM generate_series(1, :payments) g"""),
    ]
    with engine.begin() as conn:
        conn.execute(text("SET session_replication_role = replica"))  # no FK triggers during the load
        for name, sql in steps:
            started = time.perf_counter()
            conn.execute(text(sql), {k: v for k, v in p.items() if f":{k}" in sql})
            t[name] = time.perf_counter() - started
            print(f"  generated {name:<10} {t[name]:6.1f} s", flush=True)
        conn.execute(text("SET session_replication_role = origin"))
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    print(f"  vacuum analyze      {time.perf_counter() - started:6.1f} s", flush=True)
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=10_000_000)
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--db", default=BENCH_PG, help="a PostgreSQL URL")
    parser.add_argument("--keep", action="store_true", help="reuse the data already in the database")
    args = parser.parse_args()

    from app.database import make_engine
    from services.reporting_build import ReportPolicy, changed_days, rebuild_all, refresh_days
    from services.unit_of_work import UnitOfWork
    from app.database import make_session_factory

    if not args.keep:
        print(f"generating {args.actions:,} actions and {args.payments:,} payments ...", flush=True)
        url = fresh_database(args.db, Path("."))
        engine = make_engine(url)
        started = time.perf_counter()
        _load(engine, args.actions, args.payments)
        print(f"  data ready in {time.perf_counter() - started:.1f} s", flush=True)
    else:
        engine = make_engine(args.db)
    factory = make_session_factory(engine)
    uow = lambda: UnitOfWork(factory)  # noqa: E731
    policy = ReportPolicy(attribution_days=30, minutes_per_attempt=Decimal("3"), cost_agent_minute=Decimal("0.60"))
    now = datetime.now(timezone.utc)

    full = rebuild_all(uow, policy, now=now)
    day = START + timedelta(days=DAYS // 2)
    one = [refresh_days(uow, policy, [day], now=now).seconds for _ in range(3)]
    week = refresh_days(uow, policy, [day + timedelta(days=n) for n in range(7)], now=now)
    started = time.perf_counter()
    changed = changed_days(uow, since=now - timedelta(hours=1))
    scan = time.perf_counter() - started

    print()
    print(f"reporting on PostgreSQL: {args.actions:,} actions, {args.payments:,} payments, "
          f"{args.actions // 10:,} dossiers over {DAYS} days")
    print(f"  full rebuild            {full.seconds:7.1f} s  ({full.rows:,} rows)   target < {FULL_TARGET_S:.0f} s"
          f" at 10M/1M: {'met' if full.seconds < FULL_TARGET_S else 'MISSED'}")
    print(f"  one-day refresh         {min(one):7.2f} s  (best of 3; runs {', '.join(f'{s:.2f}' for s in one)})"
          f"   target < {DAY_TARGET_S:.0f} s: {'met' if min(one) < DAY_TARGET_S else 'MISSED'}")
    print(f"  seven-day refresh       {week.seconds:7.2f} s")
    print(f"  changed-days scan       {scan:7.2f} s  ({len(changed)} days changed in the last hour)")
    print(f"  peak memory (this process) {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
