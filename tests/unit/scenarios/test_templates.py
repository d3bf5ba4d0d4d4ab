"""The SMS, e-mail and call templates render with the agreed context, strictly, in French,
and the SMS stay GSM-7 and within their segment budget."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from jinja2 import Environment

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€")  # two septets each
MAX_SEGMENTS = re.compile(r"^\{#\s*max_segments:\s*(\d+)\s*#\}")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The channels' own environment (filters, StrictUndefined, autoescape for HTML)."""
    from channels.templating import make_environment

    return make_environment(TEMPLATES)


def context(*, company: bool, first_letter: bool, promise: bool, installment: bool, email: bool) -> dict:
    claim = {"invoice_ref": "FA-2024-0193", "due_date": date(2024, 11, 30), "principal": Decimal("1180.00"),
             "interest": Decimal("42.17"), "costs": Decimal("40.00"), "total": Decimal("1262.17")}
    ctx = {
        "office": {"name": "Cabinet Recouvra", "address_lines": ["12 rue de la Paix", "75002 Paris"],
                   "phone": "01 84 60 12 34", "email": "contact@recouvra.fr", "website": "https://recouvra.fr",
                   "iban": "FR7630006000011234567890189", "bic": "AGRIFRPP", "payment_url": "https://pay.recouvra.fr"},
        "creditor": {"name": "Electro Nord", "legal_name": "Electro Nord SAS", "address_lines": ["3 av. Foch", "59000 Lille"]},
        "debtor": ({"display_name": "Boulangerie Martin SARL", "civility": None, "last_name": None,
                    "company_name": "Boulangerie Martin SARL", "is_company": True}
                   if company else
                   {"display_name": "Mme Claire Dupont", "civility": "Mme", "last_name": "Dupont",
                    "company_name": None, "is_company": False}),
        "dossier": {"id": 42, "reference": "D-2025-004217", "payment_reference": "RC4217X",
                    "first_letter_ref": "L-2025-0042" if first_letter else None,
                    "first_letter_on": date(2025, 3, 13) if first_letter else None},
        "claims": [claim],
        "totals": {"principal": Decimal("1180.00"), "interest": Decimal("42.17"), "costs": Decimal("40.00"),
                   "balance": Decimal("1262.17")},
        "as_of": date(2025, 3, 20),
        "step": {"scenario": "amiable-particulier", "name": "email_relance"},
        # Quittance actions (services/quittance.py); other templates ignore it.
        "payment": {"id": 7, "amount": Decimal("300.00"), "received_on": date(2025, 3, 19), "method": "transfer",
                    "principal": Decimal("257.83"), "interest": Decimal("42.17"), "costs": Decimal("0.00"),
                    "unapplied": Decimal("0.00"), "balance_after": Decimal("962.17")},
    }
    if promise:
        ctx["promise"] = {"amount": Decimal("300.00"), "date": date(2025, 3, 28)}
    if installment:
        ctx["installment"] = {"number": 2, "count": 6, "amount": Decimal("210.50"), "due_date": date(2025, 4, 5)}
    if email:
        ctx["unsubscribe_url"] = "https://recouvra.fr/desinscription/abc123"
    return ctx


CONTEXTS = [
    dict(company=False, first_letter=True, promise=True, installment=True),
    dict(company=False, first_letter=False, promise=False, installment=False),
    dict(company=True, first_letter=True, promise=False, installment=False),
    dict(company=True, first_letter=False, promise=True, installment=True),
]


def names(kind: str, suffix: str) -> list[str]:
    return sorted(
        f"{kind}/{p.name}" for p in (TEMPLATES / kind).glob(f"*{suffix}") if not p.name.startswith("_")
    )


def gsm7_septets(text: str) -> int:
    bad = {c for c in text if c not in GSM7 and c not in GSM7_EXTENSION}
    assert not bad, f"characters outside GSM-7: {sorted(bad)!r}"
    return len(text) + sum(1 for c in text if c in GSM7_EXTENSION)


def sms_text(rendered: str) -> str:
    # What the SMS channel sends: trimmed, Babel's no-break spaces turned into plain ones.
    return rendered.replace("\u202f", " ").replace("\u00a0", " ").strip()


@pytest.mark.parametrize("template", names("sms", ".txt") + names("email", ".txt") + names("email", ".html") + names("call", ".md"))
@pytest.mark.parametrize("flags", CONTEXTS, ids=lambda f: "-".join(k for k, v in f.items() if v) or "bare")
def test_every_template_renders_strictly_with_the_agreed_context(template, flags):
    rendered = environment().get_template(template).render(context(email=template.startswith("email/"), **flags))
    assert rendered.strip()
    assert "None" not in rendered
    if flags["first_letter"] and not template.endswith(".subject.txt"):
        assert "L-2025-0042" in rendered, "later contacts repeat the first letter's reference"
        assert "13/03/2025" in rendered or "13 mars 2025" in rendered, "and its date"


@pytest.mark.parametrize("template", names("sms", ".txt"))
@pytest.mark.parametrize("flags", CONTEXTS, ids=lambda f: "-".join(k for k, v in f.items() if v) or "bare")
def test_sms_are_gsm7_and_fit_their_segment_budget(template, flags):
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    declared = MAX_SEGMENTS.match(source)
    budget = int(declared.group(1)) if declared else 2
    text = sms_text(environment().get_template(template).render(context(email=False, **flags)))
    septets = gsm7_septets(text)
    segments = 1 if septets <= 160 else math.ceil(septets / 153)
    assert segments <= budget, f"{septets} septets: {text}"
    assert "RC4217X" in text and "https://pay.recouvra.fr" in text  # the reference and how to pay
    assert "STOP" in text


@pytest.mark.parametrize("template", names("email", ".html"))
def test_every_email_has_its_subject_and_text_version(template):
    base = template.removesuffix(".html")
    assert (TEMPLATES / f"{base}.subject.txt").is_file()
    assert (TEMPLATES / f"{base}.txt").is_file()
    subject = environment().get_template(f"{base}.subject.txt").render(context(company=False, first_letter=True, promise=True, installment=True, email=True))
    assert "\n" not in subject.strip()


def test_emails_sent_before_the_first_letter_carry_the_l111_8_text_word_for_word():
    text = environment().get_template("email/relance_particulier.txt").render(
        context(company=False, first_letter=False, promise=False, installment=False, email=True))
    assert ("Les frais de recouvrement entrepris sans titre exécutoire restent à la charge du créancier, sauf s'ils "
            "concernent un acte dont l'accomplissement est prescrit par la loi au créancier.") in text
    assert "Cabinet Recouvra, cabinet de recouvrement amiable, intervient pour le compte de votre créancier" in text
    assert "Electro Nord SAS (3 av. Foch, 59000 Lille)" in text


@pytest.mark.parametrize("template", names("sms", ".txt") + names("email", ".txt") + names("email", ".html"))
def test_no_message_borrows_the_words_of_forced_recovery(template):
    # (The agents' scripts name them, only to forbid them or to answer a question factually.)
    words = ("huissier", "commissaire de justice", "saisie", "poursuite", "contentieux", "tribunal", "injonction")
    text = (TEMPLATES / template).read_text(encoding="utf-8").lower()
    assert not [w for w in words if w in text]
