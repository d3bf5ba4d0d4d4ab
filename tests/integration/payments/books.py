"""The invariants of the double-entry books (see the chart in services/payments.py), checked
from the ledger lines themselves, in Python, so that SQLite's float sums cannot hide a cent."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select

from models.dossiers import Claim
from models.enums import ClaimComponent, LedgerAccount
from models.ledger import JournalEntry, LedgerLine

ZERO = Decimal("0.00")
CASH_SIDE = (LedgerAccount.TRUST_BANK, LedgerAccount.CREDITOR_PAYABLE, LedgerAccount.SUSPENSE)
_PAID = {ClaimComponent.COSTS: "costs_paid", ClaimComponent.INTEREST: "interest_paid",
         ClaimComponent.PRINCIPAL: "principal_paid"}


def balances(session) -> dict[LedgerAccount, Decimal]:
    """Balance of each account (debit +, credit -)."""
    out: dict[LedgerAccount, Decimal] = defaultdict(lambda: ZERO)
    for account, amount in session.execute(select(LedgerLine.account, LedgerLine.amount)):
        out[LedgerAccount(account)] += amount
    return out


def assert_books_balanced(session) -> None:
    """(a) every journal entry sums to zero; (b) per creditor, the compte affecté holds exactly
    the creditor payables plus the overpayments in suspense (TRUST_BANK + CREDITOR_PAYABLE +
    SUSPENSE = 0); (c) DEBTOR_RECEIVABLE + ENTRUSTED = 0; (d) the credits to DEBTOR_RECEIVABLE
    of each claim and component equal that claim's paid column."""
    session.flush()
    rows = session.execute(
        select(LedgerLine.entry_id, LedgerLine.account, LedgerLine.creditor_id, LedgerLine.claim_id,
               LedgerLine.component, LedgerLine.amount, JournalEntry.kind)
        .join(JournalEntry, JournalEntry.id == LedgerLine.entry_id)
    ).all()
    by_entry: dict[int, Decimal] = defaultdict(lambda: ZERO)
    cash: dict[int, Decimal] = defaultdict(lambda: ZERO)
    memo = ZERO
    paid: dict[tuple[int, ClaimComponent], Decimal] = defaultdict(lambda: ZERO)
    for r in rows:
        account = LedgerAccount(r.account)
        by_entry[r.entry_id] += r.amount
        if account in CASH_SIDE:
            cash[r.creditor_id] += r.amount
        if account in (LedgerAccount.DEBTOR_RECEIVABLE, LedgerAccount.ENTRUSTED):
            memo += r.amount
        if account == LedgerAccount.DEBTOR_RECEIVABLE and r.kind in ("payment", "reversal"):
            paid[(r.claim_id, ClaimComponent(r.component))] -= r.amount

    unbalanced = {e: s for e, s in by_entry.items() if s != 0}
    assert not unbalanced, f"journal entries that do not sum to zero: {unbalanced}"
    off = {c: s for c, s in cash.items() if s != 0}
    assert not off, f"trust bank != creditor payables + suspense, per creditor: {off}"
    assert memo == 0, f"receivables and entrusted sums differ by {memo}"
    for claim in session.scalars(select(Claim)):
        for component, column in _PAID.items():
            booked = paid.get((claim.id, component), ZERO)
            assert getattr(claim, column) == booked, (
                f"claim {claim.id} {column} = {getattr(claim, column)} but the books say {booked}")
