"""One Prefect flow per scenario of the catalogue, built from its declaration, so that every
scenario shows in the Prefect UI with its own runs, tasks and logs, and gets its own deployment
(prefect.yaml). Module attributes are named after the scenarios (`amiable_particulier`, ...)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.artifacts import create_table_artifact

from flows.relance_day import DayParameters, run_day, summary_rows
from scenarios.catalogue import load_catalogue


def make_scenario_flow(name: str, description: str):
    @flow(name=f"scenario-{name}", description=description)
    def scenario_flow(as_of: datetime | None = None, dry_run: bool = False, chunk: int = 2000) -> dict:
        summary = run_day(DayParameters(as_of=as_of, scenario=name, dry_run=dry_run, chunk=chunk))
        create_table_artifact(key=f"scenario-{name}", table=summary_rows(summary),
                              description=f"{name} {summary['as_of']}")
        return summary

    return scenario_flow


SCENARIO_FLOWS = {name: make_scenario_flow(name, sc.description) for name, sc in load_catalogue().items()}
for _name, _flow in SCENARIO_FLOWS.items():
    globals()[_name.replace("-", "_")] = _flow
