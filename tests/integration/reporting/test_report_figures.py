"""The reporting table on a small, hand-computed world (tests/integration/reporting/world.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models.reporting import ReportRow
from services.reporting import BREAKDOWNS, ReportError, build_report, variant_panel
from services.reporting_build import MEASURES, ReportPolicy, rebuild_all, refresh_days
from tests.integration.reporting.world import D1, at, build_world, d

POLICY = ReportPolicy(attribution_days=30, minutes_per_attempt=Decimal("3"), cost_agent_minute=Decimal("0.60"))


@pytest.fixture
def world(container):
    w = build_world(container)
    rebuild_all(container.uow, POLICY, now=at(d(10)))
    return w


def test_the_totals_are_the_hand_computed_figures(container, world):
    t = build_report(container.uow, campaign="printemps").total
    assert t["dossiers"] == 3 and t["amount_placed"] == Decimal("3500.00")
    assert (t["actions_attempted"], t["actions_sent"], t["actions_delivered"], t["actions_failed"]) == (5, 4, 1, 2)
    assert (t["sms_segments"], t["letter_pages"]) == (3, 0)
    assert (t["call_attempts"], t["right_party_contacts"], t["agent_minutes"]) == (2, 1, Decimal("8.00"))
    assert (t["promises_made"], t["promises_amount"], t["promises_due"], t["promises_kept"]) == (1, Decimal("400.00"), 1, 1)
    assert (t["plans_agreed"], t["plans_amount"]) == (1, Decimal("600.00"))
    # p4 (50.00) was reversed: it is not money collected.
    assert (t["payments"], t["collected"]) == (4, Decimal("1000.00"))
    # 3 files x 5.00 fixed + 15 % of 1,000.00
    assert t["fees_earned"] == Decimal("165.00")
    # SMS 0.10 + 0.05, email 0.01; agents 8 minutes x 0.60
    assert (t["cost_messages"], t["cost_agents"], t.cost) == (Decimal("0.16"), Decimal("4.80"), Decimal("4.96"))


def test_the_rates_are_ratios_of_the_hand_computed_sums(container, world):
    k = build_report(container.uow, campaign="printemps").total.kpis
    assert k.recovery_rate == Decimal("0.2857")  # 1000 / 3500
    assert k.liquidation_rate == Decimal("0.2857")  # no period: everything was placed and collected in it
    assert k.right_party_contact_rate == Decimal("0.5000")  # 1 / 2
    assert k.promise_kept_rate == Decimal("1.0000")
    assert k.cost_to_collect == Decimal("0.0050")  # 4.96 / 1000 = 0.00496
    assert k.rentability == Decimal("32.2661")  # (165 - 4.96) / 4.96


def test_money_goes_to_the_last_action_sent_before_it_and_otherwise_to_no_action(container, world):
    lines = {ln.key[0]: ln for ln in build_report(container.uow, campaign="printemps", by="channel").lines}
    assert lines["sms"]["collected"] == Decimal("200.00")  # p1 after the delivered SMS to A
    assert lines["email"]["collected"] == Decimal("300.00")  # p5 after the email to A
    assert lines["call"]["collected"] == Decimal("400.00")  # p2 after the call step for C (the letter never left)
    assert lines[""]["collected"] == Decimal("100.00")  # p3: B's only SMS bounced
    assert lines["email"]["plans_agreed"] == 1 and lines["call"]["promises_made"] == 1
    assert lines["call"]["cost_agents"] == Decimal("4.80")
    # Channel lines share the campaign's base: their recovery rates add up to the total's.
    assert lines["call"].kpis.recovery_rate == Decimal("0.1143")  # 400 / 3500
    assert lines[""]["amount_placed"] == Decimal("3500.00")


def test_each_variant_is_divided_by_what_its_own_dossiers_entrusted(container, world):
    lines = {ln.key[0]: ln for ln in build_report(container.uow, campaign="printemps", by="variant").lines}
    assert lines["champion"]["collected"] == Decimal("600.00")
    assert lines["champion"].kpis.recovery_rate == Decimal("0.4000")  # 600 / 1500
    assert lines["challenger"].kpis.recovery_rate == Decimal("0.2000")  # 400 / 2000


def test_the_variant_panel_gives_the_champion_interval_by_the_delta_method(container, world):
    champion, challenger = variant_panel(container.uow, campaign="printemps")
    # A: x 1000, y 500; B: x 500, y 100. R = 0.4, residuals 100 and -100,
    # Var = 2/1 * 20000 / 1500^2 = 0.017778, SE = 0.133333
    assert champion.estimate.rate == pytest.approx(0.4)
    assert champion.estimate.se == pytest.approx(0.1333333, rel=1e-6)
    assert champion.estimate.low == pytest.approx(0.4 - 1.959964 * 0.1333333, rel=1e-5)
    assert (champion.placed, champion.collected) == (Decimal("1000.00") + Decimal("500.00"), Decimal("600.00"))
    assert challenger.estimate.rate == pytest.approx(0.2) and challenger.estimate.se is None  # one dossier
    assert challenger.comparison.uplift == pytest.approx(-0.5) and not challenger.comparison.significant


@pytest.mark.parametrize("by", BREAKDOWNS)
def test_the_sum_over_any_breakdown_equals_the_total(container, world, by):
    report = build_report(container.uow, by=by)
    for measure in MEASURES:
        assert sum(ln[measure] for ln in report.lines) == report.total[measure], (by, measure)


def test_a_period_keeps_its_days_and_divides_liquidation_by_what_was_placed_in_it(container, world):
    report = build_report(container.uow, campaign="printemps", start=d(2), end=d(6))
    assert report.total["collected"] == Decimal("600.00")  # p1 200 + p3 100 + p5 300
    assert report.total.kpis.recovery_rate == Decimal("0.1714")  # 600 / 3500 placed up to D6
    assert report.total.kpis.liquidation_rate is None  # nothing was placed between D2 and D6


def test_days_are_where_the_facts_happened(container, world):
    days = {ln.key[0]: ln for ln in build_report(container.uow, campaign="printemps", by="day").lines}
    assert days[d(1)]["actions_attempted"] == 3 and days[d(1)]["call_attempts"] == 1
    assert days[d(2)]["right_party_contacts"] == 1 and days[d(2)]["promises_made"] == 1
    assert days[d(9)]["promises_due"] == 1 and days[d(9)]["collected"] == Decimal("400.00")
    assert days[d(4)]["actions_failed"] == 1 and days[d(5)]["plans_agreed"] == 1


def test_refreshing_every_day_gives_the_same_table_as_a_full_rebuild(container, world):
    def snapshot():
        with container.uow() as uow:
            cols = [ReportRow.day, ReportRow.creditor_id, ReportRow.campaign_id, ReportRow.scenario, ReportRow.step,
                    ReportRow.channel, ReportRow.variant, *(getattr(ReportRow, m) for m in MEASURES)]
            return sorted(tuple(r) for r in uow.session.execute(select(*cols)).all())

    full = snapshot()
    refresh_days(container.uow, POLICY, [d(n) for n in range(1, 11)], now=at(d(11)))
    assert snapshot() == full
    refresh_days(container.uow, POLICY, [d(3), d(9)], now=at(d(11)))
    assert snapshot() == full


def test_an_unknown_campaign_or_breakdown_is_a_clear_error(container, world):
    with pytest.raises(ReportError, match="campagne inconnue"):
        build_report(container.uow, campaign="nope")
    with pytest.raises(ReportError, match="ventilation inconnue"):
        build_report(container.uow, by="weather")
    with pytest.raises(ReportError, match="précède"):
        build_report(container.uow, start=d(5), end=d(1))


def test_an_empty_table_reports_zeros_and_undefined_rates(container):
    report = build_report(container.uow, by="channel")
    assert report.lines == [] and report.total["collected"] == Decimal("0.00")
    assert report.total.kpis.recovery_rate is None and report.total.kpis.rentability is None
    with container.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(ReportRow)) == 0
    assert D1  # the world's first day is a Monday in March 2026


def test_a_campaign_launched_for_every_creditor_finds_each_action_s_creditor_through_its_dossier(container, world):
    from sqlalchemy import update

    from models.campaigns import Campaign

    before = build_report(container.uow, by="creditor")
    with container.uow() as uow:
        uow.session.execute(update(Campaign).values(creditor_id=None))
        uow.commit()
    rebuild_all(container.uow, POLICY, now=at(d(10)))
    after = build_report(container.uow, by="creditor")
    assert [(ln.key, ln.sums) for ln in after.lines] == [(ln.key, ln.sums) for ln in before.lines]
    assert after.lines[0].key == ("Banque Test",) and after.total["actions_attempted"] == 5


def test_costs_keep_fractions_of_a_cent_and_the_report_rounds_their_sum_once(container, world):
    from sqlalchemy import update

    from models.outbox import Action

    # One SMS segment each at 0.045 and an email at 0.001: 0.091 in all, 0.09 once rounded
    # (rounding each action first would give 0.05 + 0.05 + 0.00 = 0.10).
    with container.uow() as uow:
        for name, cost in (("a1", "0.045"), ("a2", "0.045"), ("a4", "0.001")):
            uow.session.execute(update(Action).where(Action.provider_id == f"prov-{name}").values(cost=Decimal(cost)))
        uow.commit()
    with container.uow() as uow:
        assert uow.session.scalar(select(Action.cost).where(Action.provider_id == "prov-a4")) == Decimal("0.00100")
    rebuild_all(container.uow, POLICY, now=at(d(10)))
    t = build_report(container.uow, campaign="printemps").total
    assert (t["cost_messages"], t.cost) == (Decimal("0.09"), Decimal("4.89"))
    by_channel = {line.key[0]: line["cost_messages"] for line in build_report(container.uow, by="channel").lines}
    assert (by_channel["sms"], by_channel["email"]) == (Decimal("0.09"), Decimal("0.00"))
