"""The office's fees on a remittance (pure rules; see services/remittance.py for the books).

A creditor's mandate sets a commission rate on collected sums and a fixed fee per file. Both
are the creditor's cost, deducted from the funds remitted to it; none is ever added to what a
debtor owes (CPCE L111-8: recovery costs without an enforceable title stay with the creditor).

Commission. Computed per payment line on the sum collected for the creditor (the part of the
payment applied to claims; an overpayment in suspense is not the creditor's money), rounded
half up to the cent on each line. Per line rather than per remittance so that every line of
the statement shows its own commission, the statement adds up to the cent, and a claw-back
gives back exactly the commission that was taken: `commission(120.00, 12 %) = 14.40`,
`commission(80.52, 12.5 %) = 10.065 -> 10.07`. The remittance's commission is the sum of its
lines' (which may differ by a few cents from the rate applied to the total).

Fixed fee per file. Earned once per dossier, out of that dossier's collections: the fees taken
on a dossier never exceed what was collected on it. After each remittance a dossier has been
charged, in total, `min(fee, max(0, collected - commission))`, where `collected` and
`commission` are the dossier's totals over every remittance so far (claw-backs deducted). So:
- the first collection pays the whole fee when it is large enough (120.00 at 12 % and a 15.00
  fee: 15.00); a small one pays what it can (10.00 at 12 %: 10.00 - 1.20 = 8.80) and the next
  collections pay the rest (6.20);
- when a remitted payment is clawed back, the part of the fee it no longer covers is given
  back (the same formula gives a negative adjustment).
The fee is the mandate's current one. A fee owed beyond what a dossier ever collects is not
taken from other dossiers' money: it is invoiced to the creditor outside Relance.
"""

from __future__ import annotations

from decimal import Decimal

from models.money import round_cents

__all__ = ["commission", "fixed_fee_adjustment", "fixed_fee_due"]

ZERO = Decimal("0.00")


def commission(collected: Decimal, rate: Decimal) -> Decimal:
    """The commission on one collected amount, half up to the cent. Rate: 0.12 = 12 %."""
    if rate < 0 or rate > 1:
        raise ValueError(f"a commission rate is a fraction between 0 and 1, not {rate}")
    return round_cents(collected * rate)


def fixed_fee_due(fee: Decimal, collected: Decimal, commission_taken: Decimal) -> Decimal:
    """The fixed fee a dossier owes in total once `collected` was remitted on it and
    `commission_taken` was taken on that."""
    if fee <= 0:
        return ZERO
    return min(fee, max(ZERO, collected - commission_taken))


def fixed_fee_adjustment(fee: Decimal, collected: Decimal, commission_taken: Decimal,
                         already_charged: Decimal) -> Decimal:
    """What this remittance charges (positive) or gives back (negative) for the dossier's fixed
    fee, given its totals including this remittance's lines and the fee charged before."""
    return fixed_fee_due(fee, collected, commission_taken) - already_charged
