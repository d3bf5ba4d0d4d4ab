"""The relance day as a Prefect flow, end to end on the embedded default (SQLite, sandbox)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

pytestmark = [pytest.mark.e2e]
PARIS = ZoneInfo("Europe/Paris")


def test_a_launched_campaign_sends_its_first_steps_once_even_when_the_day_runs_twice(prefect_harness, relance_env):
    from flows import runtime
    from flows.relance_day import relance_day
    from models.enums import ActionStatus
    from models.outbox import Action
    from services.campaigns import launch_campaign
    from services.portfolio_import import import_portfolio
    from services.synthetic_portfolio import write_portfolio

    c = runtime.container()
    path = write_portfolio(relance_env / "p.csv", 40, seed=5, as_of=date(2026, 11, 20))
    import_portfolio(c.uow, path, creditor="Banque E2E", as_of=date(2026, 11, 20),
                     rejects_path=relance_env / "r.csv")
    morning = datetime(2026, 11, 26, 9, 0, tzinfo=PARIS)
    launch_campaign(c.uow, runtime.catalogue(), name="e2e", scenario="amiable-particulier", now=morning,
                    where="kind = person")
    first = relance_day(as_of=morning)
    assert first["plan"]["planned"] > 0
    sent_first = sum(d.get("sent", 0) for d in first["dispatch"].values())
    again = relance_day(as_of=morning)
    assert again["plan"]["planned"] == 0
    assert sum(d.get("sent", 0) for d in again["dispatch"].values()) == 0
    with c.uow() as uow:
        sent = uow.session.scalar(select(func.count()).select_from(Action).where(
            Action.status.in_([ActionStatus.SENT, ActionStatus.DELIVERED])))
    assert sent == sent_first > 0
    files = [p for p in (relance_env / "outbox").rglob("*") if p.is_file() and p.suffix in (".txt", ".eml")]
    assert len(files) == sum(first["dispatch"][ch].get("sent", 0) for ch in ("sms", "email"))


def test_the_cli_run_prints_the_counts(prefect_harness, relance_env):
    import json

    from typer.testing import CliRunner

    from app.cli import app

    result = CliRunner().invoke(app, ["run", "--as-of", "2026-11-26T09:00", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"planned", "deferred", "blocked", "sent", "failed"} <= set(data)


def test_the_cli_runs_a_sharded_day_in_process_without_a_server(prefect_harness, relance_env):
    import json

    from typer.testing import CliRunner

    from app.cli import app

    result = CliRunner().invoke(app, ["run", "--as-of", "2026-11-26T09:00", "--shards", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"planned", "sent", "failed"} <= set(data)
    refused = CliRunner().invoke(app, ["run", "--shards", "0"])
    assert refused.exit_code == 2
