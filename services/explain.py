"""`relance explain DOSSIER`: why the dossier's next step is due, deferred or blocked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from models.campaigns import Campaign, Enrolment
from models.dossiers import Dossier
from models.money import format_money
from scenarios.explain import explain
from scenarios.policy import DEFAULT_POLICY
from services.enrolments import load_snapshots


def find_dossier(session, key: str) -> Dossier:
    dossier = None
    if key.isdigit():
        dossier = session.get(Dossier, int(key))
    if dossier is None:
        found = session.scalars(select(Dossier).where(Dossier.external_ref == key)).all()
        if len(found) > 1:
            raise LookupError(f"référence « {key} » ambiguë ({len(found)} créanciers) : donnez l'identifiant")
        dossier = found[0] if found else None
    if dossier is None:
        raise LookupError(f"dossier introuvable : {key}")
    return dossier


def explain_dossier(container, key: str, *, now: datetime, catalogue=None) -> list[str]:
    from scenarios.catalogue import load_catalogue

    catalogue = catalogue or load_catalogue()
    with container.uow() as uow:
        s = uow.session
        dossier = find_dossier(s, key)
        lines = [f"Dossier {dossier.id} ({dossier.external_ref}) : statut {dossier.status}"
                 + (f", suspendu ({dossier.suspension})" if dossier.suspension else "")]
        enrolment = s.scalar(select(Enrolment).where(Enrolment.dossier_id == dossier.id, Enrolment.active))
        if enrolment is None:
            lines.append("Aucune campagne active : aucune relance automatique.")
            return lines
        campaign = s.get(Campaign, enrolment.campaign_id)
        snaps, histories = load_snapshots(s, [enrolment], now=now)
        snap = snaps[0]
        lines.append(f"Campagne « {campaign.name} » ({campaign.status}), variante {enrolment.variant}, "
                     f"scénario {enrolment.scenario}, solde {format_money(snap.dossier.balance)}")
        lines += explain(snap, catalogue=catalogue, policy=DEFAULT_POLICY, now=now,
                         history=histories.get(snap.dossier.debtor_id))
        return lines
