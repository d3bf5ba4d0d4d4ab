"""Helpers of the dispatch tests: a tiny imported portfolio and actions written straight into the
outbox, as the planner would write them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

from models.enums import ActionStatus, Channel, ContactKind
from models.outbox import Action
from models.parties import ContactPoint
from models.dossiers import Dossier
from services.portfolio_import import import_portfolio

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
IMPORTED_ON = date(2026, 11, 2)

HEADER = ("reference_dossier;type_debiteur;civilite;nom;prenom;raison_sociale;siren;reference_facture;"
          "nature;montant_principal;frais;date_echeance;interets;mobile;telephone;email;adresse1;code_postal;ville")
ROWS = [
    "A-1;particulier;Mme;Lefèvre;Hélène;;;F1;consommation;1 234,56;;31/12/2025;legal;06 12 34 56 78;;helene@exemple.fr;12 rue Pasteur;75011;Paris",
    "A-2;entreprise;;;;Garage Dupont SARL;732829320;F2;commerciale;2500.00;;2025-06-30;b2b;06 98 76 54 32;01 42 68 53 00;compta@garage.fr;3 avenue Jean Jaurès;67000;Strasbourg",
    "A-3;particulier;M.;Payet;Loïc;;;F4;;310,00;;15/03/2026;;0692 12 34 56;;loic@exemple.re;5 chemin des Vignes;97400;Saint-Denis",
]

DEFAULT_TEMPLATES = {
    Channel.SMS: "sms/relance_solde",
    Channel.EMAIL: "email/relance_particulier",
    Channel.LETTER: "letter/premiere_relance",
    Channel.CALL: "call/particulier_relance",
}
CONTACT_KIND = {Channel.SMS: ContactKind.PHONE, Channel.EMAIL: ContactKind.EMAIL,
                Channel.LETTER: ContactKind.ADDRESS, Channel.CALL: ContactKind.PHONE}


@dataclass(frozen=True)
class Case:
    """One imported dossier and its contact points."""

    ref: str
    dossier_id: int
    debtor_id: int
    contacts: dict[ContactKind, int]


def import_cases(container, tmp_path: Path) -> dict[str, Case]:
    path = tmp_path / "portefeuille.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    report = import_portfolio(container.uow, path, creditor="Banque Exemple", as_of=IMPORTED_ON,
                              rejects_path=tmp_path / "rejets.csv")
    assert report.created == len(ROWS), report
    cases = {}
    with container.uow() as uow:
        for dossier in uow.session.scalars(select(Dossier)):
            points = uow.session.scalars(
                select(ContactPoint).where(ContactPoint.debtor_id == dossier.debtor_id)
                .order_by(ContactPoint.rank, ContactPoint.id)
            ).all()
            contacts: dict[ContactKind, int] = {}
            for point in points:
                # The mobile first: SMS go to it.
                if point.kind == ContactKind.PHONE and point.line_type and point.line_type.value != "mobile":
                    continue
                contacts.setdefault(point.kind, point.id)
            cases[dossier.external_ref] = Case(dossier.external_ref, dossier.id, dossier.debtor_id, contacts)
    return cases


def plan(container, case: Case, channel: Channel, *, template: str | None = None, step: str = "relance",
         not_before: datetime = NOW, key: str | None = None, count: int = 1) -> list[int]:
    """Write `count` planned actions for the dossier, as the planner does."""
    actions = [
        Action(
            idempotency_key=key or f"{case.dossier_id}:test:{step}:{channel.value}:{n}",
            dossier_id=case.dossier_id, debtor_id=case.debtor_id, scenario="test", step=step,
            channel=channel, template=template or DEFAULT_TEMPLATES[channel],
            contact_point_id=case.contacts.get(CONTACT_KIND[channel]), not_before=not_before,
            planned_at=NOW, updated_at=NOW,
        )
        for n in range(count)
    ]
    with container.uow() as uow:
        uow.session.add_all(actions)
        uow.session.flush()
        ids = [a.id for a in actions]
        uow.commit()
    return ids


def detached(container, model, key):
    """A row read in its own unit of work, usable after it closed."""
    with container.uow() as uow:
        row = uow.session.get(model, key)
        uow.session.expunge_all()
        return row


def action(container, action_id: int) -> Action:
    return detached(container, Action, action_id)


def statuses(container) -> dict[ActionStatus, int]:
    with container.uow() as uow:
        return {ActionStatus(s): n for s, n in uow.session.execute(
            select(Action.status, func.count()).group_by(Action.status))}


def outbox_files(root: Path, channel: Channel, extension: str = "txt") -> list[Path]:
    folder = root / channel.value
    return sorted(folder.glob(f"*/*.{extension}")) if folder.is_dir() else []
