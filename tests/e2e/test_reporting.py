"""The reporting flow under the Prefect harness, and `relance report` in every format, end to end
on the embedded default (SQLite) with the hand-computed world of tests/integration/reporting."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from tests.integration.reporting.world import at, build_world, d

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def world(relance_env):
    from flows import runtime

    c = runtime.container()
    build_world(c)
    return c


def _cli(*args):
    from app.cli import app

    return CliRunner().invoke(app, list(args))


def test_the_reporting_flow_rebuilds_the_table_and_leaves_a_table_artifact(prefect_harness, world):
    from prefect.artifacts import Artifact

    from flows.reporting import reporting
    from services.reporting import build_report

    result = reporting(full=True, as_of=at(d(10)))
    assert result["rows"] > 0 and result["days"] is None and result["campaigns"] == 1
    assert build_report(world.uow, campaign="printemps").total["collected"] == pytest.approx(1000)
    artifact = Artifact.get("relance-reporting")
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert table[0]["campaign"] == "printemps" and table[0]["collected"] == "1000.00"
    # The nightly pass: nothing changed since the rebuild, so only the lookback days.
    nightly = reporting(as_of=at(d(10), 23))
    assert nightly["days"] == [d(n).isoformat() for n in range(7, 11)]


def test_the_report_as_json_carries_the_totals_the_lines_and_the_variants(world):
    assert _cli("report", "refresh", "--full").exit_code == 0
    result = _cli("report", "--campaign", "printemps", "--by", "channel", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"]["collected"] == "1000.00" and data["total"]["recovery_rate"] == "0.2857"
    assert {ln["channel"]: ln["collected"] for ln in data["lines"]}["call"] == "400.00"
    assert [v["variant"] for v in data["variants"]] == ["champion", "challenger"]


def test_the_csv_lines_add_up_to_its_total_line(world):
    _cli("report", "refresh", "--full")
    result = _cli("report", "--by", "day", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    header, lines, total = rows[0], rows[1:-1], rows[-1]
    col = header.index("Encaissé")
    assert header[0] == "Jour" and total[0] == "Total"
    assert sum(float(r[col]) for r in lines) == pytest.approx(float(total[col])) == pytest.approx(1000)


def test_the_xlsx_workbook_holds_the_table_with_money_and_percent_formats(world, relance_env):
    from openpyxl import load_workbook

    _cli("report", "refresh", "--full")
    path = relance_env / "rapport.xlsx"
    result = _cli("report", "--campaign", "printemps", "--by", "variant", "--format", "xlsx", "--output", str(path))
    assert result.exit_code == 0, result.output
    ws = load_workbook(path).active
    header = [c.value for c in ws[2]]
    rows = {r[0]: r for r in ws.iter_rows(min_row=3, values_only=True)}
    assert rows["Champion"][header.index("Encaissé")] == pytest.approx(600)
    assert rows["Total"][header.index("Taux de recouvrement")] == pytest.approx(0.2857)
    assert ws.cell(3, header.index("Taux de recouvrement") + 1).number_format == "0.00%"


def test_the_html_report_is_self_contained_with_its_charts(world, relance_env):
    _cli("report", "refresh", "--full")
    path = relance_env / "rapport.html"
    result = _cli("report", "--campaign", "printemps", "--format", "html", "--output", str(path))
    assert result.exit_code == 0, result.output
    html = path.read_text(encoding="utf-8")
    assert html.count("<svg") >= 4 and "<polyline" in html
    assert "Champion / challenger" in html and "28,57 %" in html  # recovery rate, French format
    assert "<script" not in html and "src=" not in html and "href=" not in html  # nothing to fetch


def test_the_console_table_and_a_clear_error_for_an_unknown_campaign(world):
    _cli("report", "refresh", "--full")
    result = _cli("report", "--campaign", "printemps", "--by", "step")
    assert result.exit_code == 0, result.output
    assert "par étape" in result.stdout and "Champion / challenger" in result.stdout
    bad = _cli("report", "--campaign", "inconnue")
    assert bad.exit_code == 2 and "campagne inconnue" in bad.output
    assert _cli("report", "--format", "xlsx").exit_code == 2  # xlsx needs --output


def test_refreshing_after_each_simulated_day_gives_the_table_a_full_rebuild_gives(prefect_harness, relance_env):
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from flows import runtime
    from flows.simulation import simulate
    from models.reporting import ReportRow
    from services.campaigns import launch_campaign
    from services.portfolio_import import import_portfolio
    from services.reporting import build_report
    from services.reporting_build import MEASURES, rebuild_all
    from services.synthetic_portfolio import write_portfolio

    c = runtime.container()
    start = date(2026, 3, 2)
    path = write_portfolio(relance_env / "p.csv", 60, seed=3, as_of=start)
    import_portfolio(c.uow, path, creditor="Banque E2E", as_of=start, rejects_path=relance_env / "r.csv")
    launch_campaign(c.uow, runtime.catalogue(), name="sim", scenario="amiable-particulier",
                    now=datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Europe/Paris")), where="kind = person",
                    challenger="amiable-particulier-appel", challenger_percent=30)
    simulate(start=start, days=12, seed=3)

    def snapshot():
        cols = [ReportRow.day, ReportRow.creditor_id, ReportRow.campaign_id, ReportRow.scenario, ReportRow.step,
                ReportRow.channel, ReportRow.variant, *(getattr(ReportRow, m) for m in MEASURES)]
        with c.uow() as uow:
            return sorted(tuple(r) for r in uow.session.execute(select(*cols)).all())

    incremental = snapshot()
    total = build_report(c.uow, campaign="sim").total
    assert total["actions_sent"] > 0 and total["call_attempts"] > 0 and total["collected"] > 0, total.sums
    rebuild_all(c.uow, c.settings.reporting.policy(), now=datetime(2026, 3, 20, tzinfo=ZoneInfo("UTC")))
    assert incremental == snapshot()
