"""The payment reference printed on every letter, SMS and email, and found again in bank labels.

An ISO 11649 creditor reference: "RF", two check digits, then the dossier id in decimal without
leading zeros (short enough to type into a transfer label). Printed form, in groups of four as
the standard recommends: "RF71 1234 5"; compact form: "RF7112345".

Debtors copy it as they like ("rf71 12345", "REF RF71 1234 5 FACTURE 3"), so the parser takes
"RF" followed by digits with any single spaces between them, tries the longest run first and
keeps the first one whose check digits hold. Check digits make a chance match about 1 in 97 per
candidate; the caller still matches the amount and the dossier before booking a payment.
"""

from __future__ import annotations

import re

from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

MAX_DOSSIER_ID = 10**21 - 1  # ISO 11649 allows 21 characters after "RF" and the check digits

_CANDIDATE = re.compile(r"RF ?(\d\d)((?: ?\d)+)")


def payment_reference(dossier_id: int, *, compact: bool = False) -> str:
    """"RF71 1234 5" (printed, grouped by four) or, with compact=True, "RF7112345"."""
    if isinstance(dossier_id, bool) or not isinstance(dossier_id, int):
        raise TypeError("dossier_id must be an int")
    if not 1 <= dossier_id <= MAX_DOSSIER_ID:
        raise ValueError(f"dossier_id must be between 1 and {MAX_DOSSIER_ID}")
    body = str(dossier_id)
    # ISO 11649: the check digits make body + "RF" + check digits equal 1 modulo 97.
    reference = "RF" + mod_97_10.calc_check_digits(body + "RF") + body
    reference = iso11649.validate(reference)
    return reference if compact else iso11649.format(reference)


def parse_payment_reference(text: str) -> int | None:
    """The dossier id of the first valid reference in a free-text bank label, else None."""
    if not text:
        return None
    label = " ".join(text.upper().split())
    for match in _CANDIDATE.finditer(label):
        check, run = match.groups()
        digits = run.split()
        # Longest run first: the reference as printed may be followed by other numbers.
        for end in range(len(digits), 0, -1):
            body = "".join(digits[:end])
            if body.startswith("0") or len(body) > 21:
                continue  # not a form this module prints
            if _check_digits_hold(check, body):
                return int(body)
    return None


def _check_digits_hold(check: str, body: str) -> bool:
    """ISO 11649 for an all-digit body: body, "RF" as 27 15, then the check digits, read as one
    number, is 1 modulo 97 (what `iso11649.is_valid` computes, without its parsing, a million
    times per statement)."""
    return int(body + "2715" + check) % 97 == 1
