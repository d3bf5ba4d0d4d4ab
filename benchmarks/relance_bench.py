"""Relance day benchmark: plan a day over N active enrolments, run the whole day with sandbox
dispatch, and compare with the naive design (one Prefect task per dossier).

    python benchmarks/relance_bench.py --enrolments 100000 --db sqlite
    python benchmarks/relance_bench.py --enrolments 1000000 --db postgresql
    python benchmarks/relance_bench.py --enrolments 20000 --db sqlite --profile   (cProfile of planning)
    python benchmarks/relance_bench.py --enrolments 100000 --db postgresql --profile-day   (of dispatch)

The data (benchmarks/_relance_data.py) is written set-based straight into a fresh database, then
copied once per measured phase, so every phase starts from the same state. Each phase runs in its
own Python process, so its peak memory (getrusage) is its own and not the data generation's:

 1. planning   services.relance_plan.plan_due, called in-process (no Prefect);
 2. whole day  the relance_day flow (Prefect ephemeral mode; the server start-up is measured apart,
               with a trivial flow, and excluded) with sandbox channels for SMS, email and letters
               (letters are recorded as JSON by the sandbox: no PDF rendering in this figure);
 3. naive      one Prefect task per dossier, each planning one enrolment in its own transaction.

Phase 2 prints, per service call of the flow, the wall time and the user and system CPU time of
the thread that made it: on a shared machine the wall time follows the others' load and the system
time the others' disk work (creating a sandbox file costs 0.03 ms of kernel time on a quiet
machine, ten times more while other processes write), so compare runs by their user CPU time.
With --profile-day, each channel's dispatch is also profiled (cProfile, in its own thread).

--db postgresql uses its own database (relance_day_bench), not import_bench's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import fresh_database, peak_rss_mib

REPO = Path(__file__).resolve().parent.parent
BENCH_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/relance_day_bench"
DEFAULT_AS_OF = "2026-11-03T13:00:00+00:00"  # a Tuesday, 14:00 in Paris, no holiday anywhere

# The targets, as given: (active enrolments, backend, seconds).
PLAN_TARGET_PG = (1_000_000, "postgresql", 60.0)
PLAN_TARGET_SQLITE = (100_000, "sqlite", 30.0)
DAY_TARGET_PG = (1_000_000, "postgresql", 180.0)
MEMORY_TARGET_MIB = 1024.0


# ------------------------------------------------------------------------------------------------
# Child processes: one measured phase each, results written as JSON
# ------------------------------------------------------------------------------------------------


def _now(args) -> datetime:
    now = datetime.fromisoformat(args.as_of)
    if now.tzinfo is None:
        raise SystemExit("--as-of needs a UTC offset, e.g. 2026-11-03T13:00:00+00:00")
    return now.astimezone(UTC)


def _actions_of_run(engine, now: datetime) -> dict:
    """Outbox rows planned by this run (planned_at = now), by channel and by status."""
    from sqlalchemy import func, select

    from models.outbox import Action

    with engine.connect() as conn:
        rows = conn.execute(
            select(Action.channel, Action.status, func.count()).where(Action.planned_at == now)
            .group_by(Action.channel, Action.status)
        ).all()
    by_channel: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for channel, status, count in rows:
        by_channel[str(channel)] = by_channel.get(str(channel), 0) + count
        by_status[str(status)] = by_status.get(str(status), 0) + count
    return {"by_channel": by_channel, "by_status": by_status}


def _profile_tables(prof, limit: int = 10) -> dict:
    import pstats

    stats = pstats.Stats(prof)
    ours, everything = [], []
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        entry = {"where": f"{filename}:{line}({func})", "ncalls": ncalls, "tottime": tottime, "cumtime": cumtime}
        everything.append(entry)
        path = Path(filename)
        if path.is_absolute() and REPO in path.parents and ".venv" not in path.parts:
            entry = dict(entry, where=f"{path.relative_to(REPO)}:{line}({func})")
            ours.append(entry)
    ours.sort(key=lambda e: e["cumtime"], reverse=True)
    own_time = sorted(ours, key=lambda e: e["tottime"], reverse=True)
    everything.sort(key=lambda e: e["tottime"], reverse=True)
    return {"ours_cumulative": ours[:limit + 5], "ours_tottime": own_time[:limit],
            "all_tottime": everything[:limit]}


def phase_plan(args) -> dict:
    from app.bootstrap import bootstrap
    from app.settings import Settings
    from scenarios.catalogue import load_catalogue
    from services.relance_plan import plan_due

    now = _now(args)
    c = bootstrap(Settings(database_url=args.url))
    catalogue = load_catalogue()
    with c.engine.connect():
        pass  # the first connection, untimed
    rss_before = peak_rss_mib()
    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0, ru0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    report = plan_due(c.uow, catalogue, now=now, chunk=args.chunk)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    if prof is not None:
        prof.disable()
    result = {"wall": wall, "user": ru1.ru_utime - ru0.ru_utime, "sys": ru1.ru_stime - ru0.ru_stime,
              "report": report.as_dict(), "peak_rss_mib": peak_rss_mib(),
              "rss_before_mib": rss_before, "actions": _actions_of_run(c.engine, now)}
    if prof is not None:
        result["profile"] = _profile_tables(prof)
    c.engine.dispose()
    return result


def _server_peaks() -> list[dict]:
    """Peak RSS (VmHWM) of this process's children: the Prefect ephemeral API server."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(me):
            hwm = fields.get("VmHWM", "0 kB").split()[0]
            found.append({"pid": int(entry.name), "name": fields.get("Name", "").strip(),
                          "peak_rss_mib": int(hwm) / 1024})
    return found


def _prefect_start() -> tuple[float, float]:
    """(import prefect, first flow run incl. the ephemeral server start-up) in seconds."""
    t = time.perf_counter()
    from prefect import flow

    imported = time.perf_counter() - t

    @flow(name="bench-warmup")
    def warmup() -> int:
        return 1

    t = time.perf_counter()
    warmup()
    return imported, time.perf_counter() - t


def phase_day(args) -> dict:
    now = _now(args)
    imported, startup = _prefect_start()

    import services.agreements
    import services.dispatch
    import services.events
    import services.relance_plan
    from channels.sandbox import SandboxChannel
    from flows import runtime
    from flows.relance_day import relance_day
    from models.enums import Channel

    # Time each service call the flow's tasks make (the tasks import them at call time): wall time,
    # and the user and system CPU time of the calling thread (steadier on a shared machine than the
    # wall time; the system time of file creation varies with the machine's other disk work).
    timings: list[tuple[str, float, float, float]] = []
    profiles: dict[str, object] = {}

    def timed(module, name, label):
        original = getattr(module, name)

        def wrapper(*a, **kw):
            what = label(a, kw)
            prof = None
            if args.profile_day and what.startswith("dispatch"):
                import cProfile

                prof = cProfile.Profile()  # per call: it profiles the thread that calls it
                prof.enable()
            t, ru = time.perf_counter(), resource.getrusage(resource.RUSAGE_THREAD)
            try:
                return original(*a, **kw)
            finally:
                done = resource.getrusage(resource.RUSAGE_THREAD)
                timings.append((what, time.perf_counter() - t, done.ru_utime - ru.ru_utime,
                                done.ru_stime - ru.ru_stime))
                if prof is not None:
                    prof.disable()
                    profiles[what] = prof

        setattr(module, name, wrapper)

    timed(services.agreements, "evaluate_agreements", lambda a, kw: "evaluate_agreements")
    timed(services.events, "process_events", lambda a, kw: "process_events")
    timed(services.relance_plan, "plan_due", lambda a, kw: "plan_due")
    timed(services.dispatch, "reconcile_sending", lambda a, kw: "reconcile_sending")
    timed(services.dispatch, "dispatch", lambda a, kw: f"dispatch {Channel(kw.get('channel')).value}")

    outbox = Path(args.outbox)
    today = now.date()
    runtime.use_channels({
        Channel.SMS: SandboxChannel(Channel.SMS, outbox, today=lambda: today),
        Channel.EMAIL: SandboxChannel(Channel.EMAIL, outbox, today=lambda: today),
        Channel.LETTER: SandboxChannel(Channel.LETTER, outbox, today=lambda: today),
    })
    rss_before = peak_rss_mib()
    t0, ru0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    state = relance_day(as_of=now, chunk=args.chunk, return_state=True)
    wall = time.perf_counter() - t0
    flow_end = time.time()
    summary = state.result()
    files = {}
    for channel in ("sms", "email", "letter"):
        folder = outbox / channel / today.isoformat()
        files[channel] = sum(1 for e in os.scandir(folder) if not e.name.startswith(".")) if folder.is_dir() else 0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = {"user": ru1.ru_utime - ru0.ru_utime, "sys": ru1.ru_stime - ru0.ru_stime}
    return {"wall": wall, "cpu": cpu, "import_prefect": imported, "startup": startup, "summary": summary,
            "timings": timings, "profiles": {k: _profile_tables(p) for k, p in profiles.items()}, "peak_rss_mib": peak_rss_mib(), "rss_before_mib": rss_before,
            "server": _server_peaks(), "files": files, "flow_end": flow_end,
            "actions": _actions_of_run(runtime.container().engine, now)}


def phase_naive(args) -> dict:
    now = _now(args)

    from app.bootstrap import bootstrap
    from app.settings import Settings
    from models.campaigns import Enrolment
    from scenarios.catalogue import load_catalogue
    from scenarios.policy import DEFAULT_POLICY
    from services.relance_plan import _plan_chunk, due_enrolments_query

    c = bootstrap(Settings(database_url=args.url))
    catalogue = load_catalogue()
    with c.uow() as uow:
        ids = list(uow.session.scalars(
            due_enrolments_query(now).with_only_columns(Enrolment.id)
            .order_by(Enrolment.debtor_id, Enrolment.id).limit(2 * args.naive)
        ))
    in_prefect, plain = ids[:args.naive], ids[args.naive:]

    def plan_one_enrolment(enrolment_id: int) -> int:
        """The planner on one snapshot, in its own transaction (what one task per dossier does)."""
        with c.uow() as uow:
            row = uow.session.get(Enrolment, enrolment_id)
            part = _plan_chunk(uow.session, [row], catalogue, DEFAULT_POLICY, now)
            uow.commit()
        return part.planned

    # The same work without Prefect first, on other dossiers (before the Prefect server runs and
    # competes for the CPU): what one transaction per dossier costs by itself.
    t0 = time.perf_counter()
    planned_plain = sum(plan_one_enrolment(i) for i in plain)
    wall_plain = time.perf_counter() - t0

    imported, startup = _prefect_start()
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    plan_one_task = task(name="plan-one-dossier", cache_policy=NO_CACHE)(plan_one_enrolment)

    @flow(name="naive-relance-one-task-per-dossier")
    def naive(enrolment_ids: list[int]) -> int:
        return sum(plan_one_task(i) for i in enrolment_ids)

    rss_before = peak_rss_mib()
    t0 = time.perf_counter()
    planned = naive(in_prefect)
    wall = time.perf_counter() - t0
    flow_end = time.time()
    return {"wall": wall, "dossiers": len(in_prefect), "planned": planned, "import_prefect": imported,
            "startup": startup, "plain_wall": wall_plain, "plain_dossiers": len(plain),
            "plain_planned": planned_plain, "peak_rss_mib": peak_rss_mib(), "rss_before_mib": rss_before,
            "server": _server_peaks(), "flow_end": flow_end}


PHASES = {"plan": phase_plan, "day": phase_day, "naive": phase_naive}


def run_child(args) -> None:
    result = PHASES[args.phase](args)
    Path(args.result).write_text(json.dumps(result, default=str))
    sys.stdout.flush()
    sys.stderr.flush()


# ------------------------------------------------------------------------------------------------
# The parent: data, copies, phases, figures
# ------------------------------------------------------------------------------------------------


def _backend(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def _sqlite_path(url: str) -> Path:
    return Path(url.split("sqlite:///", 1)[1])


def clone(url: str, suffix: str) -> str:
    """A copy of the database, for one phase."""
    if _backend(url) == "sqlite":
        src = _sqlite_path(url)
        dst = src.with_name(f"{src.stem}-{suffix}.db")
        for extra in ("", "-wal", "-shm"):
            Path(f"{dst}{extra}").unlink(missing_ok=True)
        with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
            a.backup(b)
        a.close()
        b.close()
        return f"sqlite:///{dst}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"{parsed.database}_{suffix}"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
        conn.execute(text(f'create database "{name}" template "{parsed.database}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def drop(url: str) -> None:
    if _backend(url) == "sqlite":
        for extra in ("", "-wal", "-shm"):
            Path(f"{_sqlite_path(url)}{extra}").unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{parsed.database}" with (force)'))
    admin.dispose()


def child(phase: str, url: str, args, workdir: Path, extra: list[str] = ()) -> dict:
    result = workdir / f"{phase}.json"
    log = workdir / f"{phase}.log"
    result.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--url", url,
           "--result", str(result), "--as-of", args.as_of, "--chunk", str(args.chunk),
           "--naive", str(args.naive), "--outbox", str(workdir / "outbox"), *extra]
    env = dict(os.environ, RELANCE_DATABASE_URL=url,
               PREFECT_HOME=str(args.prefect_home or workdir / "prefect-home"),
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300",
               PREFECT_SERVER_ANALYTICS_ENABLED="false")  # no network here: no telemetry
    with open(log, "w") as out:
        proc = subprocess.run(cmd, check=False, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    exited = time.time()
    if proc.returncode != 0 or not result.exists():
        tail = log.read_text(errors="replace").splitlines()[-40:]
        print("\n".join(tail))
        raise SystemExit(f"phase {phase} failed (exit {proc.returncode}); log: {log}")
    data = json.loads(result.read_text())
    data["exited_at"] = exited
    data["log"] = str(log)
    return data


def _target_line(seconds: float, n: int, backend: str, target: tuple[int, str, float], what: str) -> str:
    size, target_backend, limit = target
    if n == size and backend == target_backend:
        verdict = "MET" if seconds < limit else "MISSED"
        return f"target {what} {size:,} on {target_backend} < {limit:.0f} s: {verdict}"
    share = limit * n / size
    verdict = "within" if seconds < share else "over"
    return (f"target {size:,} on {target_backend} < {limit:.0f} s (linear share at {n:,}: < {share:.1f} s, "
            f"{verdict})")


def _fmt_counts(d: dict) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enrolments", type=int, default=20_000, help="active enrolments (= dossiers)")
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or a database URL")
    parser.add_argument("--due-fraction", type=float, default=0.2, help="share of the enrolments due now")
    parser.add_argument("--naive", type=int, default=2000, help="dossiers for the one-task-per-dossier run")
    parser.add_argument("--dispatch", action=argparse.BooleanOptionalAction, default=True,
                        help="run the whole day with sandbox dispatch (phase 2)")
    parser.add_argument("--chunk", type=int, default=2000, help="plan_due chunk (enrolments per transaction)")
    parser.add_argument("--as-of", default=DEFAULT_AS_OF, help="the run's instant (aware ISO 8601)")
    parser.add_argument("--profile", action="store_true", help="cProfile the planning phase (slows it down)")
    parser.add_argument("--profile-day", action="store_true",
                        help="cProfile each channel's dispatch in the whole day (slows it down)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--prefect-home", type=Path, default=None,
                        help="PREFECT_HOME for the flows (default: a fresh one in the workdir)")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the sandbox outbox")
    # Internal: a child process running one phase.
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--outbox", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_child(args)
        return

    from _relance_data import check_catalogue, due_summary, generate

    from app.database import make_engine
    from scenarios.catalogue import load_catalogue

    now = _now(args)
    n = args.enrolments
    check_catalogue(load_catalogue())
    own_workdir = args.workdir is None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="relance-day-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(workdir / "outbox", ignore_errors=True)
    db = BENCH_PG if args.db in ("postgresql", "pg") else args.db
    t_setup = time.perf_counter()
    url = fresh_database(db, workdir)
    backend = _backend(url)
    print(f"relance_bench backend={backend} enrolments={n:,} due-fraction={args.due_fraction} "
          f"as_of={now.isoformat()} chunk={args.chunk} workdir={workdir}", flush=True)
    print("setup (data generation, not part of the measured figures):", flush=True)
    engine = make_engine(url)
    counts = generate(engine, n, now=now, due_fraction=args.due_fraction,
                      log=lambda line: print(line, flush=True))
    due = due_summary(engine, now)
    engine.dispose()
    t_copy = time.perf_counter()
    clones = {"plan": clone(url, "plan")}
    if args.dispatch:
        clones["day"] = clone(url, "day")
    copies = time.perf_counter() - t_copy
    setup = time.perf_counter() - t_setup
    due_total = sum(due["by_step"].values())
    print(f"  setup total  : {setup:8.1f} s  (of which {copies:.1f} s copying the database for each phase)")
    print(f"  rows         : {_fmt_counts(counts)}")
    print(f"  due now      : {due_total:,} of {n:,} active enrolments ({due_total / n:.1%}); by pending step "
          + ", ".join(f"{k}:{v:,}" for k, v in sorted(due["by_step"].items()))
          + f"; {due['debtors_with_two_due']:,} debtors with two due dossiers", flush=True)

    # 1. Planning ---------------------------------------------------------------------------------
    print(f"1. planning: plan_due over {n:,} active enrolments ({due_total:,} due), in-process, "
          f"one transaction per chunk of {args.chunk:,}{' [cProfile on: slower]' if args.profile else ''}",
          flush=True)
    plan = child("plan", clones["plan"], args, workdir, ["--profile"] if args.profile else [])
    rep = plan["report"]
    wall = plan["wall"]
    plan_target = PLAN_TARGET_PG if backend == "postgresql" else PLAN_TARGET_SQLITE
    print(f"  wall time    : {wall:8.1f} s   {_target_line(wall, n, backend, plan_target, 'planning + outbox')}")
    print(f"  CPU          : {plan['user']:8.1f} s user, {plan['sys']:.1f} s system (the planning process)")
    print(f"  throughput   : {rep['enrolments'] / wall:8,.0f} due enrolments/s   ({n / wall:,.0f} active enrolments/s)")
    print(f"  actions      : {rep['planned']:8,} written (by channel: {_fmt_counts(plan['actions']['by_channel'])}); "
          f"already planned {rep['already_planned']:,}")
    print(f"  decisions    : {_fmt_counts(rep['decisions'])}; ended: {_fmt_counts(rep['ended'])}")
    print(f"  peak memory  : {plan['peak_rss_mib']:8.0f} MiB (planning process; {plan['rss_before_mib']:.0f} MiB "
          f"before planning)   target < {MEMORY_TARGET_MIB:.0f} MiB: "
          f"{'MET' if plan['peak_rss_mib'] < MEMORY_TARGET_MIB else 'MISSED'}", flush=True)
    if args.profile:
        prof = plan["profile"]
        print("  profile, our code by cumulative time (cumtime s, tottime s, calls):")
        for e in prof["ours_cumulative"]:
            print(f"    {e['cumtime']:7.2f} {e['tottime']:7.2f} {e['ncalls']:>9,}  {e['where']}")
        print("  profile, our code by own time:")
        for e in prof["ours_tottime"]:
            print(f"    {e['cumtime']:7.2f} {e['tottime']:7.2f} {e['ncalls']:>9,}  {e['where']}")
        print("  profile, everything by own time:")
        for e in prof["all_tottime"]:
            print(f"    {e['cumtime']:7.2f} {e['tottime']:7.2f} {e['ncalls']:>9,}  {e['where']}")

    # 2. The whole day ----------------------------------------------------------------------------
    if args.dispatch:
        print("2. whole day: relance_day flow (Prefect ephemeral mode), sandbox channels: SMS and email "
              "files, letters as SandboxChannel(letter) JSON records (no PDF rendering in this figure); "
              "call steps become call tasks", flush=True)
        day = child("day", clones["day"], args, workdir, ["--profile-day"] if args.profile_day else [])
        wall = day["wall"]
        dispatch = day["summary"].get("dispatch", {})
        sent = sum(d.get("sent", 0) for d in dispatch.values())
        failed = sum(d.get("failed", 0) for d in dispatch.values())
        print(f"  Prefect      : import {day['import_prefect']:.1f} s; ephemeral API server start-up + trivial "
              f"flow {day['startup']:.1f} s (excluded)")
        print(f"  wall time    : {wall:8.1f} s   {_target_line(wall, n, backend, DAY_TARGET_PG, 'whole day')}")
        print(f"  sent         : {sent:8,} ({failed:,} failed)   {sent / wall:,.0f} sent/s; by channel: "
              + ", ".join(f"{ch} {d.get('sent', 0):,}" for ch, d in dispatch.items()))
        print(f"  planned      : {day['summary']['plan']['planned']:8,} actions; outbox after the run: "
              f"{_fmt_counts(day['actions']['by_status'])}; sandbox files: {_fmt_counts(day['files'])}")
        spent: dict[str, float] = {}
        user: dict[str, float] = {}
        system: dict[str, float] = {}
        for label, seconds, user_s, sys_s in day["timings"]:
            spent[label] = spent.get(label, 0.0) + seconds
            user[label] = user.get(label, 0.0) + user_s
            system[label] = system.get(label, 0.0) + sys_s
        inside = sum(spent.values())
        print("  where (wall) : " + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items())
              + f"; Prefect and the rest {wall - inside:.1f} s")
        print("  CPU user     : " + ", ".join(f"{k} {v:.2f} s" for k, v in user.items())
              + f"; flow process in all {day['cpu']['user']:.1f} s (every thread)")
        print("  CPU system   : " + ", ".join(f"{k} {v:.2f} s" for k, v in system.items())
              + f"; flow process in all {day['cpu']['sys']:.1f} s")
        for label, prof in day["profiles"].items():
            print(f"  profile of {label}, our code by cumulative time (cumtime s, tottime s, calls):")
            for e in prof["ours_cumulative"]:
                print(f"    {e['cumtime']:7.2f} {e['tottime']:7.2f} {e['ncalls']:>9,}  {e['where']}")
            print(f"  profile of {label}, everything by own time:")
            for e in prof["all_tottime"]:
                print(f"    {e['cumtime']:7.2f} {e['tottime']:7.2f} {e['ncalls']:>9,}  {e['where']}")
        print(f"  peak memory  : {day['peak_rss_mib']:8.0f} MiB (flow process; {day['rss_before_mib']:.0f} MiB before "
              f"the flow, Prefect loaded)   target < {MEMORY_TARGET_MIB:.0f} MiB: "
              f"{'MET' if day['peak_rss_mib'] < MEMORY_TARGET_MIB else 'MISSED'}")
        servers = ", ".join(f"{s['name']} {s['peak_rss_mib']:.0f} MiB" for s in day["server"]) or "none seen"
        print(f"  other procs  : Prefect API server (its own process, not counted above): {servers}; "
              f"process exit after the flow returned: {day['exited_at'] - day['flow_end']:.1f} s", flush=True)

    # 3. Naive ------------------------------------------------------------------------------------
    if args.naive > 0:
        print(f"3. naive design: one Prefect task per dossier (planner on one snapshot, own transaction), "
              f"{args.naive:,} dossiers in one flow, tasks called one after the other", flush=True)
        naive = child("naive", url, args, workdir)
        k = naive["dossiers"]
        per_naive = naive["wall"] / k if k else float("nan")
        per_plain = naive["plain_wall"] / naive["plain_dossiers"] if naive["plain_dossiers"] else float("nan")
        per_batched = plan["wall"] / rep["enrolments"] if rep["enrolments"] else float("nan")
        print(f"  wall time    : {naive['wall']:8.1f} s for {k:,} dossiers ({naive['planned']:,} actions); "
              f"process exit after the flow returned: {naive['exited_at'] - naive['flow_end']:.1f} s")
        print(f"  per dossier  : {per_naive * 1000:8.2f} ms naive (Prefect task + own transaction); "
              f"{per_plain * 1000:.2f} ms one transaction per dossier without Prefect "
              f"({naive['plain_dossiers']:,} dossiers); {per_batched * 1000:.3f} ms batched (phase 1)")
        print(f"  ratio        : naive / batched = {per_naive / per_batched:,.0f} x per dossier; "
              f"at {due_total:,} due dossiers the naive design would need about "
              f"{per_naive * due_total / 60:,.0f} min for planning alone")
        print(f"  peak memory  : {naive['peak_rss_mib']:8.0f} MiB", flush=True)

    if not args.keep:
        for u in clones.values():
            drop(u)
        drop(url)
        shutil.rmtree(workdir / "outbox", ignore_errors=True)
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"kept: {url}, {', '.join(clones.values())}, outbox {workdir / 'outbox'}")


if __name__ == "__main__":
    main()
