"""The dashboard: KPIs, the recovery curve by day since launch, collected by channel, the funnel by
step and the champion / challenger panel, as one self-contained HTML file (inline CSS and SVG
drawn here, no script, no external resource) from templates/report/rapport.html.

    build_dashboard(uow_factory, *, campaign=None, start=None, end=None, as_of) -> Dashboard
    render_dashboard(dashboard) -> str
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from babel.numbers import format_decimal, format_percent

from services.report_export import labels, value_label
from services.reporting import Line, Report, VariantResult, build_report, variant_panel
from services.campaigns import CHAMPION

LOCALE = "fr_FR"
CURVE_W, CURVE_H, PAD_L, PAD_B, PAD_T = 640, 220, 56, 28, 12
PANEL_W = 420


@dataclass(frozen=True)
class Curve:
    points: str  # SVG polyline points
    y_ticks: list[tuple[float, str]]  # (y, label)
    x_ticks: list[tuple[float, str]]
    last_rate: Decimal | None
    days: int


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    share: Decimal | None
    width: float  # px, out of 100 %


@dataclass(frozen=True)
class FunnelStep:
    label: str
    attempted: int
    sent: int
    delivered: int
    collected: Decimal
    widths: tuple[float, float, float]


@dataclass(frozen=True)
class VariantRow:
    result: VariantResult
    label: str
    x_low: float | None
    x_rate: float | None
    x_high: float | None


@dataclass
class Dashboard:
    title: str
    campaign: str | None
    start: date | None
    end: date | None
    as_of: datetime
    total: Line
    curve: Curve | None
    channels: list[Bar]
    funnel: list[FunnelStep]
    variants: list[VariantRow] = field(default_factory=list)
    scale_max: float = 0.0


def _curve(by_day: Report) -> Curve | None:
    if not by_day.lines or not by_day.placed_to_date:
        return None
    first, last = by_day.lines[0].key[0], by_day.lines[-1].key[0]
    days = (last - first).days
    collected = {ln.key[0]: ln.sums["collected"] for ln in by_day.lines}
    cumulative, series = Decimal("0"), []
    for n in range(days + 1):
        cumulative += collected.get(first + timedelta(days=n), Decimal("0"))
        series.append(cumulative / by_day.placed_to_date)
    top = max(float(max(series)) * 1.15, 0.01)
    inner_w, inner_h = CURVE_W - PAD_L - 8, CURVE_H - PAD_B - PAD_T

    def x(n: int) -> float:
        return PAD_L + (inner_w * n / days if days else inner_w / 2)

    def y(rate: float) -> float:
        return PAD_T + inner_h * (1 - rate / top)

    points = " ".join(f"{x(n):.1f},{y(float(r)):.1f}" for n, r in enumerate(series))
    y_ticks = [(y(top * f), pct(top * f, 1)) for f in (0, 0.5, 1)]
    x_ticks = [(x(n), f"J+{n}") for n in sorted({0, days // 2, days})]
    return Curve(points, y_ticks, x_ticks, series[-1].quantize(Decimal("0.0001")), days)


def _bars(by_channel: Report) -> list[Bar]:
    total = by_channel.total.sums["collected"]
    top = max((ln.sums["collected"] for ln in by_channel.lines), default=Decimal("0"))
    out = []
    for ln in by_channel.lines:
        value = ln.sums["collected"]
        out.append(Bar(value_label(ln.key[0], "channel"), value,
                       (value / total).quantize(Decimal("0.0001")) if total else None,
                       float(value / top * 100) if top else 0.0))
    return out


def _funnel(by_step: Report) -> list[FunnelStep]:
    lines = [ln for ln in by_step.lines if ln.key[1]]
    top = max((ln.sums["actions_attempted"] for ln in lines), default=0) or 1
    out = []
    for ln in lines:
        s = ln.sums
        out.append(FunnelStep(f"{ln.key[0]} · {ln.key[1]}", s["actions_attempted"], s["actions_sent"],
                              s["actions_delivered"], s["collected"],
                              tuple(100 * s[m] / top for m in ("actions_attempted", "actions_sent", "actions_delivered"))))
    return out


def _variant_rows(results: list[VariantResult]) -> tuple[list[VariantRow], float]:
    highs = [r.estimate.high or r.estimate.rate or 0 for r in results]
    scale = max(max(highs, default=0) * 1.1, 0.01)

    def x(v: float | None) -> float | None:
        return None if v is None else 10 + (PANEL_W - 20) * max(min(v, scale), 0) / scale

    rows = [VariantRow(r, value_label(r.estimate.variant, "variant"), x(r.estimate.low), x(r.estimate.rate),
                       x(r.estimate.high)) for r in results]
    return rows, scale


def build_dashboard(uow_factory: Callable, *, campaign: str | None = None, start: date | None = None,
                    end: date | None = None, as_of: datetime) -> Dashboard:
    by_channel = build_report(uow_factory, campaign=campaign, by="channel", start=start, end=end)
    by_day = build_report(uow_factory, campaign=campaign, by="day", start=start, end=end)
    by_step = build_report(uow_factory, campaign=campaign, by="step", start=start, end=end)
    variants, scale = ([], 0.0)
    if campaign:
        results = variant_panel(uow_factory, campaign=campaign, end=end)
        if len(results) > 1 or (results and results[0].estimate.variant != CHAMPION):
            variants, scale = _variant_rows(results)
    title = f"Campagne « {campaign} »" if campaign else "Toutes les campagnes"
    return Dashboard(title, campaign, start, end, as_of, by_channel.total, _curve(by_day), _bars(by_channel),
                     _funnel(by_step), variants, scale)


# ------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------


def pct(value, places: int = 2) -> str:
    """0.1234 -> "12,34 %"; None -> "—" (a rate whose base is zero is not defined)."""
    if value is None:
        return "—"
    fmt = "#,##0." + "0" * places + " %" if places else "#,##0 %"
    return format_percent(Decimal(str(value)), fmt, locale=LOCALE)


def points(value) -> str:
    """A difference of rates, in percentage points: 0.0123 -> "+1,23 pt"."""
    if value is None:
        return "—"
    return f"{'+' if value >= 0 else '−'}{format_decimal(abs(Decimal(str(value))) * 100, '#,##0.00', locale=LOCALE)} pt"


def number(value) -> str:
    return format_decimal(value, "#,##0.##", locale=LOCALE)


def render_dashboard(dashboard: Dashboard) -> str:
    from channels.templating import make_environment

    env = make_environment()
    env.filters.update(pct=pct, points=points, number=number)
    template = env.get_template("report/rapport.html")
    return template.render(d=dashboard, labels=labels(), curve_w=CURVE_W, curve_h=CURVE_H, pad_l=PAD_L,
                           pad_b=PAD_B, pad_t=PAD_T, panel_w=PANEL_W)
