"""Prescription: periods, interruptions, expiry and warning."""

from __future__ import annotations

from datetime import date

import pytest

from models.enums import ClaimNature
from models.prescription import (
    PERIOD_YEARS,
    Interruption,
    PrescriptionState,
    interrupts,
    prescription_years,
)


def consumer_claim_due_15_march_2023() -> PrescriptionState:
    years = prescription_years(ClaimNature.CONSUMER)
    return PrescriptionState(start=date(2023, 3, 15), years=years)


def test_a_consumer_claim_is_prescribed_by_two_years_and_other_claims_by_five():
    assert prescription_years(ClaimNature.CONSUMER) == 2
    assert prescription_years(ClaimNature.BUSINESS) == 5
    assert prescription_years("other") == 5
    assert set(PERIOD_YEARS) == set(ClaimNature)


def test_an_uninterrupted_consumer_claim_expires_two_years_after_its_start():
    # 2023-03-15 + 2 years = 2025-03-15
    assert consumer_claim_due_15_march_2023().expires_on == date(2025, 3, 15)


def test_a_partial_payment_restarts_a_full_period_from_its_date():
    state = consumer_claim_due_15_march_2023().interrupt(Interruption.PAYMENT, date(2024, 1, 10))
    # 2024-01-10 + 2 years = 2026-01-10
    assert state.expires_on == date(2026, 1, 10)
    assert state.last_interruption_on == date(2024, 1, 10)
    assert state.last_interruption_kind == "payment"


def test_a_mise_en_demeure_does_not_interrupt_even_registered():
    state = consumer_claim_due_15_march_2023()
    assert not interrupts("mise_en_demeure")
    with pytest.raises(ValueError):
        state.interrupt("mise_en_demeure", date(2024, 1, 10))
    assert state.expires_on == date(2025, 3, 15)


@pytest.mark.parametrize("kind", list(Interruption))
def test_every_listed_event_interrupts(kind):
    assert interrupts(kind)
    assert interrupts(kind.value)


def test_an_unknown_event_does_not_interrupt():
    assert not interrupts("paymnet")


def test_an_interruption_older_than_the_last_one_changes_nothing():
    state = consumer_claim_due_15_march_2023().interrupt("payment", date(2024, 1, 10))
    assert state.interrupt("promise", date(2023, 12, 1)) == state


def test_a_payment_after_expiry_does_not_revive_a_prescribed_claim():
    state = consumer_claim_due_15_march_2023()
    # expired on 2025-03-15; a payment on 2025-04-01 comes too late
    assert state.interrupt("payment", date(2025, 4, 1)) == state


def test_a_payment_on_the_last_day_still_interrupts():
    state = consumer_claim_due_15_march_2023().interrupt("payment", date(2025, 3, 15))
    # 2025-03-15 + 2 years = 2027-03-15
    assert state.expires_on == date(2027, 3, 15)


def test_a_period_anchored_on_29_february_ends_on_28_february():
    state = PrescriptionState(start=date(2024, 2, 29), years=2)
    # 2026 is not a leap year: 2026-02-28, the earlier candidate
    assert state.expires_on == date(2026, 2, 28)


def test_the_claim_can_still_be_chased_on_its_expiry_day_and_is_prescribed_the_day_after():
    state = consumer_claim_due_15_march_2023().interrupt("payment", date(2024, 1, 10))
    on_the_day = state.status(date(2026, 1, 10))
    assert (on_the_day.state, on_the_day.days_left) == ("warning", 0)
    day_after = state.status(date(2026, 1, 11))
    assert (day_after.state, day_after.days_left) == ("prescribed", -1)
    assert day_after.is_prescribed
    assert day_after.expires_on == date(2026, 1, 10)


def test_agents_are_warned_from_sixty_days_before_expiry():
    state = consumer_claim_due_15_march_2023().interrupt("payment", date(2024, 1, 10))
    # 2025-11-10 -> 2025-12-10 = 30 days, -> 2026-01-10 = 31 more: 61 days left
    assert state.status(date(2025, 11, 10)).state == "running"
    # one day later, 60 days left
    assert state.status(date(2025, 11, 11)).state == "warning"
    assert state.status(date(2025, 11, 11)).days_left == 60
    assert state.status(date(2025, 11, 10), warning_days=61).state == "warning"


def test_a_stored_interruption_before_the_start_is_not_used_as_the_anchor():
    state = PrescriptionState(date(2023, 3, 15), 2, date(2023, 1, 1), "promise")
    assert state.expires_on == date(2025, 3, 15)


def test_a_state_cannot_record_a_non_interrupting_event_or_a_period_under_one_year():
    with pytest.raises(ValueError):
        PrescriptionState(date(2023, 3, 15), 2, date(2024, 1, 1), "mise_en_demeure")
    with pytest.raises(ValueError):
        PrescriptionState(date(2023, 3, 15), 0)
