"""Reading payment files: a bank or PSP CSV, or an ISO 20022 CAMT.053 bank statement.

    read_payment_file(path, *, format="auto", mapping=None, account=None) -> PaymentFile

The whole file is read and checked before anything is written: a file with one bad row is
refused as a whole (`PaymentFileError`, with every bad row and its line), because a statement
half imported is a statement whose total nobody can check any more.

Each credit becomes an `IncomingPayment` with a stable `external_id`, so that importing the same
file again creates nothing:
- CAMT.053: the bank's own ids, in this order: the transaction's `AcctSvcrRef`, the entry's
  `AcctSvcrRef`, the entry's `NtryRef`, the `EndToEndId` (unless NOTPROVIDED); the entry's
  position in a batch entry is added when an entry holds several transactions;
- CSV: the `identifiant` column when the file has one, else a hash of the row's content and of
  the account the file belongs to (`--account`), numbered when the same content repeats in the
  file (two payments of 50,00 EUR the same day with the same label are two payments).

CAMT.053: versions camt.053.001.02 to .08 (the namespaces differ, the paths used here do not,
except `Sts` which became `Sts/Cd` and the debtor's name which moved under `Pty` in .08). Only
booked (`BOOK`) credits (`CRDT`) are payments; debits and pending entries are counted and left.
XML is parsed with defusedxml: no entity expansion, no external entity, no DTD.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from babel.numbers import list_currencies

from models.dates import DateParseError, parse_date
from models.money import MoneyError, money, parse_money
from services.portfolio_columns import MappedColumnMissing, match_columns, normalise_header
from services.portfolio_file import detect_delimiter, detect_encoding

__all__ = [
    "CSV_FIELDS",
    "IncomingPayment",
    "PaymentFile",
    "PaymentFileError",
    "read_payment_file",
]

SUPPORTED_CURRENCIES = frozenset({"EUR"})
MAX_ERRORS_SHOWN = 50

# field -> accepted headers (compared after normalise_header); the first is the documented one.
CSV_FIELDS: dict[str, tuple[str, ...]] = {
    "external_id": ("identifiant", "id", "id_transaction", "transaction_id", "reference_banque", "ref_operation"),
    "booked_on": ("date", "date_operation", "date_comptable", "date_paiement", "date_reglement"),
    "value_on": ("date_valeur",),
    "amount": ("montant", "credit", "montant_credit", "amount"),
    "currency": ("devise", "monnaie", "currency"),
    "reference": ("reference", "reference_paiement", "ref_paiement", "ref"),
    "label": ("libelle", "libelle_operation", "motif", "description"),
    "debtor_name": ("nom", "payeur", "nom_payeur", "emetteur", "donneur_ordre"),
    "debtor_iban": ("iban", "iban_payeur", "compte_emetteur"),
    "method": ("mode", "moyen_paiement", "mode_paiement"),
}
CSV_REQUIRED = ("booked_on", "amount")
METHODS = {"virement": "transfer", "transfer": "transfer", "carte": "card", "cb": "card", "card": "card",
           "cheque": "cheque", "prelevement": "direct_debit", "direct_debit": "direct_debit",
           "especes": "cash", "cash": "cash"}

_CAMT_NS = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d\d)\}Document$")
_IBAN = re.compile(r"^[A-Z]{2}\d\d[A-Z0-9]{1,30}$")


class PaymentFileError(ValueError):
    """The file cannot be imported; `errors` lists the bad rows ("ligne 12 : ...")."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        self.errors = list(errors or [])
        shown = self.errors[:MAX_ERRORS_SHOWN]
        more = len(self.errors) - len(shown)
        text = message + "".join(f"\n  {e}" for e in shown) + (f"\n  ... et {more} autres" if more > 0 else "")
        super().__init__(text)
        self.message = message


@dataclass(frozen=True)
class IncomingPayment:
    line: int  # CSV line, or entry number in the statement (1-based)
    external_id: str
    amount: Decimal
    currency: str
    booked_on: date
    value_on: date | None = None
    reference: str | None = None  # structured creditor reference (RF...), when the bank gives one
    label: str | None = None  # free text (Ustrd, bank label)
    debtor_name: str | None = None
    debtor_iban: str | None = None
    method: str = "transfer"

    def reference_text(self) -> str:
        """Where to look for the RF reference: the structured one first, then the label."""
        return " ".join(p for p in (self.reference, self.label) if p)


@dataclass
class PaymentFile:
    format: str  # csv | camt053
    account: str | None
    payments: list[IncomingPayment]
    skipped: Counter = field(default_factory=Counter)  # debit, pending, duplicate_in_file
    sha256: str = ""


def _keep_first(payment: IncomingPayment, seen: set[str], payments: list, skipped: Counter) -> None:
    """A payment listed twice in one file (same bank id) is kept once, the repeat counted."""
    if payment.external_id in seen:
        skipped["duplicate_in_file"] += 1
        return
    seen.add(payment.external_id)
    payments.append(payment)


def read_payment_file(path: Path, *, format: str = "auto", mapping: dict[str, str] | None = None,
                      account: str | None = None) -> PaymentFile:
    path = Path(path)
    if not path.is_file():
        raise PaymentFileError(f"fichier introuvable : {path.name}")
    raw = path.read_bytes()
    if not raw.strip():
        raise PaymentFileError("fichier vide")
    fmt = _detect(raw, path) if format == "auto" else format
    if fmt == "camt053":
        result = parse_camt053(raw)
    elif fmt == "csv":
        result = parse_csv(path, mapping=mapping, account=account)
    else:
        raise PaymentFileError(f"format inconnu : {format} (auto, csv ou camt053)")
    result.sha256 = hashlib.sha256(raw).hexdigest()
    return result


def _detect(raw: bytes, path: Path) -> str:
    head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:200]
    if head.startswith(b"<") or path.suffix.lower() == ".xml":
        return "camt053"
    return "csv"


# ------------------------------------------------------------------------------------------------
# CAMT.053
# ------------------------------------------------------------------------------------------------


def parse_camt053(raw: bytes) -> PaymentFile:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(raw, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise PaymentFileError(f"XML invalide : {exc}") from exc
    found = _CAMT_NS.match(root.tag)
    if not found or not "02" <= found.group(1) <= "08":
        raise PaymentFileError("ce n'est pas un relevé CAMT.053 (camt.053.001.02 à .08) : "
                               f"élément racine {root.tag[:120]}")
    ns = {"c": root.tag[1:].split("}")[0]}
    statements = root.findall("c:BkToCstmrStmt/c:Stmt", ns)
    if not statements:
        raise PaymentFileError("relevé CAMT.053 sans aucun relevé (Stmt)")

    payments: list[IncomingPayment] = []
    errors: list[str] = []
    skipped: Counter = Counter()
    seen: set[str] = set()
    accounts = set()
    entry_no = 0
    for stmt in statements:
        account = _text(stmt, "c:Acct/c:Id/c:IBAN", ns) or _text(stmt, "c:Acct/c:Id/c:Othr/c:Id", ns)
        accounts.add(account)
        for entry in stmt.findall("c:Ntry", ns):
            entry_no += 1
            try:
                found_payments = _camt_entry(entry, ns, entry_no, account, skipped)
            except PaymentFileError as exc:
                errors.append(f"écriture {entry_no} : {exc.message}")
                continue
            for p in found_payments:
                _keep_first(p, seen, payments, skipped)
    if errors:
        raise PaymentFileError("relevé refusé, rien n'a été importé :", errors)
    account = next(iter(accounts)) if len(accounts) == 1 else None
    return PaymentFile("camt053", account, payments, skipped)


def _text(node, path: str, ns) -> str | None:
    found = node.find(path, ns)
    if found is None or found.text is None:
        return None
    return " ".join(found.text.split()) or None


def _amount(node, ns, path: str = "c:Amt") -> tuple[Decimal, str]:
    found = node.find(path, ns)
    if found is None or not (found.text or "").strip():
        raise PaymentFileError("montant absent (Amt)")
    currency = (found.get("Ccy") or "").strip().upper()
    try:
        value = Decimal(found.text.strip())  # ISO 20022: a plain decimal with "." and no sign
    except ArithmeticError:
        raise PaymentFileError(f"montant illisible : {found.text.strip()[:40]!r}") from None
    return value, currency


def _check_amount(value: Decimal, currency: str) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise PaymentFileError(f"montant négatif ou nul : {value}")
    if value != value.quantize(Decimal("0.01")):
        raise PaymentFileError(f"montant avec une fraction de centime : {value}")
    _check_currency(currency)
    return money(value)


@functools.cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())  # Babel rebuilds this set on every call


def _check_currency(currency: str) -> None:
    if currency not in _known_currencies():
        raise PaymentFileError(f"devise inconnue : {currency[:10]!r}")
    if currency not in SUPPORTED_CURRENCIES:
        raise PaymentFileError(f"devise non gérée : {currency} (seul l'euro est encaissé)")


def _day(node, ns, base: str) -> date | None:
    text = _text(node, f"{base}/c:Dt", ns) or _text(node, f"{base}/c:DtTm", ns)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise PaymentFileError(f"date illisible dans {base[2:]} : {text[:30]!r}") from None


def _camt_entry(entry, ns, entry_no: int, account: str | None, skipped: Counter) -> list[IncomingPayment]:
    amount, currency = _amount(entry, ns)
    indicator = _text(entry, "c:CdtDbtInd", ns)
    if indicator not in ("CRDT", "DBIT"):
        raise PaymentFileError(f"CdtDbtInd absent ou invalide : {indicator!r}")
    status = _text(entry, "c:Sts/c:Cd", ns) or _text(entry, "c:Sts", ns)
    if indicator == "DBIT":
        skipped["debit"] += 1
        return []
    if status != "BOOK":
        skipped["not_booked"] += 1
        return []
    amount = _check_amount(amount, currency)
    booked_on = _day(entry, ns, "c:BookgDt")
    value_on = _day(entry, ns, "c:ValDt")
    if booked_on is None and value_on is None:
        raise PaymentFileError("ni date de comptabilisation (BookgDt) ni date de valeur (ValDt)")
    booked_on = booked_on or value_on
    entry_ref = _text(entry, "c:AcctSvcrRef", ns)
    ntry_ref = _text(entry, "c:NtryRef", ns)
    details = entry.findall("c:NtryDtls/c:TxDtls", ns)
    out = []
    for position, tx in enumerate(details or [None], start=1):
        if tx is not None and len(details) > 1:
            tx_amount = tx.find("c:AmtDtls/c:TxAmt/c:Amt", ns)
            value, ccy = _amount(tx, ns, "c:AmtDtls/c:TxAmt/c:Amt" if tx_amount is not None else "c:Amt")
            tx_total = _check_amount(value, ccy)
        else:
            tx_total = amount
        own = _text(tx, "c:Refs/c:AcctSvcrRef", ns) if tx is not None else None
        end_to_end = _text(tx, "c:Refs/c:EndToEndId", ns) if tx is not None else None
        if end_to_end and end_to_end.upper() == "NOTPROVIDED":
            end_to_end = None
        suffix = f"/{position}" if len(details) > 1 else ""
        if own:
            bank_id = own
        elif entry_ref or ntry_ref:
            bank_id = (entry_ref or ntry_ref) + suffix
        elif end_to_end:
            bank_id = "e2e:" + end_to_end
        else:
            raise PaymentFileError("aucun identifiant bancaire (AcctSvcrRef, NtryRef ou EndToEndId)")
        external_id = f"camt:{account or ''}:{bank_id}"[:120]
        structured = ustrd = name = iban = None
        if tx is not None:
            structured = _text(tx, "c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref", ns)
            ustrd = " ".join(t for t in (_text(u, ".", ns) for u in tx.findall("c:RmtInf/c:Ustrd", ns)) if t) or None
            name = _text(tx, "c:RltdPties/c:Dbtr/c:Nm", ns) or _text(tx, "c:RltdPties/c:Dbtr/c:Pty/c:Nm", ns)
            iban = _text(tx, "c:RltdPties/c:DbtrAcct/c:Id/c:IBAN", ns)
        label = ustrd or _text(entry, "c:AddtlNtryInf", ns)
        out.append(IncomingPayment(
            line=entry_no, external_id=external_id, amount=tx_total, currency=currency, booked_on=booked_on,
            value_on=value_on, reference=structured, label=label[:300] if label else None,
            debtor_name=name[:140] if name else None, debtor_iban=_clean_iban(iban),
        ))
    if len(out) > 1 and sum(p.amount for p in out) != amount:
        raise PaymentFileError(f"les transactions ({sum(p.amount for p in out)}) ne font pas le montant "
                               f"de l'écriture ({amount})")
    return out


def _clean_iban(value: str | None) -> str | None:
    if not value:
        return None
    compact = "".join(value.split()).upper()
    return compact if _IBAN.match(compact) else None


# ------------------------------------------------------------------------------------------------
# CSV
# ------------------------------------------------------------------------------------------------


def resolve_csv_header(header: list[str], mapping: dict[str, str] | None) -> dict[str, int]:
    unknown = sorted(set(mapping or {}) - set(CSV_FIELDS))
    if unknown:
        raise PaymentFileError(f"champs inconnus dans la correspondance : {', '.join(unknown)}")
    try:
        columns = match_columns(header, mapping, CSV_FIELDS)
    except MappedColumnMissing as exc:
        raise PaymentFileError(str(exc)) from exc
    missing = [f for f in CSV_REQUIRED if f not in columns]
    if missing:
        raise PaymentFileError("colonnes obligatoires absentes : " + ", ".join(CSV_FIELDS[f][0] for f in missing)
                               + f" (en-tête lu : {'; '.join(h[:30] for h in header[:12])})")
    return columns
def parse_csv(path: Path, *, mapping: dict[str, str] | None = None, account: str | None = None) -> PaymentFile:
    encoding = detect_encoding(path)
    with open(path, encoding=encoding, newline="") as fh:
        first = fh.readline()
        if not first.strip():
            raise PaymentFileError("fichier vide")
        try:
            delimiter = detect_delimiter(first)
        except ValueError as exc:
            raise PaymentFileError(str(exc)) from exc
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader)
        columns = resolve_csv_header(header, mapping)
        account = _clean_iban(account) or (account or "").strip() or None
        payments, errors = [], []
        repeats: Counter = Counter()
        seen_ids: set[str] = set()
        skipped: Counter = Counter()
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            line = reader.line_num
            values = {name: (record[i].strip() if i < len(record) else "") for name, i in columns.items()}
            try:
                payment = _csv_payment(line, values, account, repeats)
            except PaymentFileError as exc:
                errors.append(f"ligne {line} : {exc.message}")
                continue
            _keep_first(payment, seen_ids, payments, skipped)
    if errors:
        raise PaymentFileError("fichier refusé, rien n'a été importé :", errors)
    return PaymentFile("csv", account, payments, skipped)


@functools.lru_cache(maxsize=256)
def _method(text: str) -> str | None:
    # A statement spells its few methods the same way on every line: normalised once each.
    return METHODS.get(normalise_header(text))


def _csv_payment(line: int, v: dict[str, str], account: str | None, repeats: Counter) -> IncomingPayment:
    try:
        amount = parse_money(v["amount"])
    except MoneyError as exc:
        raise PaymentFileError(f"montant illisible : {exc}") from None
    if amount <= 0:
        raise PaymentFileError(f"montant négatif ou nul : {v['amount'][:20]}")
    currency = (v.get("currency") or "EUR").upper()
    _check_currency(currency)
    try:
        booked_on = parse_date(v["booked_on"])
        value_on = parse_date(v["value_on"]) if v.get("value_on") else None
    except DateParseError as exc:
        raise PaymentFileError(f"date illisible : {exc}") from None
    method = _method(v.get("method") or "virement")
    if method is None:
        raise PaymentFileError(f"mode de paiement inconnu : {v['method'][:20]!r}")
    iban_text = v.get("debtor_iban") or None
    iban = _clean_iban(iban_text)
    if iban_text and iban is None:
        raise PaymentFileError("IBAN du payeur illisible")
    bank_id = v.get("external_id") or None
    if bank_id:
        external_id = f"csv:{account or ''}:{bank_id}"[:120]
    else:
        content = "\x1f".join([account or "", booked_on.isoformat(), str(amount), currency, v.get("reference") or "",
                               v.get("label") or "", v.get("debtor_name") or "", iban or ""])
        repeats[content] += 1
        digest = hashlib.sha256(f"{content}\x1e{repeats[content]}".encode()).hexdigest()[:40]
        external_id = f"csvh:{digest}"
    return IncomingPayment(
        line=line, external_id=external_id, amount=amount, currency=currency, booked_on=booked_on,
        value_on=value_on, reference=(v.get("reference") or None), label=(v.get("label") or None),
        debtor_name=(v.get("debtor_name") or None), debtor_iban=iban, method=method,
    )
