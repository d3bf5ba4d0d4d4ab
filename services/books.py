"""The books: the chart of accounts, the trial balance and the invariants checked after every
operation (payment, reversal, remittance, claw-back).

Chart of accounts (models.enums.LedgerAccount; signed amounts, debit +, credit -)
-------------------------------------------------------------------------------
Trust side, the compte affecté (CPCE R124-6: an account used for nothing else):
- TRUST_BANK        the compte affecté itself (debit balance);
- CREDITOR_PAYABLE  funds held for each creditor, to be remitted (credit balance). A debit
                    balance is a claw-back: a payment reversed after it was remitted, which
                    the creditor owes back and which the next remittance deducts;
- SUSPENSE          money received that is nobody's claim (overpayment, unmatched payment),
                    to be refunded or assigned (credit balance).
Office side, outside the compte affecté:
- OFFICE_BANK       the office's own account, which receives its fees;
- FEE_INCOME        the office's commission and fixed fees (credit balance).
Memo side, the claims the creditors entrusted:
- DEBTOR_RECEIVABLE what debtors owe, per claim and component;
- ENTRUSTED         its counterpart.

Entries by kind (services/payments.py and services/remittance.py hold the details):
- payment:    Dr TRUST_BANK A / Cr CREDITOR_PAYABLE applied / Cr SUSPENSE unapplied
              (+ memo: Cr DEBTOR_RECEIVABLE per allocation / Dr ENTRUSTED applied);
- reversal:   the payment's lines negated;
- fee:        Dr CREDITOR_PAYABLE F / Cr TRUST_BANK F / Dr OFFICE_BANK F / Cr FEE_INCOME F
              (F = commission + fixed fees taken at remittance; negative when fees are given
              back on a claw-back);
- remittance: Dr CREDITOR_PAYABLE N / Cr TRUST_BANK N (N = the net transferred).
Fees never touch DEBTOR_RECEIVABLE: they are deducted from the creditor's funds, never added
to what a debtor owes (CPCE L111-8).

Invariants (`check_invariants`):
1. every journal entry sums to zero;
2. per creditor, TRUST_BANK + CREDITOR_PAYABLE + SUSPENSE = 0: the compte affecté holds
   exactly the creditors' funds plus the money in suspense (lines without a creditor, such as
   unmatched payments, form their own group and must balance too);
3. OFFICE_BANK + FEE_INCOME = 0: the fees recognised are the fees moved to the office;
4. DEBTOR_RECEIVABLE + ENTRUSTED = 0.

Sums are taken in the database on integer cents (`round(amount * 100)`): exact on
PostgreSQL and on SQLite, where Numeric values come back as floats.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import BigInteger, cast, func, select

from models.enums import LedgerAccount
from models.ledger import LedgerLine

__all__ = ["TRUST_SIDE", "InvariantViolation", "check_invariants", "trial_balance", "trial_balance_by_creditor"]

TRUST_SIDE = (LedgerAccount.TRUST_BANK, LedgerAccount.CREDITOR_PAYABLE, LedgerAccount.SUSPENSE)
OFFICE_SIDE = (LedgerAccount.OFFICE_BANK, LedgerAccount.FEE_INCOME)
MEMO_SIDE = (LedgerAccount.DEBTOR_RECEIVABLE, LedgerAccount.ENTRUSTED)
_CENTS = cast(func.round(LedgerLine.amount * 100), BigInteger)


@dataclass(frozen=True)
class InvariantViolation:
    rule: str  # "entry_balance", "trust_account", "office_fees", "receivables"
    detail: str


def _session(uow_or_session):
    return getattr(uow_or_session, "session", None) or uow_or_session


def _euros(cents: int) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))


def trial_balance(uow) -> dict[LedgerAccount, Decimal]:
    """Balance of every account (debit +, credit -); accounts without lines are 0.00."""
    session = _session(uow)
    session.flush()
    out = {account: Decimal("0.00") for account in LedgerAccount}
    for account, cents in session.execute(
            select(LedgerLine.account, func.sum(_CENTS)).group_by(LedgerLine.account)):
        out[LedgerAccount(account)] = _euros(cents or 0)
    return out


def trial_balance_by_creditor(uow) -> dict[int | None, dict[LedgerAccount, Decimal]]:
    """The same, per creditor (None: lines booked for no creditor)."""
    session = _session(uow)
    session.flush()
    out: dict[int | None, dict[LedgerAccount, Decimal]] = defaultdict(dict)
    for creditor_id, account, cents in session.execute(
            select(LedgerLine.creditor_id, LedgerLine.account, func.sum(_CENTS))
            .group_by(LedgerLine.creditor_id, LedgerLine.account)):
        out[creditor_id][LedgerAccount(account)] = _euros(cents or 0)
    return dict(out)


def check_invariants(uow) -> list[InvariantViolation]:
    """Every broken invariant of the books (see the module docstring); empty when all hold."""
    session = _session(uow)
    session.flush()
    problems: list[InvariantViolation] = []
    unbalanced = session.execute(
        select(LedgerLine.entry_id, func.sum(_CENTS)).group_by(LedgerLine.entry_id)
        .having(func.sum(_CENTS) != 0).order_by(LedgerLine.entry_id).limit(20)).all()
    for entry_id, cents in unbalanced:
        problems.append(InvariantViolation("entry_balance", f"journal entry {entry_id} is off by {_euros(cents)}"))

    by_creditor = trial_balance_by_creditor(session)
    for creditor_id, accounts in sorted(by_creditor.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        trust = sum((accounts.get(a, Decimal(0)) for a in TRUST_SIDE), Decimal("0.00"))
        if trust != 0:
            problems.append(InvariantViolation(
                "trust_account",
                f"creditor {creditor_id}: trust bank {accounts.get(LedgerAccount.TRUST_BANK, Decimal('0.00'))} "
                f"!= payables + suspense (off by {trust})"))
    totals = trial_balance(session)
    office = totals[LedgerAccount.OFFICE_BANK] + totals[LedgerAccount.FEE_INCOME]
    if office != 0:
        problems.append(InvariantViolation("office_fees", f"office bank + fee income = {office}"))
    memo = totals[LedgerAccount.DEBTOR_RECEIVABLE] + totals[LedgerAccount.ENTRUSTED]
    if memo != 0:
        problems.append(InvariantViolation("receivables", f"receivables + entrusted = {memo}"))
    return problems
