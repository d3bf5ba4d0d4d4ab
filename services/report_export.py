"""The reporting table as records and files: JSON-ready records, CSV, XLSX. Labels come from
templates/report/libelles.toml; amounts stay Decimal until written, rates are fractions."""

from __future__ import annotations

import csv
import io
import tomllib
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from services.reporting import Line, Report
from services.reporting_build import MEASURES

LABELS_PATH = Path(__file__).resolve().parent.parent / "templates" / "report" / "libelles.toml"
RATES = ("recovery_rate", "liquidation_rate", "right_party_contact_rate", "promise_kept_rate", "cost_to_collect",
         "rentability")
COLUMNS = (*MEASURES, "cost")


@lru_cache(maxsize=1)
def labels() -> dict[str, dict[str, str]]:
    return tomllib.loads(LABELS_PATH.read_text(encoding="utf-8"))


def value_label(value: Any, dimension: str) -> str:
    """How a dimension's value reads: "" is "(sans action)", channels and variants in French."""
    v = labels()["valeurs"]
    if isinstance(value, date):
        return value.isoformat()
    if value in (None, ""):
        return v["hors_campagne"] if dimension == "campaign" else v["vide"]
    if dimension in ("channel", "variant"):
        return v.get(str(value), str(value))
    return str(value)


def line_label(report: Report, line: Line) -> str:
    if line.key == ("total",):
        return labels()["valeurs"]["total"]
    return " / ".join(value_label(v, dim) for v, dim in zip(line.key, report.key_names))


def _record(report: Report, line: Line, *, total: bool) -> dict[str, Any]:
    keys = {name: None for name in report.key_names} if total else {
        name: (v.isoformat() if isinstance(v, date) else v) for name, v in zip(report.key_names, line.key)}
    values = {m: line.sums[m] for m in MEASURES}
    values["cost"] = line.cost
    rates = {r: getattr(line.kpis, r) for r in RATES}
    return {**keys, "total": total, **values, **rates}


def report_records(report: Report) -> list[dict[str, Any]]:
    """One record per line, then the total; Decimal amounts and rates as strings (JSON, artifacts)."""
    out = []
    for line, is_total in [*((ln, False) for ln in report.lines), (report.total, True)]:
        rec = _record(report, line, total=is_total)
        out.append({k: (str(v) if isinstance(v, Decimal) else v) for k, v in rec.items()})
    return out


def report_json(report: Report, variants: list | None = None) -> dict[str, Any]:
    return {
        "by": report.by, "campaign": report.campaign,
        "from": report.start.isoformat() if report.start else None,
        "to": report.end.isoformat() if report.end else None,
        "placed_to_date": str(report.placed_to_date),
        "lines": report_records(report)[:-1], "total": report_records(report)[-1],
        "variants": [_variant_json(v) for v in variants or []],
    }


def _variant_json(v) -> dict[str, Any]:
    e, c = v.estimate, v.comparison
    return {"variant": e.variant, "scenario": v.scenario, "dossiers": e.dossiers, "placed": str(v.placed),
            "collected": str(v.collected), "recovery_rate": e.rate, "ci95": [e.low, e.high],
            "uplift": c.uplift if c else None, "difference": c.difference if c else None,
            "difference_ci95": [c.difference_low, c.difference_high] if c else None,
            "p_value": c.p_value if c else None, "significant": c.significant if c else None}


def _header(report: Report) -> list[str]:
    lab = labels()
    return ([lab["dimensions"].get(n, n) for n in report.key_names] + [lab["mesures"][m] for m in COLUMNS]
            + [lab["taux"][r] for r in RATES])


def _cells(report: Report, line: Line, is_total: bool) -> list[Any]:
    rec = _record(report, line, total=is_total)
    if is_total:
        keys = [labels()["valeurs"]["total"]] + [""] * (len(report.key_names) - 1)
    else:
        keys = [value_label(v, dim) for v, dim in zip(line.key, report.key_names)]
    return keys + [rec[m] for m in COLUMNS] + [rec[r] for r in RATES]


def report_csv(report: Report) -> str:
    """CSV (comma, decimal point, rates as fractions): for spreadsheets and other programs."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_header(report))
    for line, is_total in [*((ln, False) for ln in report.lines), (report.total, True)]:
        w.writerow(["" if c is None else c for c in _cells(report, line, is_total)])
    return buf.getvalue()


def write_xlsx(report: Report, path: Path, *, title: str) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Rapport"
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(_header(report))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    n_keys = len(report.key_names)
    money_cols = {i for i, m in enumerate(COLUMNS) if m in ("amount_placed", "promises_amount", "plans_amount",
                                                            "collected", "fees_earned", "cost_messages",
                                                            "cost_agents", "cost")}
    for line, is_total in [*((ln, False) for ln in report.lines), (report.total, True)]:
        row = _cells(report, line, is_total)
        ws.append([float(c) if isinstance(c, Decimal) else c for c in row])  # Excel stores doubles anyway
        r = ws.max_row
        for i in range(len(COLUMNS)):
            if i in money_cols:
                ws.cell(r, n_keys + 1 + i).number_format = '#,##0.00 "€"'
        for j in range(len(RATES)):
            ws.cell(r, n_keys + len(COLUMNS) + 1 + j).number_format = "0.00%"
        if is_total:
            for cell in ws[r]:
                cell.font = Font(bold=True)
    ws.freeze_panes = ws.cell(3, n_keys + 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
