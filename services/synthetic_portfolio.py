"""Synthetic, realistic portfolios for the demo, the example file and the benchmarks.

Every person, company, phone number and address is invented. Deterministic for a seed.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

HEADER = [
    "reference_dossier", "reference_debiteur", "type_debiteur", "civilite", "nom", "prenom",
    "raison_sociale", "siren", "reference_facture", "nature", "montant_principal", "frais",
    "date_facture", "date_echeance", "interets", "date_mise_en_demeure", "mobile", "telephone",
    "email", "adresse1", "adresse2", "code_postal", "ville",
]

LAST_NAMES = ["Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois",
              "Moreau", "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand",
              "Morel", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau",
              "Vincent", "Müller", "Lefebvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer",
              "Garnier", "Chevalier", "François", "Legrand", "Gauthier", "Payet", "Hoarau", "Grondin"]
FIRST_NAMES = [("M.", "Jean"), ("Mme", "Marie"), ("M.", "Pierre"), ("Mme", "Nathalie"),
               ("M.", "Michel"), ("Mme", "Isabelle"), ("M.", "Philippe"), ("Mme", "Sylvie"),
               ("M.", "Éric"), ("Mme", "Hélène"), ("M.", "Frédéric"), ("Mme", "Céline"),
               ("M.", "Jérôme"), ("Mme", "Zoé"), ("M.", "Loïc"), ("Mme", "Anaïs")]
COMPANY_WORDS = ["Boulangerie", "Transports", "Garage", "Menuiserie", "Pharmacie", "Boucherie",
                 "Société", "Atelier", "Cabinet", "Imprimerie", "Plomberie", "Restaurant"]
STREETS = ["rue de la République", "avenue Jean Jaurès", "boulevard Gambetta", "rue Victor Hugo",
           "place de l'Église", "chemin des Vignes", "rue du Général de Gaulle", "allée des Tilleuls",
           "rue Pasteur", "impasse des Lilas", "route de Saint-Denis", "rue des Écoles"]
# (postcode, city, region tag) — metropolitan, Alsace-Moselle and overseas.
CITIES = [("75011", "Paris"), ("69003", "Lyon"), ("13006", "Marseille"), ("31000", "Toulouse"),
          ("33000", "Bordeaux"), ("44000", "Nantes"), ("59000", "Lille"), ("35000", "Rennes"),
          ("67000", "Strasbourg"), ("68100", "Mulhouse"), ("57000", "Metz"), ("06000", "Nice"),
          ("97400", "Saint-Denis"), ("97410", "Saint-Pierre"), ("97200", "Fort-de-France"),
          ("97110", "Pointe-à-Pitre"), ("97300", "Cayenne"), ("97600", "Mamoudzou")]
OVERSEAS_MOBILE = {"974": "0692", "972": "0696", "971": "0690", "973": "0694", "976": "063940"}


def _siren(rng: random.Random) -> str:
    base = [rng.randint(0, 9) for _ in range(8)]
    for check in range(10):
        digits = base + [check]
        total = 0
        for i, d in enumerate(reversed(digits)):
            d = d * 2 if i % 2 else d
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return "".join(map(str, digits))
    raise AssertionError("unreachable")


def _money(amount: float) -> str:
    return f"{amount:,.2f}".replace(",", " ").replace(".", ",")


def generate_rows(count: int, *, seed: int = 7, as_of: date = date(2026, 11, 2),
                  unique_phones: bool = False):
    """Yield `count` dossiers as CSV rows (several rows for dossiers with several claims)."""
    rng = random.Random(seed)
    for n in range(1, count + 1):
        company = rng.random() < 0.2
        postcode, city = rng.choice(CITIES)
        dossier_ref = f"D{seed:02d}-{n:07d}"
        debtor_ref = f"C{n:07d}"
        civ, first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        if unique_phones:
            mobile_tail = f"{n % 100_000_000:08d}"
            mobile = f"06{mobile_tail}"
        else:
            prefix = OVERSEAS_MOBILE.get(postcode[:3], "06")
            mobile = f"{prefix}{rng.randint(0, 10**(10 - len(prefix)) - 1):0{10 - len(prefix)}d}"
        if rng.random() < 0.08:
            mobile = ""
        phone = f"0199{rng.randint(0, 999999):06d}" if rng.random() < 0.3 else ""
        email = ""
        if rng.random() < 0.75:
            local = f"{first}.{last}".lower() if not company else f"compta{n}"
            local = local.encode("ascii", "ignore").decode() if local.isascii() else \
                "".join(c for c in local if c.isascii() and (c.isalnum() or c == "."))
            email = f"{local}{n}@exemple.fr"
        street = f"{rng.randint(1, 180)} {rng.choice(STREETS)}"
        address2 = rng.choice(["", "", "", "Bâtiment B", "Résidence Les Pins", "Appartement 12"])
        company_name = (f"{rng.choice(COMPANY_WORDS)} {last}" + (" SARL" if rng.random() < 0.5 else " SAS")) if company else ""
        siren = _siren(rng) if company else ""
        claims = 1 if rng.random() < 0.8 else rng.randint(2, 3)
        for c in range(claims):
            due = as_of - timedelta(days=rng.randint(20, 500))
            issued = due - timedelta(days=30)
            amount = round(rng.lognormvariate(5.6, 0.9), 2) + 15
            yield [
                dossier_ref, debtor_ref, "entreprise" if company else "particulier",
                "" if company else civ, "" if company else last, "" if company else first,
                company_name, siren,
                f"F{n:07d}-{c + 1}", "commerciale" if company else "consommation",
                _money(amount), "", issued.strftime("%d/%m/%Y"), due.strftime("%d/%m/%Y"),
                "b2b" if company else ("legal" if rng.random() < 0.3 else "aucun"),
                (due + timedelta(days=15)).strftime("%d/%m/%Y") if not company and rng.random() < 0.3 else "",
                mobile, phone, email, street, address2, postcode, city,
            ]


def write_portfolio(path: Path, count: int, *, seed: int = 7, as_of: date = date(2026, 11, 2),
                    unique_phones: bool = False, bad_rows: int = 0) -> Path:
    """Write a `;`-separated UTF-8 portfolio; `bad_rows` appends deliberately broken rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(HEADER)
        for row in generate_rows(count, seed=seed, as_of=as_of, unique_phones=unique_phones):
            w.writerow(row)
        broken = [  # (amount, due date, last name): one defect each
            ("douze euros", "01/02/2025", "Sans"),
            ("120,00", "31/02/2025", "Date"),
            ("80,00", "01/02/2025", ""),
        ]
        for i in range(bad_rows):
            amount, due, last = broken[i % len(broken)]
            w.writerow([f"BAD-{i + 1}", "", "particulier", "M.", last, "Jean", "", "", "", "",
                        amount, "", "", due, "", "", "", "", "", "", "", "", ""])
    return path
