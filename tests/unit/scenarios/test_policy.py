"""The contact policy: hours, days, holidays, caps, quiet periods and blocks."""

from __future__ import annotations

from datetime import date, time, timedelta

from models.enums import Channel, DossierStatus, Suspension
from scenarios.decisions import Allowed, Blocked, Deferred
from scenarios.policy import ContactPolicy, decide
from scenarios.snapshots import ContactHistory

from .builders import ALL_CHANNELS, REUNION, at, dossier, without

STRASBOURG = dict(holiday_subdivision="6AE")  # Bas-Rhin / Haut-Rhin: Alsace calendar


def test_an_sms_at_ten_on_a_tuesday_is_allowed_at_once():
    now = at(2025, 3, 11, 10)
    assert decide(Channel.SMS, dossier(), now=now) == Allowed(now)


def test_nothing_is_sent_at_21_00_and_the_sms_waits_for_8_00_the_next_morning():
    decision = decide(Channel.SMS, dossier(), now=at(2025, 3, 11, 21))
    assert isinstance(decision, Deferred)
    assert decision.code == "outside_hours"
    assert decision.until == at(2025, 3, 12, 8)


def test_a_call_before_8_00_waits_for_8_00_the_same_day():
    decision = decide(Channel.CALL, dossier(), now=at(2025, 3, 11, 6, 30))
    assert decision.until == at(2025, 3, 11, 8)


def test_nothing_is_sent_on_a_sunday_and_the_call_moves_to_monday_morning():
    decision = decide(Channel.CALL, dossier(), now=at(2025, 3, 9, 10))
    assert decision.code == "rest_day"
    assert decision.until == at(2025, 3, 10, 8)


def test_saturday_evening_after_hours_skips_sunday():
    decision = decide(Channel.SMS, dossier(), now=at(2025, 3, 8, 20, 30))
    assert decision.code == "outside_hours"
    assert decision.until == at(2025, 3, 10, 8)


def test_nothing_is_sent_on_the_first_of_may():
    decision = decide(Channel.SMS, dossier(), now=at(2025, 5, 1, 10))
    assert decision.code == "public_holiday"
    assert decision.until == at(2025, 5, 2, 8)


def test_nothing_is_sent_on_the_eighth_of_may_in_paris():
    decision = decide(Channel.CALL, dossier(), now=at(2025, 5, 8, 10))
    assert decision.code == "public_holiday"
    assert decision.until == at(2025, 5, 9, 8)


def test_a_call_on_26_december_is_deferred_in_strasbourg_but_allowed_in_paris():
    now = at(2025, 12, 26, 10)  # a Friday; Saint-Étienne is a holiday in Alsace-Moselle only
    assert decide(Channel.CALL, dossier(), now=now) == Allowed(now)
    in_strasbourg = decide(Channel.CALL, dossier(**STRASBOURG), now=now)
    assert in_strasbourg.code == "public_holiday"
    assert in_strasbourg.until == at(2025, 12, 27, 8)


def test_good_friday_is_a_holiday_in_moselle_only():
    now = at(2025, 4, 18, 10)
    assert isinstance(decide(Channel.SMS, dossier(), now=now), Allowed)
    assert decide(Channel.SMS, dossier(holiday_subdivision="57"), now=now).code == "public_holiday"


def test_a_reunion_debtor_is_contacted_in_reunion_hours():
    reunion = dossier(timezone=REUNION, holiday_subdivision="974")
    morning = at(2025, 3, 11, 6, 0, zone="UTC")  # 10:00 in Réunion
    assert decide(Channel.CALL, reunion, now=morning) == Allowed(morning)
    evening = decide(Channel.CALL, reunion, now=at(2025, 3, 11, 17, 0, zone="UTC"))  # 21:00 there
    assert evening.code == "outside_hours"
    assert evening.until == at(2025, 3, 12, 4, 0, zone="UTC")  # 08:00 in Réunion
    assert evening.until == at(2025, 3, 12, 8, 0, zone=REUNION)


def test_the_abolition_day_of_reunion_is_a_holiday_there():
    reunion = dossier(timezone=REUNION, holiday_subdivision="974")
    decision = decide(Channel.SMS, reunion, now=at(2025, 12, 20, 10, zone=REUNION))
    assert decision.code == "public_holiday"


def test_emails_and_letters_are_not_bound_by_hours_or_sundays():
    sunday_night = at(2025, 3, 9, 23)
    assert decide(Channel.EMAIL, dossier(), now=sunday_night) == Allowed(sunday_night)
    assert decide(Channel.LETTER, dossier(), now=sunday_night) == Allowed(sunday_night)


def test_a_debtor_already_contacted_today_waits_for_tomorrow_whatever_the_channel():
    now = at(2025, 3, 11, 15)
    history = ContactHistory(contacts=(at(2025, 3, 11, 9),))
    sms = decide(Channel.SMS, dossier(), history, now=now)
    assert sms.code == "daily_cap"
    assert sms.until == at(2025, 3, 12, 8)
    letter = decide(Channel.LETTER, dossier(), history, now=now)
    assert letter.code == "daily_cap"
    assert letter.until == at(2025, 3, 12, 0)


def test_the_daily_cap_counts_contacts_planned_earlier_in_the_same_run():
    now = at(2025, 3, 11, 10)
    decision = decide(Channel.EMAIL, dossier(), now=now, planned=[(now, Channel.SMS)])
    assert decision.code == "daily_cap"


def test_the_weekly_cap_waits_until_the_oldest_contact_leaves_the_seven_day_window():
    now = at(2025, 3, 11, 10)
    oldest = at(2025, 3, 5, 11)
    history = ContactHistory(contacts=(oldest, at(2025, 3, 7, 10), at(2025, 3, 10, 9)))
    decision = decide(Channel.SMS, dossier(), history, now=now)
    assert decision.code == "weekly_cap"
    assert decision.until == oldest + timedelta(days=7)  # Wednesday 12 March, 11:00


def test_a_contact_exactly_seven_days_old_no_longer_counts():
    now = at(2025, 3, 11, 10)
    history = ContactHistory(contacts=(at(2025, 3, 4, 10), at(2025, 3, 7, 10), at(2025, 3, 10, 9)))
    assert decide(Channel.SMS, dossier(), history, now=now) == Allowed(now)


def test_seven_call_attempts_in_seven_days_stop_the_calls_until_the_oldest_is_a_week_old():
    now = at(2025, 3, 11, 10)
    attempts = tuple(at(2025, 3, day, 14) for day in (5, 6, 7, 8, 8, 10, 10))
    decision = decide(Channel.CALL, dossier(), ContactHistory(call_attempts=attempts), now=now)
    assert decision.code == "call_attempts_cap"
    assert decision.until == at(2025, 3, 12, 14)
    # Unanswered attempts are not contacts: an SMS may still go.
    assert isinstance(decide(Channel.SMS, dossier(), ContactHistory(call_attempts=attempts), now=now), Allowed)


def test_no_call_in_the_seven_days_after_a_conversation_with_the_debtor():
    now = at(2025, 3, 11, 10)
    spoke = at(2025, 3, 7, 16)
    history = ContactHistory(last_right_party_at=spoke)
    decision = decide(Channel.CALL, dossier(), history, now=now)
    assert decision.code == "right_party_quiet"
    assert decision.until == spoke + timedelta(days=7)
    assert isinstance(decide(Channel.CALL, dossier(), history, now=at(2025, 3, 14, 17)), Allowed)


def test_the_quiet_period_ending_on_a_sunday_moves_to_monday_morning():
    spoke = at(2025, 3, 2, 11)  # a Sunday a week before
    decision = decide(Channel.CALL, dossier(), ContactHistory(last_right_party_at=spoke), now=at(2025, 3, 4, 10))
    assert decision.until == at(2025, 3, 10, 8)


def test_an_opt_out_blocks_its_channel_at_once_but_not_the_others():
    opted = dossier(contacts=without(ALL_CHANNELS, Channel.SMS))
    now = at(2025, 3, 11, 10)
    blocked = decide(Channel.SMS, opted, now=now)
    assert isinstance(blocked, Blocked) and blocked.code == "opted_out"
    assert isinstance(decide(Channel.LETTER, opted, now=now), Allowed)


def test_a_dispute_blocks_every_channel():
    disputed = dossier(suspension=Suspension.DISPUTE, status=DossierStatus.SUSPENDED)
    for channel in Channel:
        decision = decide(channel, disputed, now=at(2025, 3, 11, 10))
        assert isinstance(decision, Blocked) and decision.code == "dispute"


def test_over_indebtedness_insolvency_and_death_block_all_contact():
    now = at(2025, 3, 11, 10)
    assert decide(Channel.LETTER, dossier(suspension=Suspension.OVER_INDEBTEDNESS), now=now).code == "over_indebtedness"
    assert decide(Channel.LETTER, dossier(suspension=Suspension.INSOLVENCY), now=now).code == "insolvency"
    assert decide(Channel.LETTER, dossier(deceased=True), now=now).code == "deceased"


def test_a_prescribed_debt_is_blocked_from_its_expiry_day():
    now = at(2025, 3, 11, 10)
    assert decide(Channel.LETTER, dossier(prescription_expires_on=date(2025, 3, 11)), now=now).code == "prescribed"
    assert isinstance(decide(Channel.LETTER, dossier(prescription_expires_on=date(2025, 3, 12)), now=now), Allowed)


def test_every_rule_is_configurable():
    relaxed = ContactPolicy(day_ends=time(22), max_contacts_per_day=2)
    now = at(2025, 3, 11, 21)
    history = ContactHistory(contacts=(at(2025, 3, 11, 9),))
    assert decide(Channel.SMS, dossier(), history, policy=relaxed, now=now) == Allowed(now)
