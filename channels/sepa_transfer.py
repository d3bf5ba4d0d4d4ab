"""SEPA credit transfers: bank accounts checked with schwifty, pain.001.001.03 files built with
sepaxml and validated against the XSD that sepaxml ships.

The only module that imports schwifty and sepaxml (ARCHITECTURE.md: one adapter per library).

    check_account(iban, bic, *, owner) -> BankAccount    raises BankAccountError (French message)
    credit_transfer_file(debtor, transfers, *, message_id, execution_date, created_at) -> bytes

The file holds one payment information block (batch booking) debiting `debtor` (the compte
affecté) with one CdtTrfTxInf per transfer. Message id, payment information id and creation
time are set by us, not drawn at random: the same batch always gives the same file, and a
bank refuses a second file with a MsgId it has already seen, which guards against paying a
batch twice.
"""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sepaxml
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaTransfer

__all__ = ["BankAccount", "BankAccountError", "CreditTransfer", "PAIN_NS", "check_account", "credit_transfer_file"]

SCHEMA = "pain.001.001.03"
PAIN_NS = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"
XSD_PATH = os.path.join(os.path.dirname(sepaxml.__file__), "schemas", f"{SCHEMA}.xsd")
# SEPA's restricted Latin character set for ids (EPC guidelines): letters, digits and / - ? : ( ) . , ' + space.
_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/-?:().,'+ ")


class BankAccountError(ValueError):
    """An IBAN or BIC that cannot receive or send a SEPA transfer."""


@dataclass(frozen=True)
class BankAccount:
    owner: str
    iban: str  # compact, upper case
    bic: str | None  # 8 or 11 characters, or None (IBAN-only is allowed within SEPA)


@dataclass(frozen=True)
class CreditTransfer:
    account: BankAccount
    amount: Decimal  # positive, in cents
    end_to_end_id: str  # at most 35 characters, unique per transfer
    remittance_info: str  # at most 140 characters (unstructured)


def check_account(iban: str | None, bic: str | None, *, owner: str) -> BankAccount:
    """The account, normalised; BankAccountError naming `owner` when it cannot be used."""
    if not iban or not iban.strip():
        raise BankAccountError(f"{owner} : aucun IBAN enregistré")
    try:
        parsed = IBAN(iban)
    except SchwiftyException as exc:
        raise BankAccountError(f"{owner} : IBAN invalide ({exc})") from exc
    checked_bic = None
    if bic and bic.strip():
        try:
            checked_bic = BIC(bic).compact
        except SchwiftyException as exc:
            raise BankAccountError(f"{owner} : BIC invalide ({exc})") from exc
    return BankAccount(owner=owner, iban=parsed.compact, bic=checked_bic)


def _cents(amount: Decimal) -> int:
    cents = amount * 100
    if cents != cents.to_integral_value() or cents <= 0:
        raise ValueError(f"a credit transfer needs a positive amount in cents, not {amount}")
    return int(cents)


def _check_id(value: str, label: str) -> str:
    if not 1 <= len(value) <= 35 or not set(value) <= _ID_CHARS:
        raise ValueError(f"{label} must be 1-35 SEPA characters: {value!r}")
    return value


def credit_transfer_file(
    debtor: BankAccount,
    transfers: Sequence[CreditTransfer],
    *,
    message_id: str,
    execution_date: date,
    created_at: datetime,
) -> bytes:
    """The pain.001.001.03 document for `transfers`, validated against the XSD."""
    if not transfers:
        raise ValueError("a credit transfer file needs at least one transfer")
    _check_id(message_id, "message_id")
    config = {"name": debtor.owner, "IBAN": debtor.iban, "batch": True, "currency": "EUR"}
    if debtor.bic:
        config["BIC"] = debtor.bic
    sepa = SepaTransfer(config, schema=SCHEMA, clean=True)
    for t in transfers:
        payment = {
            "name": t.account.owner,
            "IBAN": t.account.iban,
            "amount": _cents(t.amount),
            "execution_date": execution_date,
            "description": t.remittance_info[:140],
            "endtoend_id": _check_id(t.end_to_end_id, "end_to_end_id"),
        }
        if t.account.bic:
            payment["BIC"] = t.account.bic
        sepa.add_payment(payment)
    raw = sepa.export(validate=False)

    # sepaxml draws MsgId, PmtInfId and CreDtTm itself: make them ours, then validate.
    ns = {"p": PAIN_NS}
    ET.register_namespace("", PAIN_NS)
    root = ET.fromstring(raw)
    root.find("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", ns).text = message_id
    root.find("p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm", ns).text = created_at.strftime("%Y-%m-%dT%H:%M:%S")
    for n, info in enumerate(root.findall("p:CstmrCdtTrfInitn/p:PmtInf", ns), start=1):
        info.find("p:PmtInfId", ns).text = f"{message_id[:31]}-{n:03d}"
    buffer = io.BytesIO()
    ET.ElementTree(root).write(buffer, encoding="UTF-8", xml_declaration=True)
    document = buffer.getvalue()
    validate(document)
    return document


def validate(document: bytes) -> None:
    """Raise ValueError when `document` does not follow the pain.001.001.03 schema."""
    schema = _schema()
    errors = list(schema.iter_errors(document.decode("utf-8")))
    if errors:
        raise ValueError(f"pain.001 file does not follow {SCHEMA}.xsd: {errors[0].reason}")


_SCHEMA_CACHE: list = []


def _schema():
    import xmlschema  # imported here: slow to import, and only the file builder needs it

    if not _SCHEMA_CACHE:
        _SCHEMA_CACHE.append(xmlschema.XMLSchema(XSD_PATH))
    return _SCHEMA_CACHE[0]
