"""A sharded relance day in one process (the fallback without a server or workers): every due
step handled once across the shards, and the counts add up."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

pytestmark = [pytest.mark.e2e]
PARIS = ZoneInfo("Europe/Paris")


def test_a_sharded_day_plans_each_due_step_once_and_sends_it_once(prefect_harness, relance_env):
    from flows import runtime
    from flows.relance_day import relance_day
    from models.enums import ActionStatus
    from models.outbox import Action
    from services.campaigns import launch_campaign
    from services.portfolio_import import import_portfolio
    from services.synthetic_portfolio import write_portfolio

    c = runtime.container()
    path = write_portfolio(relance_env / "p.csv", 60, seed=11, as_of=date(2026, 11, 20))
    import_portfolio(c.uow, path, creditor="Banque Shards", as_of=date(2026, 11, 20),
                     rejects_path=relance_env / "r.csv")
    morning = datetime(2026, 11, 26, 9, 0, tzinfo=PARIS)
    launched = launch_campaign(c.uow, runtime.catalogue(), name="shards", scenario="amiable-particulier",
                               now=morning, where="kind = person")
    summary = relance_day(as_of=morning, shards=3)
    assert summary["fan_out"] == "inline"  # no relance-day-shard deployment on the test server
    assert sorted(r["shard"][0] for r in summary["shard_runs"]) == [0, 1, 2]
    assert summary["plan"]["enrolments"] == launched.enrolled
    with c.uow() as uow:
        s = uow.session
        actions = s.scalar(select(func.count()).select_from(Action))
        sent = s.scalar(select(func.count()).select_from(Action).where(Action.status == ActionStatus.SENT))
        per_dossier = s.execute(select(Action.dossier_id, Action.step, func.count())
                                .group_by(Action.dossier_id, Action.step).having(func.count() > 1)).all()
    assert summary["plan"]["planned"] == actions > 0 and per_dossier == []
    assert sum(d.get("sent", 0) for d in summary["dispatch"].values()) == sent
    files = [p for p in (relance_env / "outbox").rglob("*") if p.is_file() and p.suffix in (".txt", ".eml")]
    assert len(files) == summary["dispatch"]["sms"]["sent"] + summary["dispatch"]["email"]["sent"]
    again = relance_day(as_of=morning, shards=3)
    assert again["plan"]["planned"] == 0 and sum(d.get("sent", 0) for d in again["dispatch"].values()) == 0


def test_the_provider_throttle_takes_slots_from_a_prefect_global_limit_and_refuses_a_missing_one(
        prefect_harness, relance_env, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    from flows import runtime
    from models.enums import Channel

    monkeypatch.setenv("RELANCE_GLOBAL_RATE_LIMITS", "true")
    monkeypatch.setenv("RELANCE_GLOBAL_RATE_LIMIT_STEP", "5")
    runtime.container.cache_clear()
    throttle = runtime.provider_throttle()
    with get_client(sync_client=True) as client:
        try:
            client.delete_global_concurrency_limit_by_name("relance-sms")
        except Exception:  # noqa: BLE001 - not there yet
            pass
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name="relance-sms", limit=10, slot_decay_per_second=200))
    throttle(Channel.SMS, 40)  # 8 takes of 5 slots, freed at 200 a second
    with pytest.raises(Exception):
        throttle(Channel.EMAIL, 3)  # no relance-email limit: strict, never a silent "no limit"


def test_secret_settings_come_from_prefect_secret_blocks_unless_the_environment_sets_them(prefect_harness):
    from prefect.blocks.system import Secret

    from flows.secrets import load_secret_blocks

    Secret(value="a" * 32).save("relance-twilio-auth-token", overwrite=True)
    Secret(value="SG.from-block").save("relance-sendgrid-api-key", overwrite=True)
    env = {"RELANCE_PREFECT_SECRETS": "true", "RELANCE_SENDGRID_API_KEY": "SG.from-env"}
    filled = load_secret_blocks(env)
    assert "RELANCE_TWILIO_AUTH_TOKEN" in filled and env["RELANCE_TWILIO_AUTH_TOKEN"] == "a" * 32
    assert env["RELANCE_SENDGRID_API_KEY"] == "SG.from-env"  # the environment wins
    assert "RELANCE_POSTAL_API_CLIENT_SECRET" not in env  # no block, nothing set
    assert load_secret_blocks({"RELANCE_TWILIO_AUTH_TOKEN": ""}) == []  # off unless asked
