"""A creditor's mandate terms: the commission on collected sums and the fixed fee per file."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select

from models.parties import Creditor


class MandateError(ValueError):
    """An unknown creditor or terms out of range."""


def set_mandate_terms(uow_factory: Callable, creditor: str, *, commission_rate: Decimal,
                      fixed_fee_per_file: Decimal) -> None:
    """`commission_rate` is a fraction of collected sums (0.15 = 15 %)."""
    if not Decimal("0") <= commission_rate < Decimal("1"):
        raise MandateError("la commission est une fraction des sommes encaissées, de 0 à 1 (0,15 = 15 %)")
    if fixed_fee_per_file < 0:
        raise MandateError("le forfait par dossier ne peut pas être négatif")
    with uow_factory() as uow:
        found = uow.session.scalar(select(Creditor).where(Creditor.name == creditor))
        if found is None:
            raise MandateError(f"créancier inconnu : {creditor}")
        found.commission_rate, found.fixed_fee_per_file = commission_rate, fixed_fee_per_file
        uow.commit()
