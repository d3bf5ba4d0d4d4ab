"""A creditor's mandate terms and bank account, set by a manager (`relance creditor mandate`).

The IBAN and BIC are checked (schwifty, through channels/sepa_transfer.py) before they are
stored: a remittance must never be the first place a bad account is found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from sqlalchemy import select

from models.parties import Creditor

__all__ = ["CreditorError", "MandateTerms", "update_mandate"]

log = logging.getLogger(__name__)


class CreditorError(ValueError):
    """Unknown creditor or terms that cannot be stored; nothing was changed."""


@dataclass(frozen=True)
class MandateTerms:
    name: str
    legal_name: str | None
    iban: str | None
    bic: str | None
    commission_rate: Decimal
    fixed_fee_per_file: Decimal
    remittance_delay_days: int

    def as_dict(self) -> dict:
        return {"name": self.name, "legal_name": self.legal_name, "iban": self.iban, "bic": self.bic,
                "commission_rate": str(self.commission_rate), "fixed_fee_per_file": str(self.fixed_fee_per_file),
                "remittance_delay_days": self.remittance_delay_days}


def update_mandate(
    uow_factory: Callable,
    name: str,
    *,
    iban: str | None = None,
    bic: str | None = None,
    commission_rate: Decimal | None = None,
    fixed_fee_per_file: Decimal | None = None,
    remittance_delay_days: int | None = None,
    legal_name: str | None = None,
) -> MandateTerms:
    """Change the given terms (None leaves a term as it is) and return them all."""
    from channels.sepa_transfer import BankAccountError, check_account

    if commission_rate is not None and not Decimal(0) <= commission_rate <= Decimal(1):
        raise CreditorError("la commission est un taux entre 0 et 100 %")
    if fixed_fee_per_file is not None and fixed_fee_per_file < 0:
        raise CreditorError("les frais fixes par dossier ne peuvent être négatifs")
    if remittance_delay_days is not None and not 0 <= remittance_delay_days <= 366:
        raise CreditorError("le délai de reversement se compte en jours, de 0 à 366")
    with uow_factory() as uow:
        cred = uow.session.scalar(select(Creditor).where(Creditor.name == name).with_for_update())
        if cred is None:
            raise CreditorError(f"créancier inconnu : {name}")
        if iban is not None or bic is not None:
            try:
                account = check_account(iban if iban is not None else cred.iban,
                                        bic if bic is not None else cred.bic, owner=name)
            except BankAccountError as exc:
                raise CreditorError(str(exc)) from exc
            cred.iban, cred.bic = account.iban, account.bic
        if commission_rate is not None:
            cred.commission_rate = commission_rate
        if fixed_fee_per_file is not None:
            cred.fixed_fee_per_file = fixed_fee_per_file
        if remittance_delay_days is not None:
            cred.remittance_delay_days = remittance_delay_days
        if legal_name is not None:
            cred.legal_name = legal_name
        terms = MandateTerms(cred.name, cred.legal_name, cred.iban, cred.bic, cred.commission_rate,
                             cred.fixed_fee_per_file, cred.remittance_delay_days)
        uow.commit()
    log.info("mandate terms of creditor %s updated", cred.id)
    return terms
