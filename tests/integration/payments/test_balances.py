"""Balances to the day: crystallised figures plus the interest run since, per claim and per
dossier; a missing rate stops the interest at the last known half-year and says so."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.balances import claim_balances, dossier_totals

D = Decimal
ROWS = [
    # Claim A: legal interest ("all other cases": the creditor is a company) from the mise en
    # demeure of 2025-01-01. Claim B: no interest, due later.
    "P-1;particulier;Martin;Paul;A;autre;1 000,00;01/12/2024;legal;01/01/2025",
    "P-1;particulier;Martin;Paul;B;autre;500,00;01/03/2025;;",
]


def test_legal_interest_runs_to_the_day_on_the_claim_that_bears_it(container, dossiers):
    ids = dossiers(ROWS)
    with container.uow() as uow:
        claims = claim_balances(uow.session, [ids["P-1"]], as_of=date(2025, 7, 1), rates=container.rates)
    a, b = claims[ids["P-1"]]
    # 2025-01-01 <= d < 2025-07-01 is 181 days of 2025 S1 at 3.71 %:
    # 1000 x 3.71 % x 181 / 365 = 37.10 x 181 / 365 = 6715.10 / 365 = 18.3975... -> 18.40
    assert (a.principal, a.interest, a.costs, a.interest_to) == (D("1000.00"), D("18.40"), D("0.00"), date(2025, 7, 1))
    assert (b.principal, b.interest, b.interest_to) == (D("500.00"), D("0.00"), None)
    assert not a.interest_incomplete and a.total == D("1018.40")


def test_dossier_totals_add_up_principal_interest_and_costs(container, dossiers):
    ids = dossiers(ROWS)
    with container.uow() as uow:
        totals = dossier_totals(uow.session, [ids["P-1"], 999_999], as_of=date(2025, 7, 1), rates=container.rates)
    t = totals[ids["P-1"]]
    # 1000.00 + 500.00 principal, 18.40 interest (above), no costs: 1518.40
    assert (t.principal, t.interest, t.costs, t.balance, t.claims) == (D("1500.00"), D("18.40"), D("0.00"), D("1518.40"), 2)
    assert totals[999_999].balance == D("0.00")


def test_a_private_creditor_gets_the_higher_legal_rate(container, dossiers):
    ids = dossiers(ROWS)
    with container.uow() as uow:
        totals = dossier_totals(uow.session, [ids["P-1"]], as_of=date(2025, 7, 1), rates=container.rates,
                                private_creditor_by_dossier={ids["P-1"]: True})
    # 1000 x 7.21 % x 181 / 365 = 72.10 x 181 / 365 = 13050.10 / 365 = 35.7537... -> 35.75
    assert totals[ids["P-1"]].interest == D("35.75")


def test_a_missing_rate_stops_interest_at_the_last_known_half_year_and_flags_it(container, dossiers):
    ids = dossiers(["M-1;particulier;Roux;Jean;M1;autre;1 000,00;01/12/2025;legal;01/01/2026"])
    with container.uow() as uow:
        claims = claim_balances(uow.session, [ids["M-1"]], as_of=date(2026, 9, 1), rates=container.rates)
        totals = dossier_totals(uow.session, [ids["M-1"]], as_of=date(2026, 9, 1), rates=container.rates)
    (claim,) = claims[ids["M-1"]]
    # 2026 S2 is not in the tables: only 2026-01-01 <= d < 2026-07-01, 181 days at 2.62 %:
    # 1000 x 2.62 % x 181 / 365 = 26.20 x 181 / 365 = 4742.20 / 365 = 12.9923... -> 12.99
    assert (claim.interest, claim.interest_to, claim.missing_rate) == (D("12.99"), date(2026, 7, 1), "2026 S2")
    assert totals[ids["M-1"]].interest_incomplete and totals[ids["M-1"]].balance == D("1012.99")
