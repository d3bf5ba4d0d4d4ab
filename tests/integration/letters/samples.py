"""Sample render contexts for the letter tests and benchmarks/letters_bench.py (all fictitious)."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

D = Decimal

OFFICE = {
    "name": "Cabinet Relance Recouvrement",
    "address_lines": ["12 RUE DE LA REPUBLIQUE", "69002 LYON"],
    "phone": "+33478000000",
    "email": "contact@relance.example",
    "website": "https://relance.example",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
    "payment_url": "https://relance.example/payer",
    "siren": "552100554",
}

CREDITOR = {
    "name": "Energie Rhone",
    "legal_name": "Energie Rhone SAS",
    "address_lines": ["8 QUAI DU COMMERCE", "69009 LYON"],
}

CLAIMS = [
    {
        "invoice_ref": "FAC-2024-0412",
        "due_date": date(2024, 4, 30),
        "principal": D("1234.56"),
        "interest": D("45.10"),
        "costs": D("12.00"),
        "total": D("1291.66"),
    },
    {
        "invoice_ref": "FAC-2024-0587",
        "due_date": date(2024, 6, 30),
        "principal": D("310.00"),
        "interest": D("8.75"),
        "costs": D("0.00"),
        "total": D("318.75"),
    },
]


def sample_context(**overrides) -> dict:
    """A consumer dossier's first letter; later letters override `dossier`/`letter`."""
    claims = copy.deepcopy(CLAIMS)
    context = {
        "office": copy.deepcopy(OFFICE),
        "creditor": copy.deepcopy(CREDITOR),
        "debtor": {
            "display_name": "Mme Camille Durand",
            "civility": "Mme",
            "last_name": "Durand",
            "company_name": None,
            "is_company": False,
        },
        "recipient": {
            "address_lines": [
                "MADAME CAMILLE DURAND",
                "APPARTEMENT 12 ESCALIER B",
                "RESIDENCE LES TILLEULS",
                "25 AVENUE DES TROIS PIERRES",
                "BP 70",
                "33100 BORDEAUX",
            ]
        },
        "dossier": {
            "id": "1042",
            "reference": "D-2025-001042",
            "payment_reference": "RL1042K7",
            "first_letter_ref": None,
            "first_letter_on": None,
        },
        "claims": claims,
        "totals": {
            "principal": sum((c["principal"] for c in claims), D("0")),
            "interest": sum((c["interest"] for c in claims), D("0")),
            "costs": sum((c["costs"] for c in claims), D("0")),
            "balance": sum((c["total"] for c in claims), D("0")),
        },
        "as_of": date(2025, 3, 3),
        "letter": {"reference": "L-2025-000311", "date": date(2025, 3, 3)},
    }
    context.update(overrides)
    return context


def later_context(**overrides) -> dict:
    """The same dossier, one month after its first letter L-2025-000311 of 3 March 2025."""
    context = sample_context()
    context["dossier"] = dict(
        context["dossier"], first_letter_ref="L-2025-000311", first_letter_on=date(2025, 3, 3)
    )
    context["letter"] = {"reference": "L-2025-000987", "date": date(2025, 4, 7)}
    context["as_of"] = date(2025, 4, 7)
    context.update(overrides)
    return context


def b2b_context() -> dict:
    """A company debtor: interest column = L441-10 penalties, costs = 40 EUR per late invoice."""
    context = later_context()
    context["debtor"] = {
        "display_name": "Boulangerie Martin SARL",
        "civility": None,
        "last_name": None,
        "company_name": "Boulangerie Martin SARL",
        "is_company": True,
    }
    context["recipient"] = {
        "address_lines": ["BOULANGERIE MARTIN SARL", "SERVICE COMPTABILITE", "3 RUE NEUVE", "38000 GRENOBLE"]
    }
    claims = [
        dict(CLAIMS[0], interest=D("96.32"), costs=D("40.00"), total=D("1370.88")),
        dict(CLAIMS[1], interest=D("18.44"), costs=D("40.00"), total=D("368.44")),
    ]
    context["claims"] = claims
    context["totals"] = {
        "principal": D("1544.56"),
        "interest": D("114.76"),
        "costs": D("80.00"),
        "balance": D("1739.32"),
    }
    context["b2b"] = {"rate_label": "12,15 %", "indemnity_total": D("80.00"), "penalties": D("114.76")}
    return context


def plan_context() -> dict:
    context = later_context()
    context["plan"] = {"missed": 2, "count": 6}
    return context


LETTERS = {
    "premiere_relance": sample_context,
    "mise_en_demeure": later_context,
    "relance_entreprise": b2b_context,
    "decheance_terme": plan_context,
}
