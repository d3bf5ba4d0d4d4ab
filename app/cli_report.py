"""`relance report`: the rentability table, its exports and the HTML dashboard, and its refresh.

    relance report [--campaign NAME] [--by day|scenario|step|channel|variant|creditor|campaign]
                   [--from DATE] [--to DATE] [--format table|csv|xlsx|json|html] [--output FILE]
    relance report refresh [--full] [--day DATE ...]
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

report_app = typer.Typer(help="Rentabilité : tableau de bord, exports, champion / challenger.",
                         invoke_without_command=True)
console = Console()
err = Console(stderr=True)


class Format(str, Enum):
    table = "table"
    csv = "csv"
    xlsx = "xlsx"
    json = "json"
    html = "html"


def _fail(message: str) -> None:
    from app.cli import _fail as fail  # app.cli imports this module: its helpers are reached lazily

    fail(message)


def _day(value: str | None, label: str) -> date | None:
    from app.cli import _parse_day

    return _parse_day(value, label)


def _container():
    from app.cli import _container as container, _ensure_schema

    c = container()
    _ensure_schema(c)
    return c


@report_app.callback()
def report_cmd(
    ctx: typer.Context,
    campaign: Annotated[Optional[str], typer.Option(help="Une campagne (par défaut : toutes).")] = None,
    by: Annotated[str, typer.Option("--by", help="day | scenario | step | channel | variant | creditor | campaign")] = "channel",
    from_: Annotated[Optional[str], typer.Option("--from", help="Premier jour de la période (inclus).")] = None,
    to: Annotated[Optional[str], typer.Option("--to", help="Dernier jour de la période (inclus).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table | csv | xlsx | json | html")] = Format.table,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Fichier à écrire.")] = None,
):
    """Le tableau de rentabilité : recouvrement, liquidation, contacts, promesses, coût, rentabilité."""
    if ctx.invoked_subcommand is not None:
        return
    from services.reporting import ReportError, build_report, variant_panel

    c = _container()
    start, end = _day(from_, "--from"), _day(to, "--to")
    try:
        if fmt is Format.html:
            path = write_html(c, campaign=campaign, start=start, end=end, output=output)
            console.print(f"Rapport HTML : {path}")
            return
        report = build_report(c.uow, campaign=campaign, by=by, start=start, end=end)
        variants = variant_panel(c.uow, campaign=campaign, end=end) if campaign else []
    except ReportError as exc:
        _fail(str(exc))
    if fmt is Format.xlsx:
        from services.report_export import write_xlsx

        if output is None:
            _fail("--format xlsx demande --output FICHIER.xlsx")
        write_xlsx(report, output, title=_title(campaign, by, start, end))
        console.print(f"Classeur : {output}")
        return
    if fmt in (Format.csv, Format.json):
        from services.report_export import report_csv, report_json

        text = (report_csv(report) if fmt is Format.csv
                else json.dumps(report_json(report, variants), ensure_ascii=False, indent=2))
        if output:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
            console.print(f"Écrit : {output}")
        else:
            print(text, end="" if text.endswith("\n") else "\n")
        return
    print_report(report, variants, title=_title(campaign, by, start, end))
    from services.reporting_build import last_refresh

    if last_refresh(c.uow) is None:
        err.print("La table de rentabilité est vide : lancez « relance report refresh --full ».")


@report_app.command("refresh")
def refresh_cmd(
    full: Annotated[bool, typer.Option("--full", help="Reconstruire toute la table.")] = False,
    day: Annotated[Optional[list[str]], typer.Option("--day", help="Un jour à reconstruire (répétable).")] = None,
):
    """Met à jour la table de rentabilité (par défaut : les jours modifiés depuis la dernière mise à jour)."""
    from services.reporting_build import rebuild_all, refresh_days, refresh_nightly

    c = _container()
    now = datetime.now(timezone.utc)
    policy = c.settings.reporting.policy()
    if full:
        report = rebuild_all(c.uow, policy, now=now)
    elif day:
        report = refresh_days(c.uow, policy, [_day(d, "--day") for d in day], now=now)
    else:
        report = refresh_nightly(c.uow, policy, now=now, lookback_days=c.settings.reporting.report_lookback_days)
    what = "table entière" if report.days is None else f"{len(report.days)} jour(s)"
    console.print(f"Rentabilité mise à jour ({what}) : {report.rows} lignes en {report.seconds:.1f} s.")


def _title(campaign, by, start, end) -> str:
    from services.report_export import labels

    period = ""
    if start or end:
        period = f", du {start.strftime('%d/%m/%Y') if start else '…'} au {end.strftime('%d/%m/%Y') if end else '…'}"
    return (f"Rentabilité — {('campagne « ' + campaign + ' »') if campaign else 'toutes les campagnes'}"
            f" par {labels()['dimensions'].get(by, by).lower()}{period}")


def write_html(c, *, campaign: str | None, start: date | None, end: date | None, output: Path | None) -> Path:
    from services.report_html import build_dashboard, render_dashboard

    dashboard = build_dashboard(c.uow, campaign=campaign, start=start, end=end, as_of=datetime.now(timezone.utc))
    if output is None:
        import re

        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", campaign or "toutes-campagnes").strip("-") or "campagne"
        output = Path(c.settings.reporting.report_dir) / f"rapport-{slug}-{date.today():%Y%m%d}.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_dashboard(dashboard), encoding="utf-8")
    return output.resolve()


def print_report(report, variants, *, title: str) -> None:
    """The Rich table (the main columns; every column is in the CSV, XLSX and JSON exports)."""
    from channels.templating import money
    from services.report_export import labels, line_label
    from services.report_html import pct

    short = labels()["courts"]
    table = Table(title=title)
    keys = (("dossiers", "amount_placed", "actions_sent", "call_attempts", "promises_made", "collected", "cost",
             "fees_earned", "recovery_rate", "right_party_contact_rate", "cost_to_collect", "rentability")
            if console.width >= 140 else  # a narrow terminal gets the essentials
            ("dossiers", "amount_placed", "actions_sent", "collected", "cost", "recovery_rate", "rentability"))
    cols = [(short["line"], None)] + [(short[k], k) for k in keys]
    for name, _ in cols:
        table.add_column(name, justify="left" if _ is None else "right", overflow="fold")
    for line in [*report.lines, report.total]:
        cells = []
        for _, key in cols:
            if key is None:
                cells.append(line_label(report, line))
            elif key == "cost":
                cells.append(money(line.cost))
            elif key in line.sums:
                v = line.sums[key]
                cells.append(money(v) if key in ("amount_placed", "collected", "fees_earned") else str(v))
            else:
                cells.append(pct(getattr(line.kpis, key), 0 if key == "rentability" else 2))
        table.add_row(*cells, style="bold" if line is report.total else None)
    console.print(table)
    if variants:
        print_variants(variants)


def print_variants(variants) -> None:
    from channels.templating import money
    from services.report_export import value_label
    from services.report_html import pct, points

    from babel.numbers import format_decimal

    wide = console.width >= 140
    table = Table(title="Champion / challenger (taux de recouvrement, IC 95 %, méthode delta)")
    cols = ("Variante", "Scénario", "Dossiers", "Confié", "Encaissé", "Taux", "IC 95 %", "Écart", "Gain relatif",
            "Significatif")
    shown = [i for i, _ in enumerate(cols) if wide or cols[i] not in ("Scénario", "Confié", "Encaissé")]
    for i in shown:
        table.add_column(cols[i], justify="right")
    for v in variants:
        e, c = v.estimate, v.comparison
        ci = f"{pct(e.low)} – {pct(e.high)}" if e.low is not None else "—"
        sig = "" if c is None else ("oui" if c.significant else "non") + (
            f" (p = {format_decimal(round(c.p_value, 3), '0.000', locale='fr_FR')})" if c.p_value is not None else "")
        cells = (value_label(e.variant, "variant"), v.scenario or "", str(e.dossiers), money(v.placed),
                 money(v.collected), pct(e.rate), ci, points(c.difference) if c else "référence",
                 pct(c.uplift, 1) if c else "", sig)
        table.add_row(*(cells[i] for i in shown))
    console.print(table)


def print_demo_report(c, campaign: str) -> None:
    """The end of `relance demo`: the campaign by channel and by variant, and its HTML report."""
    from services.reporting import build_report, variant_panel

    for by in ("channel", "variant"):
        print_report(build_report(c.uow, campaign=campaign, by=by), [], title=_title(campaign, by, None, None))
    print_variants(variant_panel(c.uow, campaign=campaign))
    console.print(f"Rapport HTML (tableau de bord) : {write_html(c, campaign=campaign, start=None, end=None, output=None)}")
