"""One portfolio row -> a validated record, or the reason it is rejected.

Structural problems (no reference, a bad amount or date, a bad SIREN, a rule of law broken)
reject the row. Contact problems (an invalid phone, email or address) do not: the contact point
is kept, marked invalid with its reason, and reported as a warning, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime
from decimal import Decimal

from models.addresses import AddressError, address_block, holiday_subdivision, region_for_postcode
from models.dates import DateParseError, parse_date
from models.enums import ClaimNature, DebtorKind, InterestMode, LineType
from models.identifiers import IdentifierError, validate_email, validate_siren, validate_siret
from models.interest import B2B_RECOVERY_INDEMNITY
from models.money import MoneyError, money, parse_money
from models.phones import PhoneError, PhoneNormaliser, timezone_for_region
from models.prescription import PrescriptionState, prescription_years
from services.portfolio_columns import normalise_header
from services.portfolio_file import RawRow

# A judgment turns the claim into an enforceable title: 10 years to enforce it (CPCE L111-4).
JUDGMENT_PRESCRIPTION_YEARS = 10
MAX_REF = 64


class RowError(ValueError):
    """The row is rejected; the message is the reason shown to the user."""


@dataclass(frozen=True)
class ContactRecord:
    kind: str  # phone / email / address
    value: str
    valid: bool
    invalid_reason: str | None = None
    line_type: LineType | None = None
    region: str | None = None
    rank: int = 0


@dataclass(frozen=True)
class PortfolioRow:
    line: int
    dossier_ref: str
    debtor_ref: str
    debtor_kind: DebtorKind
    civility: str | None
    first_name: str | None
    last_name: str | None
    company_name: str | None
    siren: str | None
    siret: str | None
    birth_date: date | None
    deceased: bool
    timezone: str
    holiday_region: str | None
    invoice_ref: str
    nature: ClaimNature
    principal: Decimal
    costs: Decimal
    indemnity: Decimal
    issued_on: date | None
    due_date: date
    interest_mode: InterestMode
    contractual_rate: Decimal | None
    interest_from: date | None
    judgment_on: date | None
    judgment_enforceable_on: date | None
    prescription_start: date
    prescription_years: int
    last_interruption_on: date | None
    prescription_expires_on: date
    placed_on: date
    contacts: tuple[ContactRecord, ...]
    warnings: tuple[str, ...] = field(default=())


_KIND = {
    "particulier": DebtorKind.PERSON, "personne": DebtorKind.PERSON, "p": DebtorKind.PERSON,
    "pp": DebtorKind.PERSON, "personne_physique": DebtorKind.PERSON, "person": DebtorKind.PERSON,
    "entreprise": DebtorKind.COMPANY, "societe": DebtorKind.COMPANY, "e": DebtorKind.COMPANY,
    "pm": DebtorKind.COMPANY, "personne_morale": DebtorKind.COMPANY, "professionnel": DebtorKind.COMPANY,
    "company": DebtorKind.COMPANY,
}
_NATURE = {
    "consommation": ClaimNature.CONSUMER, "consumer": ClaimNature.CONSUMER,
    "particulier": ClaimNature.CONSUMER, "conso": ClaimNature.CONSUMER,
    "commerciale": ClaimNature.BUSINESS, "business": ClaimNature.BUSINESS, "b2b": ClaimNature.BUSINESS,
    "professionnelle": ClaimNature.BUSINESS, "commerce": ClaimNature.BUSINESS,
    "autre": ClaimNature.OTHER, "other": ClaimNature.OTHER, "civile": ClaimNature.OTHER,
}
_INTEREST = {
    "aucun": InterestMode.NONE, "none": InterestMode.NONE, "non": InterestMode.NONE,
    "legal": InterestMode.LEGAL, "taux_legal": InterestMode.LEGAL,
    "b2b": InterestMode.B2B, "l441_10": InterestMode.B2B, "penalites": InterestMode.B2B,
    "contractuel": InterestMode.CONTRACTUAL, "contractual": InterestMode.CONTRACTUAL,
}
_TRUE = {"oui", "o", "1", "true", "vrai", "x", "yes", "y"}
_FALSE = {"non", "n", "0", "false", "faux", "no", ""}


# Dates and amounts repeat a lot within a portfolio (due dates, instalment amounts): each
# distinct text is parsed once. Errors are not cached, they are raised again.
_parse_date = lru_cache(maxsize=16384)(parse_date)
_parse_money = lru_cache(maxsize=65536)(parse_money)


@lru_cache(maxsize=4096)
def _key(value: object) -> str:
    return normalise_header(str(value))


def _text(raw: dict, name: str, max_len: int = 200) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        text = value if "  " not in value else " ".join(value.split())
    else:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # XLSX numbers used as references
        text = " ".join(str(value).split())
    if len(text) > max_len:
        raise RowError(f"{name}: plus de {max_len} caractères")
    return text or None


def _money(raw: dict, name: str, label: str) -> Decimal | None:
    value = raw.get(name)
    if value is None:
        return None
    try:
        if isinstance(value, (int, float)):
            return money(repr(value) if isinstance(value, float) else value)
        return _parse_money(value if isinstance(value, str) else str(value))
    except (MoneyError, TypeError, ValueError) as exc:
        raise RowError(f"{label}: montant illisible") from exc


def _date(raw: dict, name: str, label: str) -> date | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return _parse_date(value if isinstance(value, str) else str(value))
    except DateParseError as exc:
        raise RowError(f"{label}: date illisible") from exc


def dossier_ref_of(value: object) -> str | None:
    """The dossier reference parse_row would read from this cell, or None if it would reject it."""
    try:
        return _text({"dossier_ref": value}, "dossier_ref", MAX_REF)
    except RowError:
        return None


def parse_row(raw_row: RawRow, *, phones: PhoneNormaliser, as_of: date) -> PortfolioRow:
    """Validate one row. `as_of` is the import day (default placement date)."""
    raw = raw_row.values
    warnings: list[str] = []

    dossier_ref = _text(raw, "dossier_ref", MAX_REF)
    if not dossier_ref:
        raise RowError("référence dossier manquante")
    invoice_ref = _text(raw, "invoice_ref", MAX_REF) or dossier_ref
    debtor_ref = _text(raw, "debtor_ref", MAX_REF) or dossier_ref

    company_name = _text(raw, "company_name")
    last_name = _text(raw, "last_name", 100)
    siren_raw, siret_raw = _text(raw, "siren", 20), _text(raw, "siret", 30)
    kind_text = _text(raw, "debtor_kind", 40)
    if kind_text:
        kind = _KIND.get(_key(kind_text))
        if kind is None:
            raise RowError(f"type de débiteur inconnu: {kind_text[:20]}")
    else:
        kind = DebtorKind.COMPANY if (company_name or siren_raw or siret_raw) and not last_name else DebtorKind.PERSON
    if kind == DebtorKind.PERSON and not last_name:
        raise RowError("nom du débiteur manquant")
    if kind == DebtorKind.COMPANY and not company_name:
        raise RowError("raison sociale manquante")

    try:
        siret = validate_siret(siret_raw) if siret_raw else None
        siren = validate_siren(siren_raw) if siren_raw else (siret[:9] if siret else None)
    except IdentifierError as exc:
        raise RowError(str(exc)) from exc
    if siret and siren and siret[:9] != siren:
        raise RowError("le SIRET ne commence pas par le SIREN")

    deceased_text = raw.get("deceased")
    deceased = False
    if deceased_text is not None and not isinstance(deceased_text, (date, datetime)):
        flag = _key(deceased_text)
        if flag in _TRUE:
            deceased = True
        elif flag not in _FALSE:
            _date(raw, "deceased", "date de décès")  # a date of death means deceased
            deceased = True
    elif deceased_text is not None:
        deceased = True

    principal = _money(raw, "principal", "montant principal")
    if principal is None:
        raise RowError("montant principal manquant")
    if principal <= 0:
        raise RowError("montant principal négatif ou nul")
    costs = _money(raw, "costs", "frais") or Decimal("0.00")
    if costs < 0:
        raise RowError("frais négatifs")

    due_date = _date(raw, "due_date", "date d'échéance")
    if due_date is None:
        raise RowError("date d'échéance manquante")
    issued_on = _date(raw, "issued_on", "date de facture")
    if issued_on and issued_on > due_date:
        raise RowError("date de facture postérieure à l'échéance")
    judgment_on = _date(raw, "judgment_on", "date de jugement")
    judgment_enforceable_on = _date(raw, "judgment_enforceable_on", "date de caractère exécutoire")
    if judgment_enforceable_on and not judgment_on:
        raise RowError("date de caractère exécutoire sans date de jugement")
    demand_on = _date(raw, "demand_on", "date de mise en demeure")
    last_payment_on = _date(raw, "last_payment_on", "date du dernier paiement")
    placed_on = _date(raw, "placed_on", "date de placement") or as_of
    birth_date = _date(raw, "birth_date", "date de naissance")

    nature_text = _text(raw, "nature", 40)
    if nature_text:
        nature = _NATURE.get(_key(nature_text))
        if nature is None:
            raise RowError(f"nature de créance inconnue: {nature_text[:20]}")
    else:
        nature = ClaimNature.CONSUMER if kind == DebtorKind.PERSON else ClaimNature.BUSINESS

    mode_text = _text(raw, "interest_mode", 40)
    mode = _INTEREST.get(_key(mode_text)) if mode_text else InterestMode.NONE
    if mode is None:
        raise RowError(f"mode d'intérêts inconnu: {mode_text[:20]}")
    if mode == InterestMode.B2B and nature != ClaimNature.BUSINESS:
        raise RowError("pénalités L441-10 réservées aux créances entre professionnels")
    contractual_rate = None
    if mode == InterestMode.CONTRACTUAL:
        rate_text = _text(raw, "contractual_rate", 20)
        if not rate_text:
            raise RowError("taux contractuel manquant")
        try:
            contractual_rate = parse_money(rate_text.rstrip("%").strip())
        except MoneyError as exc:
            raise RowError("taux contractuel illisible") from exc
        if not Decimal("0") <= contractual_rate <= Decimal("100"):
            raise RowError("taux contractuel hors bornes (0 à 100 %)")
    # Consumers owe the claim only: recovery costs stay with the creditor (CPCE L111-8,
    # C. conso L121-21). Accessory costs are accepted for them only when a judgment awards them.
    if nature == ClaimNature.CONSUMER and costs > 0 and not judgment_on:
        raise RowError("frais non exigibles d'un consommateur sans titre (CPCE L111-8)")

    # Legal interest runs from a formal demand (C. civ. 1231-6); B2B penalties from the day
    # after the due date, with no reminder needed (C. com. L441-10).
    interest_from = None
    indemnity = Decimal("0.00")
    if mode == InterestMode.LEGAL:
        interest_from = demand_on
    elif mode == InterestMode.B2B:
        interest_from = date.fromordinal(due_date.toordinal() + 1)
        indemnity = B2B_RECOVERY_INDEMNITY
    elif mode == InterestMode.CONTRACTUAL:
        interest_from = date.fromordinal(due_date.toordinal() + 1)

    if judgment_on:
        p_start, p_years = judgment_on, JUDGMENT_PRESCRIPTION_YEARS
    else:
        p_start, p_years = due_date, prescription_years(nature)
    state = PrescriptionState(start=p_start, years=p_years)
    if last_payment_on and last_payment_on > p_start:
        state = state.interrupt("payment", last_payment_on)
    if state.status(as_of).state == "prescribed":
        warnings.append("créance prescrite: aucune relance automatique")

    contacts, timezone, holiday_region = _contacts(raw, kind, last_name, company_name, raw_row, phones, warnings)

    return PortfolioRow(
        line=raw_row.line, dossier_ref=dossier_ref, debtor_ref=debtor_ref, debtor_kind=kind,
        civility=_text(raw, "civility", 16), first_name=_text(raw, "first_name", 100),
        last_name=last_name, company_name=company_name, siren=siren, siret=siret,
        birth_date=birth_date, deceased=deceased, timezone=timezone, holiday_region=holiday_region,
        invoice_ref=invoice_ref, nature=nature, principal=principal, costs=costs, indemnity=indemnity,
        issued_on=issued_on, due_date=due_date, interest_mode=mode, contractual_rate=contractual_rate,
        interest_from=interest_from, judgment_on=judgment_on,
        judgment_enforceable_on=judgment_enforceable_on, prescription_start=state.start,
        prescription_years=p_years, last_interruption_on=state.last_interruption_on,
        prescription_expires_on=state.expires_on, placed_on=placed_on, contacts=tuple(contacts),
        warnings=tuple(warnings),
    )


def _contacts(raw, kind, last_name, company_name, raw_row, phones, warnings):
    contacts: list[ContactRecord] = []
    region_from_address = None
    holiday_region = None

    rank = 0
    for name in ("mobile", "phone", "phone2"):
        text = _text(raw, name, 40)
        if not text:
            continue
        try:
            phone = phones.normalise(text)
        except PhoneError as exc:
            warnings.append(f"{name}: {exc}")
            contacts.append(ContactRecord("phone", text, False, str(exc)[:120], rank=rank))
        else:
            if any(c.value == phone.e164 for c in contacts):
                continue
            contacts.append(ContactRecord("phone", phone.e164, True, None, phone.line_type, phone.region, rank))
        rank += 1

    email_text = _text(raw, "email", 254)
    if email_text:
        try:
            contacts.append(ContactRecord("email", validate_email(email_text), True))
        except IdentifierError as exc:
            warnings.append(f"email: {exc}")
            contacts.append(ContactRecord("email", email_text, False, str(exc)[:120]))

    street = [t for t in (_text(raw, n, 100) for n in ("address1", "address2", "address3")) if t]
    postcode, city, country = _text(raw, "postcode", 10), _text(raw, "city", 60), _text(raw, "country", 40)
    if street or postcode or city:
        recipient = company_name if kind == DebtorKind.COMPANY else " ".join(
            p for p in (_text(raw, "civility", 16), _text(raw, "first_name", 100), last_name) if p
        )
        try:
            if not postcode or not city:
                raise AddressError("code postal ou ville manquant")
            abroad = country and _key(country) not in ("france", "fr")
            if not abroad:
                region_from_address = region_for_postcode(postcode)
                holiday_region = holiday_subdivision(postcode)
            block = address_block([recipient or ""], street, postcode, city, country if abroad else None)
            contacts.append(ContactRecord("address", "\n".join(block), True, region=region_from_address))
        except AddressError as exc:
            warnings.append(f"adresse: {exc}")
            value = "\n".join([*street, " ".join(p for p in (postcode, city) if p)])
            contacts.append(ContactRecord("address", value[:300], False, str(exc)[:120]))

    region = region_from_address or next(
        (c.region for c in contacts if c.kind == "phone" and c.valid and c.region), "FR"
    )
    if holiday_region is None and region not in ("FR", None):
        holiday_region = region
    return contacts, timezone_for_region(region), holiday_region
