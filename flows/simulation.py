"""A simulated stretch of days: the relance day body runs for each day (as tasks of this one
flow run, so orchestration costs milliseconds, not a flow run per day), then the behaviour
model plays the debtors and the agents."""

from __future__ import annotations

from datetime import date, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows import runtime
from flows.relance_day import DayParameters, run_day, summary_rows
from flows.reporting import refresh_simulated_day


@flow(name="relance-simulation")
def simulate(start: date, days: int, seed: int = 7) -> dict:
    from channels.sandbox import SandboxChannel
    from models.enums import Channel
    from services.simulation import Simulation

    c = runtime.container()
    sim = Simulation(c, seed=seed)
    current = {"day": start}
    today = lambda: current["day"]  # noqa: E731 - the sandbox files land in the simulated day's folder
    outbox = c.settings.outbox_dir
    runtime.use_channels({
        Channel.SMS: SandboxChannel(Channel.SMS, outbox, fail_permanent=sim.bounced_recipients(), today=today),
        Channel.EMAIL: SandboxChannel(Channel.EMAIL, outbox, today=today),
        # Letters are recorded by the sandbox; the demo renders a sample print batch at the end
        # (WeasyPrint lays out about ten pages a second here: months of letters would take longer
        # than the whole simulation).
        Channel.LETTER: SandboxChannel(Channel.LETTER, outbox, today=today),
        Channel.CALL: SandboxChannel(Channel.CALL, outbox, today=today),
    })
    log = get_run_logger()
    try:
        for n in range(days):
            day = start + timedelta(days=n)
            current["day"] = day
            summary = run_day(DayParameters(as_of=sim.day_start(day)))
            sim.after_relance(day)
            refresh_simulated_day(day, sim.day_start(day) + timedelta(hours=12))  # the nightly reporting
            rows = {r["count"]: r["value"] for r in summary_rows(summary)}
            sim.report.per_day.append({"day": day.isoformat(), **rows})
            log.info("day %s: %s", day, rows)
            if runtime.on_day is not None:  # the CLI's progress bar
                runtime.on_day(n + 1, days)
    finally:
        runtime.use_channels(None)
    create_table_artifact(key="relance-simulation", table=sim.report.per_day,
                          description=f"{days} simulated days from {start}")
    r = sim.report
    return {"days": r.days, "payments": r.payments, "collected": str(r.collected), "promises": r.promises,
            "plans": r.plans, "disputes": r.disputes, "calls_answered": r.calls_answered,
            "calls_unanswered": r.calls_unanswered, "per_day": r.per_day}
