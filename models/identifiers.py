"""Identifiers checked at the import boundary: SIREN, SIRET, email address.

Messages say what is wrong, never repeat the value: an email address is personal data and a
sole trader's SIREN identifies a person.
"""

from __future__ import annotations

import re
from functools import lru_cache

from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.fr import siren, siret


class IdentifierError(ValueError):
    """An identifier that fails its format or checksum."""


def _validate_with(module, name: str, digits: int, text: str) -> str:
    if not isinstance(text, str):
        raise IdentifierError(f"{name} invalide: texte attendu")
    try:
        return module.validate(text)
    except InvalidLength:
        raise IdentifierError(f"{name} invalide: {digits} chiffres attendus") from None
    except InvalidChecksum:
        raise IdentifierError(f"{name} invalide: clé de contrôle incorrecte") from None
    except (InvalidFormat, InvalidComponent):
        raise IdentifierError(f"{name} invalide: chiffres uniquement") from None
    except StdnumValidationError:
        raise IdentifierError(f"{name} invalide") from None


def validate_siren(text: str) -> str:
    """The 9-digit SIREN without separators ("732 829 320" -> "732829320")."""
    return _validate_with(siren, "SIREN", 9, text)


def validate_siret(text: str) -> str:
    """The 14-digit SIRET without separators; La Poste's establishments use their own checksum,
    which python-stdnum knows."""
    return _validate_with(siret, "SIRET", 14, text)


# Pragmatic, not RFC 5322: the dot-atom local part that mail systems actually accept, and a
# domain of at least two labels. Deliverability is the email provider's business (bounces).
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


@lru_cache(maxsize=4096)
def _ascii_domain(domain: str) -> str:
    """The IDNA (ASCII) form of a lowercased domain, checked; IdentifierError otherwise.
    Memoised: the IDNA codec is most of an email check's cost, and a portfolio's addresses
    share a few hundred domains (failures are not cached, they raise again)."""
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise IdentifierError("adresse e-mail invalide: domaine incorrect") from None
    labels = ascii_domain.split(".")
    if (
        len(labels) < 2
        or len(ascii_domain) > 253
        or not all(_LABEL.fullmatch(label) for label in labels)
        or not _TLD.fullmatch(labels[-1])
    ):
        raise IdentifierError("adresse e-mail invalide: domaine incorrect")
    return ascii_domain


def validate_email(text: str) -> str:
    """The address with its domain lowercased (the local part is case-sensitive in theory and
    left alone). Internationalised domains are accepted and kept in Unicode; a non-ASCII local
    part is refused (few French providers deliver it)."""
    if not isinstance(text, str):
        raise IdentifierError("adresse e-mail invalide: texte attendu")
    address = text.strip()
    if address.count("@") != 1:
        raise IdentifierError("adresse e-mail invalide: un seul @ attendu")
    local, domain = address.split("@")
    domain = domain.lower()
    if not local or len(local) > 64 or not _LOCAL.fullmatch(local):
        raise IdentifierError("adresse e-mail invalide: partie avant @ incorrecte")
    ascii_domain = _ascii_domain(domain)
    if len(local) + 1 + len(ascii_domain) > 254:
        raise IdentifierError("adresse e-mail invalide: trop longue")
    return f"{local}@{domain}"
