"""Reading the reporting table: totals, breakdowns and rates, and the champion / challenger panel.

    build_report(uow_factory, *, campaign=None, by="channel", start=None, end=None) -> Report
    variant_panel(uow_factory, *, campaign, end=None) -> list[VariantResult]

Rates are ratios of sums (services/report_math.py). The base of the recovery rate depends on
what the breakdown splits:
- creditor, campaign and variant split *dossiers*: each line is divided by what its own dossiers
  entrusted;
- day, scenario, step and channel split *actions and money*: the amount placed is not theirs to
  split, so each line is divided by what the whole selection entrusted; the lines' rates then add
  up to the total rate (each line's share of the recovery). Entrusted amounts sit on the line with
  no step or channel ("" = the dossiers' entry in the campaign, and money no action preceded).
The recovery rate counts everything entrusted up to `end` (inclusive); the liquidation rate only
what was entrusted between `start` and `end`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Date, and_, cast, func, literal, select

from models.campaigns import Campaign, Enrolment
from models.dossiers import Dossier
from models.parties import Creditor
from models.payments import Payment
from models.reporting import ReportRow
from services.campaigns import CHALLENGER, CHAMPION
from services.report_math import Comparison, Kpis, RatioEstimate, VariantSums, compare, kpis, ratio_estimate
from services.reporting_build import MEASURES

BREAKDOWNS = ("day", "scenario", "step", "channel", "variant", "creditor", "campaign")
DOSSIER_BREAKDOWNS = frozenset({"creditor", "campaign", "variant"})
MONEY = frozenset({"amount_placed", "promises_amount", "plans_amount", "collected", "fees_earned",
                   "cost_messages", "cost_agents", "agent_minutes"})
CENT = Decimal("0.01")


class ReportError(ValueError):
    """Bad input: an unknown campaign or breakdown, a period that ends before it starts."""


@dataclass
class Line:
    key: tuple  # the breakdown's values: (day,), (scenario, step), (campaign name, variant)...
    sums: dict[str, int | Decimal]
    kpis: Kpis
    first_day: date | None = None

    @property
    def cost(self) -> Decimal:
        return self.sums["cost_messages"] + self.sums["cost_agents"]

    def __getitem__(self, measure: str):
        return self.sums[measure]


@dataclass
class Report:
    by: str
    campaign: str | None
    start: date | None
    end: date | None
    lines: list[Line]
    total: Line
    placed_to_date: Decimal = Decimal("0")
    key_names: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class VariantResult:
    estimate: RatioEstimate
    scenario: str | None
    placed: Decimal
    collected: Decimal
    comparison: Comparison | None  # None for the champion


def _clean(measure: str, value) -> int | Decimal:
    if measure in MONEY:
        # Costs are summed with five decimals (models.types.CostType) and rounded here, once.
        return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)
    return int(value or 0)


def _campaign_id(s, name: str | None) -> int | None:
    if name is None:
        return None
    found = s.scalar(select(Campaign.id).where(Campaign.name == name))
    if found is None:
        raise ReportError(f"campagne inconnue : « {name} »")
    return found


def _key_columns(by: str, campaign_filtered: bool) -> list:
    if by == "day":
        return [ReportRow.day]
    if by == "scenario":
        return [ReportRow.scenario]
    if by == "step":
        return [ReportRow.scenario, ReportRow.step]
    if by == "channel":
        return [ReportRow.channel]
    if by == "variant":
        return [ReportRow.variant] if campaign_filtered else [func.coalesce(Campaign.name, literal("")), ReportRow.variant]
    if by == "creditor":
        return [Creditor.name]
    if by == "campaign":
        return [func.coalesce(Campaign.name, literal(""))]
    raise ReportError(f"ventilation inconnue : « {by} » (au choix : {', '.join(BREAKDOWNS)})")


def _key_names(by: str, campaign_filtered: bool) -> tuple[str, ...]:
    return {"step": ("scenario", "step"),
            "variant": ("variant",) if campaign_filtered else ("campaign", "variant")}.get(by, (by,))


def build_report(uow_factory: Callable, *, campaign: str | None = None, by: str = "channel",
                 start: date | None = None, end: date | None = None) -> Report:
    """The selection's totals and one line per value of `by`; `start` and `end` inclusive."""
    if by not in BREAKDOWNS:
        raise ReportError(f"ventilation inconnue : « {by} » (au choix : {', '.join(BREAKDOWNS)})")
    if start and end and end < start:
        raise ReportError("la fin de la période précède son début")
    with uow_factory() as uow:
        s = uow.session
        campaign_id = _campaign_id(s, campaign)
        keys = _key_columns(by, campaign_id is not None)
        sums = [func.sum(getattr(ReportRow, m)).label(m) for m in MEASURES]

        def scoped(stmt, *, with_start: bool):
            stmt = stmt.select_from(ReportRow).outerjoin(Campaign, Campaign.id == ReportRow.campaign_id) \
                .join(Creditor, Creditor.id == ReportRow.creditor_id)
            conds = []
            if campaign_id is not None:
                conds.append(ReportRow.campaign_id == campaign_id)
            if start and with_start:
                conds.append(ReportRow.day >= start)
            if end:
                conds.append(ReportRow.day <= end)
            return stmt.where(and_(*conds)) if conds else stmt

        rows = s.execute(scoped(select(*keys, func.min(ReportRow.day), *sums), with_start=True)
                         .group_by(*keys)).all()
        placed_rows = s.execute(scoped(select(*keys, func.sum(ReportRow.amount_placed)), with_start=False)
                                .group_by(*keys)).all()
    n = len(keys)
    placed_by_key = {tuple(r[:n]): _clean("amount_placed", r[n]) for r in placed_rows}
    placed_to_date = sum(placed_by_key.values(), Decimal("0.00"))
    totals = {m: sum((_clean(m, r[n + 1 + i]) for r in rows), _clean(m, 0)) for i, m in enumerate(MEASURES)}
    per_dossier = by in DOSSIER_BREAKDOWNS

    def line(key: tuple, measured: dict, first_day, placed_base: Decimal, period_base: Decimal) -> Line:
        return Line(key, measured, kpis(
            collected=measured["collected"], placed_to_date=placed_base, placed_in_period=period_base,
            right_party_contacts=measured["right_party_contacts"], call_attempts=measured["call_attempts"],
            promises_kept=measured["promises_kept"], promises_due=measured["promises_due"],
            cost=measured["cost_messages"] + measured["cost_agents"], fees=measured["fees_earned"]), first_day)

    lines = []
    for r in rows:
        key = tuple("" if v is None else v for v in r[:n])
        measured = {m: _clean(m, r[n + 1 + i]) for i, m in enumerate(MEASURES)}
        first_day = r[n] if isinstance(r[n], date) or r[n] is None else date.fromisoformat(str(r[n]))
        if per_dossier:
            lines.append(line(key, measured, first_day, placed_by_key.get(tuple(r[:n]), Decimal("0")),
                              measured["amount_placed"]))
        else:
            lines.append(line(key, measured, first_day, placed_to_date, totals["amount_placed"]))
    lines.sort(key=_order(by))
    total = line(("total",), totals, min((ln.first_day for ln in lines if ln.first_day), default=None),
                 placed_to_date, totals["amount_placed"])
    return Report(by, campaign, start, end, lines, total, placed_to_date, _key_names(by, campaign_id is not None))


def _order(by: str):
    if by == "day":
        return lambda ln: ln.key
    if by == "step":  # a scenario's steps in the order they first ran; the "no action" line first
        return lambda ln: (ln.key[0], ln.key[1] != "", ln.first_day or date.max, ln.key[1])
    return lambda ln: (-ln.sums["collected"], ln.key)


def variant_panel(uow_factory: Callable, *, campaign: str, end: date | None = None) -> list[VariantResult]:
    """Champion first, then the challenger(s): each variant's recovery rate over its dossiers
    (collected from the day of enrolment to `end` / placed), its 95 % interval and, for a
    challenger, the uplift over the champion and whether the difference is significant."""
    with uow_factory() as uow:
        s = uow.session
        found = s.execute(select(Campaign.id, Campaign.scenario, Campaign.challenger_scenario)
                          .where(Campaign.name == campaign)).first()
        if found is None:
            raise ReportError(f"campagne inconnue : « {campaign} »")
        campaign_id, champion_scenario, challenger_scenario = found
        enrolled_on = (func.date(Enrolment.enrolled_at) if s.get_bind().dialect.name == "sqlite"
                       else cast(func.timezone("UTC", Enrolment.enrolled_at), Date))
        paid = select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.dossier_id == Enrolment.dossier_id, Payment.status == "applied",
            Payment.received_on >= enrolled_on, *([Payment.received_on <= end] if end else []),
        ).scalar_subquery()
        per_dossier = select(Enrolment.variant.label("variant"), Dossier.amount_placed.label("x"), paid.label("y")) \
            .join(Dossier, Dossier.id == Enrolment.dossier_id).where(Enrolment.campaign_id == campaign_id).subquery()
        x, y = per_dossier.c.x, per_dossier.c.y
        rows = s.execute(select(per_dossier.c.variant, func.count(), func.sum(x), func.sum(y), func.sum(x * x),
                                func.sum(y * y), func.sum(x * y)).group_by(per_dossier.c.variant)).all()
    sums = {r[0]: VariantSums(r[0], int(r[1]), *(float(v or 0) for v in r[2:])) for r in rows}
    money = {r[0]: (_clean("amount_placed", r[2]), _clean("collected", r[3])) for r in rows}
    order = [CHAMPION, CHALLENGER] + sorted(set(sums) - {CHAMPION, CHALLENGER})
    estimates = {v: ratio_estimate(sums[v]) for v in order if v in sums}
    champion = estimates.get(CHAMPION)
    out = []
    for v, est in estimates.items():
        scenario = champion_scenario if v == CHAMPION else challenger_scenario if v == CHALLENGER else None
        comparison = compare(champion, est) if champion is not None and v != CHAMPION else None
        out.append(VariantResult(est, scenario, *money[v], comparison))
    return out
