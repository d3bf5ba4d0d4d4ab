"""A late delivery report, a late payment or a reversal: refreshing the days that changed since the
last refresh corrects the day the fact belongs to, and only that day."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from models.reporting import ReportRow
from services.dispatch import record_delivery
from services.reporting import build_report
from services.reporting_build import ReportPolicy, changed_days, last_refresh, rebuild_all, refresh_recent
from tests.integration.reporting.world import add_payment, at, build_world, d

POLICY = ReportPolicy()


def _days(container) -> dict:
    return {ln.key[0]: ln.sums for ln in build_report(container.uow, campaign="printemps", by="day").lines}


def _refreshed_on(container, day) -> set:
    with container.uow() as uow:
        return set(uow.session.scalars(select(ReportRow.refreshed_at).where(ReportRow.day == day)))


def test_a_late_delivery_report_is_counted_on_the_day_the_email_was_sent(container):
    build_world(container)
    rebuild_all(container.uow, POLICY, now=at(d(10), 23))
    before = _days(container)
    assert before[d(4)]["actions_delivered"] == 0
    with container.uow() as uow:  # the email of D4 is reported delivered on D11
        assert record_delivery(uow.session, "prov-a4", "delivered", at=at(d(11), 15)) == 1
        uow.commit()
    assert changed_days(container.uow, since=last_refresh(container.uow)) == {d(4)}
    refresh_recent(container.uow, POLICY, since=last_refresh(container.uow), today=d(11), lookback_days=0,
                   now=at(d(11), 23))
    after = _days(container)
    assert after[d(4)]["actions_delivered"] == 1
    assert d(11) not in after  # the report itself is not an action of D11
    assert {k: v for k, v in after.items() if k != d(4)} == {k: v for k, v in before.items() if k != d(4)}
    assert _refreshed_on(container, d(1)) == {at(d(10), 23)}  # untouched days were not rebuilt
    assert _refreshed_on(container, d(4)) == {at(d(11), 23)}


def test_a_payment_imported_late_lands_on_the_day_it_was_received(container):
    w = build_world(container)
    rebuild_all(container.uow, POLICY, now=at(d(10), 23))
    assert _days(container)[d(3)]["collected"] == Decimal("100.00")
    with container.uow() as uow:  # received D3, on the bank statement imported on D12
        add_payment(uow.session, "late", w.dossiers["C"], "250.00", d(3), created=at(d(12), 8))
        uow.commit()
    refresh_recent(container.uow, POLICY, since=last_refresh(container.uow), today=d(12), lookback_days=1,
                   now=at(d(12), 23))
    days = _days(container)
    assert days[d(3)]["collected"] == Decimal("350.00") and days[d(3)]["payments"] == 2
    # C's last action sent before D3 is its call step: the money goes to the call channel.
    channels = {ln.key[0]: ln.sums for ln in build_report(container.uow, campaign="printemps", by="channel").lines}
    assert channels["call"]["collected"] == Decimal("650.00")
    assert build_report(container.uow).total["collected"] == Decimal("1250.00")


def test_a_reversed_payment_leaves_the_day_it_was_received(container):
    from services.payments import REVERSAL_KIND
    from models.ledger import JournalEntry
    from models.enums import PaymentStatus
    from models.payments import Payment

    build_world(container)
    rebuild_all(container.uow, POLICY, now=at(d(10), 23))
    with container.uow() as uow:  # p1 (200.00, received D2) bounces; its reversal is booked on D11
        p1 = uow.session.scalar(select(Payment).where(Payment.external_id == "p1"))
        p1.status = PaymentStatus.REVERSED
        uow.session.add(JournalEntry(posted_on=d(11), kind=REVERSAL_KIND, dossier_id=p1.dossier_id,
                                     reference=str(p1.id), data={}, created_at=at(d(11), 9)))
        uow.commit()
    since = last_refresh(container.uow)
    assert d(2) in changed_days(container.uow, since=since)
    refresh_recent(container.uow, POLICY, since=since, today=d(11), lookback_days=0, now=at(d(11), 23))
    assert _days(container)[d(2)]["collected"] == Decimal("0.00")
    assert build_report(container.uow).total["collected"] == Decimal("800.00")
    assert since + timedelta(0) == at(d(10), 23)


def test_a_last_refresh_in_the_future_does_not_blind_the_nightly_refresh(container):
    from services.reporting_build import refresh_nightly

    w = build_world(container)
    rebuild_all(container.uow, POLICY, now=at(d(60)))  # a simulation ran its clock ahead
    with container.uow() as uow:
        add_payment(uow.session, "today", w.dossiers["B"], "40.00", d(11), created=at(d(11), 8))
        uow.commit()
    report = refresh_nightly(container.uow, POLICY, now=at(d(11), 23), lookback_days=0)
    assert report.days == [d(11)]
    assert _days(container)[d(11)]["collected"] == Decimal("40.00")
