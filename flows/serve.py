"""Serve every deployment from one process (one machine, no work pool):

    prefect server start --background
    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.serve

The schedules are those of prefect.yaml (09:00 Monday to Saturday, Europe/Paris; hourly pass).
"""

from __future__ import annotations

from prefect import serve
from prefect.schedules import Cron

from flows.hourly import relance_hourly
from flows.relance_day import relance_day
from flows.relance_shards import relance_day_shard
from flows.reporting import reporting
from flows.scenario_flows import SCENARIO_FLOWS

MORNING = Cron("0 9 * * 1-6", timezone="Europe/Paris")


def main() -> None:
    deployments = [f.to_deployment(name=name, schedule=MORNING) for name, f in SCENARIO_FLOWS.items()]
    deployments.append(relance_hourly.to_deployment(name="relance-hourly",
                                                    schedule=Cron("15 8-20 * * 1-6", timezone="Europe/Paris")))
    deployments.append(relance_day.to_deployment(name="relance-day"))
    # Started by a sharded day (relance_day(shards=N)) through run_deployment; no schedule.
    deployments.append(relance_day_shard.to_deployment(name="relance-day-shard"))
    deployments.append(reporting.to_deployment(name="relance-reporting",
                                               schedule=Cron("30 1 * * *", timezone="Europe/Paris")))
    serve(*deployments)


if __name__ == "__main__":
    main()
