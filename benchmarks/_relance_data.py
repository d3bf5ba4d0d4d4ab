"""Synthetic data for the relance benchmark, written set-based straight into the database.

The CSV importer takes about ten minutes for a million dossiers on PostgreSQL; the planner only
needs the rows, so they are produced by `INSERT ... SELECT` over a number series
(`generate_series` on PostgreSQL, a recursive CTE on SQLite): a minute instead of ten.

Shape, for N dossiers (= N active enrolments in one campaign of `amiable-particulier`):

- dossiers come in blocks of 20 that belong to 17 debtors: 14 debtors with one dossier and 3 with
  two (about 18 % of the debtors hold two dossiers, so the per-debtor contact caps are exercised);
- every debtor has a valid mobile (1 % opted out of SMS, which sends step J0 to its email
  fallback), 85 % an email, every one a postal address (letters need one); 2 % live in La Réunion,
  2 % in Martinique, 4 % in Alsace-Moselle (their own holidays and time zones);
- each dossier has one consumer claim (10 % bearing legal interest), prescription far away;
- enrolments sit at every step of the scenario (SMS, email, call, letter, call, letter, call,
  escalation); whether an enrolment is due is decided per debtor (both dossiers of a debtor are
  due together): about `due_fraction` of them have `next_due_at` at local midnight today (due
  now), the others one to three days ahead;
- an enrolment past its first step has the action of its previous step in the outbox (`sent`),
  and call steps left call attempts (some with a right-party contact) in the timeline, so the
  contact history, the caps and the idempotency check all have real rows to read;
- every dossier has its `enrolled` event.

Everything is deterministic (hashes of the row numbers, no random generator).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, inspect, text

SCENARIO = "amiable-particulier"
# Step k of amiable-particulier: (name, offset_days, channel when every contact point is there,
# its template, the fallback channel and template). Checked against the catalogue at start-up.
STEPS = [
    ("sms_premier_contact", 0, "sms", "sms/premier_contact", "email", "email/premier_contact"),
    ("email_relance", 3, "email", "email/relance_particulier", "sms", "sms/relance_solde"),
    ("appel_j7", 7, "call", "call/particulier_relance", "email", "email/demande_contact"),
    ("premiere_relance", 10, "letter", "letter/premiere_relance", None, None),
    ("appel_j15", 15, "call", "call/particulier_relance", "email", "email/demande_contact"),
    ("mise_en_demeure", 21, "letter", "letter/mise_en_demeure", None, None),
    ("appel_apres_mise_en_demeure", 28, "call", "call/particulier_apres_mise_en_demeure", "email",
     "email/demande_contact"),
    ("transmission_judiciaire", 35, None, None, None, None),
]
# Share of the enrolments at each step, in percent (cumulated below); the last is the escalation.
STEP_WEIGHTS = [16, 14, 14, 14, 14, 12, 12, 4]
# debtor.id % 50 -> time zone and holiday subdivision (scenarios/calendars.py codes).
ZONES = {0: ("Indian/Reunion", "974"), 1: ("America/Martinique", "972"), 2: ("Europe/Paris", "57"),
         3: ("Europe/Paris", "6AE")}
DEFAULT_ZONE = ("Europe/Paris", None)

TABLES = ["creditor", "debtor", "contact_point", "dossier", "claim", "campaign", "enrolment", "action",
          "dossier_event"]


def check_catalogue(catalogue) -> None:
    """The step table above must be the catalogue's: the keys and templates depend on it."""
    steps = catalogue[SCENARIO].steps
    got = [(s.name, s.offset_days, s.channel and s.channel.value, s.template,
            s.fallback_channel and s.fallback_channel.value, s.fallback_template) for s in steps]
    if got != STEPS:
        raise SystemExit(f"benchmarks/_relance_data.py: the step table no longer matches {SCENARIO}.toml:\n{got}")


class _Dialect:
    """The few SQL spellings that differ between PostgreSQL and SQLite."""

    def __init__(self, name: str, today: date):
        self.pg = name == "postgresql"
        self.today = today.isoformat()

    def numbers(self, n: int) -> tuple[str, str]:
        """(prefix, FROM item) for the series i = 1..n."""
        if self.pg:
            return "", f"generate_series(1, {int(n)}) AS g(i)"
        return f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {int(n)}) ", "g"

    def day(self, days: str) -> str:
        """The date `today + days`."""
        if self.pg:
            return f"(DATE '{self.today}' + ({days}))"
        return f"date('{self.today}', ({days}) || ' days')"

    def instant(self, days: str, hours: str) -> str:
        """today 00:00 UTC + days + hours, as the column type stores it (SQLite: naive UTC text)."""
        if self.pg:
            return (f"(TIMESTAMPTZ '{self.today} 00:00:00+00' + ({days}) * INTERVAL '1 day'"
                    f" + ({hours}) * INTERVAL '1 hour')")
        return f"(datetime('{self.today} 00:00:00', ({days}) || ' days', ({hours}) || ' hours') || '.000000')"

    def pad(self, expr: str, width: int) -> str:
        if self.pg:
            return f"lpad(CAST({expr} AS TEXT), {width}, '0')"
        return f"printf('%0{width}d', {expr})"

    @property
    def newline(self) -> str:
        return "chr(10)" if self.pg else "char(10)"

    def json(self, value) -> str:
        literal = "'" + json.dumps(value).replace("'", "''") + "'"
        return f"CAST({literal} AS json)" if self.pg else literal


def _case(expr: str, mapping: dict, default: str = "NULL") -> str:
    whens = " ".join(f"WHEN {k} THEN {v}" for k, v in mapping.items())
    return f"(CASE {expr} {whens} ELSE {default} END)"


def _q(value) -> str:
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def _check_not_null(engine: Engine, table: str, columns: list[str]) -> None:
    """Every NOT NULL column of the live table without a default is given."""
    missing = [c["name"] for c in inspect(engine).get_columns(table)
               if not c["nullable"] and c.get("default") is None and not c.get("autoincrement")
               and c["name"] != "id" and c["name"] not in columns]
    if missing:
        raise AssertionError(f"{table}: NOT NULL columns without a value: {missing}")


def generate(engine: Engine, n: int, *, now: datetime, due_fraction: float = 0.2, log=print) -> dict[str, int]:
    """Fill an empty, migrated database with N enrolled dossiers (see the module docstring).
    Returns row counts per table."""
    if not 0 <= due_fraction <= 1:
        raise ValueError("due_fraction goes from 0 to 1")
    today = now.date()
    sql = _Dialect(engine.dialect.name, today)
    prefix, series = sql.numbers(n)
    due_cut = round(due_fraction * 10000)

    # UTC offsets of the zones on `today` (the benchmark's days are away from DST changes).
    offsets = {}
    for zone_name, _ in list(ZONES.values()) + [DEFAULT_ZONE]:
        noon = datetime.combine(today, datetime.min.time(), tzinfo=ZoneInfo(zone_name)) + timedelta(hours=12)
        offsets[zone_name] = int(noon.utcoffset().total_seconds() // 3600)
        later = noon + timedelta(days=5)
        if int(later.utcoffset().total_seconds() // 3600) != offsets[zone_name]:
            raise SystemExit(f"pick another --as-of: {zone_name} changes its UTC offset within days")

    tzi = "(d % 50)"
    zone_expr = _case(tzi, {k: _q(v[0]) for k, v in ZONES.items()}, _q(DEFAULT_ZONE[0]))
    region_expr = _case(tzi, {k: _q(v[1]) for k, v in ZONES.items()}, "NULL")
    midnight_hours = _case(tzi, {k: str(-offsets[v[0]]) for k, v in ZONES.items()}, str(-offsets[DEFAULT_ZONE[0]]))
    cumulated, total = [], 0
    for w in STEP_WEIGHTS:
        total += w
        cumulated.append(total)
    assert total == 100
    step_expr = "(CASE " + " ".join(f"WHEN hi % 100 < {c} THEN {k}" for k, c in enumerate(cumulated[:-1])) \
        + f" ELSE {len(STEPS) - 1} END)"
    offset_of = {k: str(s[1]) for k, s in enumerate(STEPS)}

    t0 = time.perf_counter()
    stamp = sql.instant("-40", "8")  # created_at of everything imported

    def run(conn, statement: str, label: str) -> None:
        t = time.perf_counter()
        # Colons in literals ("id:scenario:step:1") are not bind parameters.
        conn.execute(text(re.sub(r"(?<![:\w\\]):(?=\w)", r"\\:", statement)))
        log(f"    {label:<28} {time.perf_counter() - t:6.1f} s")

    with engine.begin() as conn:
        # One scratch row per dossier with every derived number, read by the inserts below.
        # d: debtor id (17 debtors per block of 20 dossiers, the last 6 dossiers in pairs).
        scratch = f"""
            {prefix}SELECT i, d, first, k, hi, hd,
                   CASE WHEN hd % 10000 < {due_cut} THEN 1 ELSE 0 END AS due,
                   CASE WHEN (hd / 10000) % 100 < 85 THEN 1 ELSE 0 END AS has_email,
                   CASE WHEN hd % 97 = 0 THEN 1 ELSE 0 END AS sms_opt_out,
                   CASE WHEN hd % 10000 < {due_cut} THEN 0 ELSE 1 + i % 3 END AS lag,
                   {_case('k', offset_of)} AS off,
                   {_case('k', {k: offset_of[k - 1] for k in range(1, len(STEPS))})} AS prev_off,
                   {zone_expr} AS tz, {region_expr} AS region, {midnight_hours} AS midnight_h
            FROM (
                SELECT i, d, first, hi, (d * 2246822519) % 999983 AS hd, {step_expr} AS k
                FROM (
                    SELECT i,
                           ((i - 1) / 20) * 17 + (CASE WHEN (i - 1) % 20 < 14 THEN (i - 1) % 20
                                                       ELSE 14 + ((i - 1) % 20 - 14) / 2 END) + 1 AS d,
                           CASE WHEN (i - 1) % 20 < 14 OR (i - 1) % 2 = 0 THEN 1 ELSE 0 END AS first,
                           (i * 2654435761) % 1000003 AS hi
                    FROM {series}
                ) AS a
            ) AS b"""
        conn.execute(text("DROP TABLE IF EXISTS bench_scratch"))
        run(conn, f"CREATE {'UNLOGGED ' if sql.pg else ''}TABLE bench_scratch AS {scratch}", "scratch numbers")

        cols = ["name", "legal_name", "is_private_person", "commission_rate", "fixed_fee_per_file",
                "remittance_delay_days", "retention_years", "address_block", "created_at"]
        _check_not_null(engine, "creditor", cols)
        run(conn, f"""INSERT INTO creditor (id, {', '.join(cols)}) VALUES (1, 'Banque Bench', 'Banque Bench SA',
            FALSE, 0.15, 0, 30, 5, '12 RUE DU COMMERCE' || {sql.newline} || '75015 PARIS', {stamp})""", "creditor")

        lasts = ["MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU",
                 "LAURENT", "SIMON", "MICHEL", "LEFEVRE", "LEROY", "ROUX", "DAVID", "PAYET"]
        firsts = [("M.", "Jean"), ("Mme", "Marie"), ("M.", "Pierre"), ("Mme", "Nathalie"), ("M.", "Michel"),
                  ("Mme", "Sylvie"), ("M.", "Luc"), ("Mme", "Anne")]
        last_expr = _case(f"(hd % {len(lasts)})", {k: _q(v.title()) for k, v in enumerate(lasts)})
        first_expr = _case(f"(hd % {len(firsts)})", {k: _q(v[1]) for k, v in enumerate(firsts)})
        civ_expr = _case(f"(hd % {len(firsts)})", {k: _q(v[0]) for k, v in enumerate(firsts)})
        cols = ["id", "creditor_id", "external_ref", "kind", "civility", "first_name", "last_name", "deceased",
                "timezone", "holiday_region", "created_at", "updated_at"]
        _check_not_null(engine, "debtor", cols)
        run(conn, f"""INSERT INTO debtor ({', '.join(cols)})
            SELECT d, 1, 'C' || {sql.pad('d', 8)}, 'person', {civ_expr}, {first_expr}, {last_expr}, FALSE,
                   tz, region, {stamp}, {stamp}
            FROM bench_scratch WHERE first = 1""", "debtor")

        cities = {0: "'97400 SAINT DENIS'", 1: "'97200 FORT DE FRANCE'", 2: "'57000 METZ'", 3: "'67000 STRASBOURG'"}
        address = (f"(UPPER({civ_expr} || ' ' || {first_expr} || ' ' || {last_expr}) || {sql.newline} || "
                   f"CAST(1 + hd % 180 AS TEXT) || ' RUE DE LA REPUBLIQUE' || {sql.newline} || "
                   f"{_case(tzi, cities, _q('69002 LYON'))})")
        cols = ["id", "debtor_id", "kind", "value", "line_type", "region", "rank", "valid", "consent_sms",
                "opt_out_sms_at", "source", "created_at", "updated_at"]
        _check_not_null(engine, "contact_point", cols)
        run(conn, f"""INSERT INTO contact_point ({', '.join(cols)})
            SELECT 3 * d - 2, d, 'phone', '+336' || {sql.pad('d', 8)}, 'mobile', 'FR', 0, TRUE, TRUE,
                   CASE WHEN sms_opt_out = 1 THEN {sql.instant('-20', '10')} END, 'import', {stamp}, {stamp}
            FROM bench_scratch WHERE first = 1""", "contact_point mobile")
        run(conn, f"""INSERT INTO contact_point ({', '.join(cols)})
            SELECT 3 * d - 1, d, 'email', 'debiteur' || CAST(d AS TEXT) || '@exemple.fr', NULL, NULL, 0, TRUE, TRUE,
                   NULL, 'import', {stamp}, {stamp}
            FROM bench_scratch WHERE first = 1 AND has_email = 1""", "contact_point email")
        run(conn, f"""INSERT INTO contact_point ({', '.join(cols)})
            SELECT 3 * d, d, 'address', {address}, NULL, 'FR', 0, TRUE, TRUE,
                   NULL, 'import', {stamp}, {stamp}
            FROM bench_scratch WHERE first = 1""", "contact_point address")

        principal = "CAST((2000 + (hi * 7) % 198000) / 100.0 AS NUMERIC(14, 2))"
        cols = ["id", "creditor_id", "debtor_id", "external_ref", "status", "placed_on", "amount_placed",
                "created_at", "updated_at"]
        _check_not_null(engine, "dossier", cols)
        run(conn, f"""INSERT INTO dossier ({', '.join(cols)})
            SELECT i, 1, d, 'B' || {sql.pad('i', 9)}, 'active', {sql.day('-40')}, {principal}, {stamp}, {stamp}
            FROM bench_scratch""", "dossier")

        legal = "(i % 10 = 0)"
        cols = ["id", "dossier_id", "invoice_ref", "nature", "principal", "costs", "indemnity", "issued_on",
                "due_date", "interest_mode", "interest_from", "principal_paid", "interest_paid", "costs_paid",
                "interest_accrued", "prescription_start", "prescription_years", "prescription_expires_on",
                "created_at", "updated_at"]
        _check_not_null(engine, "claim", cols)
        run(conn, f"""INSERT INTO claim ({', '.join(cols)})
            SELECT i, i, 'F' || {sql.pad('i', 9)}, 'consumer', {principal}, 0, 0, {sql.day('-160 - i % 60')},
                   {sql.day('-130 - i % 60')}, CASE WHEN {legal} THEN 'legal' ELSE 'none' END,
                   CASE WHEN {legal} THEN {sql.day('-100 - i % 60')} END, 0, 0, 0, 0,
                   {sql.day('-130 - i % 60')}, 2, {sql.day('600 - i % 60')}, {stamp}, {stamp}
            FROM bench_scratch""", "claim")

        cols = ["id", "name", "scenario", "challenger_percent", "status", "created_at"]
        _check_not_null(engine, "campaign", cols)
        run(conn, f"""INSERT INTO campaign ({', '.join(cols)})
            VALUES (1, 'bench-{SCENARIO}', '{SCENARIO}', 0, 'active', {sql.instant('-40', '9')})""", "campaign")

        # Due: the pending step falls due today (anchor = today - offset). Not due: 1 to 3 days ahead.
        cols = ["id", "campaign_id", "dossier_id", "debtor_id", "variant", "active", "scenario", "anchor_on",
                "next_step", "occurrence", "cycle", "status", "cycles", "next_due_at", "enrolled_at", "updated_at"]
        _check_not_null(engine, "enrolment", cols)
        run(conn, f"""INSERT INTO enrolment ({', '.join(cols)})
            SELECT i, 1, i, d, 'champion', TRUE, '{SCENARIO}', {sql.day('lag - off')}, k, 1, 1, 'active',
                   {sql.json([])}, {sql.instant('lag', 'midnight_h')}, {sql.instant('lag - off', '7')},
                   {sql.instant('lag - off', '7')}
            FROM bench_scratch""", "enrolment")

        # The previous step's action, sent on its day at 09:00 UTC (contact history, outbox size).
        prev = "k - 1"
        channel = (f"(CASE WHEN {prev} = 0 THEN (CASE WHEN sms_opt_out = 1 AND has_email = 1 THEN 'email' ELSE 'sms' END)"
                   f" WHEN {prev} = 1 THEN (CASE WHEN has_email = 1 THEN 'email' ELSE 'sms' END)"
                   f" WHEN {prev} IN (2, 4, 6) THEN 'call' ELSE 'letter' END)")
        template = (f"(CASE WHEN {prev} = 0 THEN (CASE WHEN sms_opt_out = 1 AND has_email = 1 "
                    f"THEN 'email/premier_contact' ELSE 'sms/premier_contact' END)"
                    f" WHEN {prev} = 1 THEN (CASE WHEN has_email = 1 THEN 'email/relance_particulier' "
                    f"ELSE 'sms/relance_solde' END)"
                    f" ELSE {_case(prev, {k: _q(STEPS[k][3]) for k in range(2, len(STEPS) - 1)})} END)")
        point = (f"(CASE WHEN {channel} = 'email' THEN 3 * d - 1 WHEN {channel} = 'letter' THEN 3 * d "
                 f"ELSE 3 * d - 2 END)")
        step_name = _case(prev, {k: _q(s[0]) for k, s in enumerate(STEPS)})
        sent_at = sql.instant("lag - off + prev_off", "9")
        cols = ["id", "idempotency_key", "enrolment_id", "campaign_id", "dossier_id", "debtor_id", "scenario",
                "step", "variant", "channel", "template", "contact_point_id", "status", "fallback", "not_before",
                "attempts", "provider_id", "segments", "cost", "planned_at", "sending_at", "sent_at", "updated_at"]
        _check_not_null(engine, "action", cols)
        run(conn, f"""INSERT INTO action ({', '.join(cols)})
            SELECT i, CAST(i AS TEXT) || ':{SCENARIO}:' || {step_name} || ':1', i, 1, i, d, '{SCENARIO}',
                   {step_name}, 'champion', {channel}, {template}, {point}, 'sent',
                   CASE WHEN {channel} <> {_case(prev, {k: _q(STEPS[k][2]) for k in range(len(STEPS) - 1)})}
                        THEN TRUE ELSE FALSE END,
                   {sent_at}, 1, 'hist-' || CAST(i AS TEXT), CASE WHEN {channel} = 'sms' THEN 1 END,
                   CASE WHEN {channel} = 'letter' THEN 2.59 WHEN {channel} = 'sms' THEN 0.045
                        WHEN {channel} = 'email' THEN 0.001 ELSE 0 END,
                   {sql.instant('lag - off + prev_off', '0')}, {sent_at}, {sent_at}, {sent_at}
            FROM bench_scratch WHERE k >= 1""", "action (history)")

        cols = ["dossier_id", "kind", "occurred_at", "source", "data", "processed_at"]
        _check_not_null(engine, "dossier_event", cols)
        enrolled_data = sql.json({"campaign_id": 1, "scenario": SCENARIO, "variant": "champion"})
        run(conn, f"""INSERT INTO dossier_event ({', '.join(cols)})
            SELECT i, 'enrolled', {sql.instant('lag - off', '7')}, 'scenario', {enrolled_data},
                   {sql.instant('lag - off', '7')}
            FROM bench_scratch""", "dossier_event enrolled")
        # Calls of the previous step: an attempt for half of them, a conversation for a tenth.
        called = "k - 1 IN (2, 4, 6)"
        run(conn, f"""INSERT INTO dossier_event ({', '.join(cols)})
            SELECT i, CASE WHEN i % 10 = 0 THEN 'right_party_contact' ELSE 'call_attempt' END,
                   {sql.instant('lag - off + prev_off', '10')}, 'agent', {sql.json({})},
                   {sql.instant('lag - off + prev_off', '10')}
            FROM bench_scratch WHERE {called} AND i % 2 = 0""", "dossier_event calls")
        conn.execute(text("DROP TABLE bench_scratch"))

        if sql.pg:
            for table in TABLES:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT COALESCE(MAX(id), 0) + 1 FROM \"{table}\"), false)"))
    if sql.pg:
        t = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        log(f"    {'vacuum analyze':<28} {time.perf_counter() - t:6.1f} s")
    log(f"    {'total':<28} {time.perf_counter() - t0:6.1f} s")
    with engine.connect() as conn:
        return {t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one() for t in TABLES}


def due_summary(engine: Engine, now: datetime) -> dict:
    """Due enrolments by pending step, debtors with two due dossiers (what the planner faces)."""
    pg = engine.dialect.name == "postgresql"
    bound = now if pg else now.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    with engine.connect() as conn:
        by_step = dict(conn.execute(text(
            "SELECT next_step, COUNT(*) FROM enrolment WHERE active AND next_due_at <= :now GROUP BY next_step"
            " ORDER BY next_step"), {"now": bound}).all())
        pairs = conn.execute(text(
            "SELECT COUNT(*) FROM (SELECT debtor_id FROM enrolment WHERE active AND next_due_at <= :now"
            " GROUP BY debtor_id HAVING COUNT(*) > 1) AS x"), {"now": bound}).scalar_one()
    return {"by_step": by_step, "debtors_with_two_due": pairs}
