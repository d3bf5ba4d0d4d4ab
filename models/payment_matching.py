"""Matching a payment to a dossier: the rules, pure (no database).

In order, the first rule that gives exactly one open dossier wins:
1. reference: the ISO 11649 reference printed on every letter, SMS and email ("RF71 1234 5"),
   found in the structured reference or the label with valid check digits, names the dossier;
2. iban: the payer's IBAN was seen on a payment already applied to a dossier; when that IBAN
   paid several open dossiers, the payer's dossier whose balance, next installment or promise
   equals the amount, if exactly one;
3. name_amount: the payer's name is the debtor's (case, accents, word order and civility set
   aside) and the amount equals the open dossier's balance, its next installment or its open
   promise: only when exactly one dossier fits.
Otherwise the payment waits in suspense for a manager. A rule that finds two dossiers never
guesses: money booked on the wrong debtor's file is worse than money waiting a day.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Container, Iterable
from dataclasses import dataclass
from decimal import Decimal

from models.references import parse_payment_reference

__all__ = ["Candidate", "Match", "choose_dossier", "name_key", "reference_dossier"]

REFERENCE, IBAN, NAME_AMOUNT, MANUAL = "reference", "iban", "name_amount", "manual"
_CIVILITIES = frozenset({"M", "MR", "MME", "MLLE", "MONSIEUR", "MADAME", "MADEMOISELLE", "STE", "SOCIETE", "SAS",
                         "SARL", "SA", "EURL", "SCI", "ET", "OU"})


@dataclass(frozen=True)
class Candidate:
    """An open dossier that a payment may be for, and the amounts the debtor was asked."""

    dossier_id: int
    name_key: str
    amounts: frozenset[Decimal]  # balance to the day, next installment, open promise


@dataclass(frozen=True)
class Match:
    dossier_id: int
    rule: str


def name_key(name: str | None) -> str:
    """"Mme Françoise LEFÈVRE" and "LEFEVRE FRANCOISE" -> "FRANCOISE LEFEVRE"."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().upper()
    words = "".join(ch if ch.isalnum() else " " for ch in text).split()
    return " ".join(sorted(w for w in words if w not in _CIVILITIES))


def reference_dossier(text: str | None, open_dossiers: Container[int] | None = None) -> int | None:
    """The dossier named by a valid RF reference in `text` (and open, when `open_dossiers` is given)."""
    dossier_id = parse_payment_reference(text or "")
    if dossier_id is None:
        return None
    if open_dossiers is not None and dossier_id not in open_dossiers:
        return None
    return dossier_id


def _by_amount(candidates: Iterable[Candidate], amount: Decimal) -> list[int]:
    return sorted({c.dossier_id for c in candidates if amount in c.amounts})


def choose_dossier(
    *,
    amount: Decimal,
    referenced: int | None,
    iban_candidates: Iterable[Candidate] = (),
    payer_name: str | None = None,
    name_candidates: Iterable[Candidate] = (),
) -> Match | None:
    """Apply the rules above. `referenced`: the open dossier a valid reference names (or None);
    `iban_candidates`: open dossiers of the debtors that paid from this IBAN before;
    `name_candidates`: open dossiers whose debtor's name key equals the payer's."""
    if referenced is not None:
        return Match(referenced, REFERENCE)
    by_iban = list(iban_candidates)
    ids = sorted({c.dossier_id for c in by_iban})
    if len(ids) == 1:
        return Match(ids[0], IBAN)
    if len(ids) > 1:
        fitting = _by_amount(by_iban, amount)
        if len(fitting) == 1:
            return Match(fitting[0], IBAN)
    key = name_key(payer_name)
    if key:
        fitting = _by_amount((c for c in name_candidates if c.name_key == key), amount)
        if len(fitting) == 1:
            return Match(fitting[0], NAME_AMOUNT)
    return None

