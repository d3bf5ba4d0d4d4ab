"""Campaigns: a manager enrols a selection of dossiers in a scenario (with an optional challenger).

A dossier is in at most one active campaign (a partial unique index holds it too). Variants are
assigned by a stable hash of the dossier id, so the same dossier always lands in the same arm.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from models.campaigns import Campaign, Enrolment
from models.dossiers import Claim, Dossier, DossierEvent
from models.enums import CampaignStatus, ClaimNature, DebtorKind, DossierStatus, EventKind
from models.money import MoneyError, parse_money
from models.parties import Creditor, Debtor
from scenarios.language import Scenario
from scenarios.snapshots import EnrolmentState
from services.bulk import bulk_insert
from services.enrolments import state_columns
from services.unit_of_work import UnitOfWork

CHAMPION, CHALLENGER = "champion", "challenger"


class CampaignError(ValueError):
    pass


@dataclass(frozen=True)
class LaunchReport:
    campaign_id: int
    name: str
    enrolled: int
    champion: int
    challenger: int
    skipped_in_other_campaign: int


def variant_for(dossier_id: int, challenger_percent: int) -> str:
    """Stable split: the first 32 bits of SHA-256 of the id, modulo 100."""
    bucket = int.from_bytes(hashlib.sha256(str(dossier_id).encode()).digest()[:4], "big") % 100
    return CHALLENGER if bucket < challenger_percent else CHAMPION


# --where: conditions joined by "and", each `field op value`.
_CONDITION = re.compile(r"^\s*(\w+)\s*(<=|>=|!=|=|<|>|\bin\b)\s*(.+?)\s*$", re.IGNORECASE)
_FIELDS = {
    "balance": Dossier.amount_placed, "amount": Dossier.amount_placed,
    "placed_on": Dossier.placed_on, "reference": Dossier.external_ref,
    "nature": Claim.nature, "kind": Debtor.kind, "timezone": Debtor.timezone,
}


def parse_selection(expr: str | None) -> list:
    """`balance > 100 and nature = consumer and kind in person,company` -> SQL conditions."""
    if not expr or not expr.strip():
        return []
    out = []
    for part in re.split(r"\s+and\s+", expr.strip(), flags=re.IGNORECASE):
        m = _CONDITION.match(part)
        if not m:
            raise CampaignError(f"condition illisible: « {part} » (attendu: champ opérateur valeur)")
        name, op, raw = m.group(1).lower(), m.group(2).lower(), m.group(3).strip().strip("'\"")
        if name not in _FIELDS:
            raise CampaignError(f"champ inconnu « {name} » (connus: {', '.join(sorted(_FIELDS))})")
        col = _FIELDS[name]
        values = [_value(name, v.strip()) for v in raw.split(",")] if op == "in" else [_value(name, raw)]
        if name == "nature":
            cond = Dossier.id.in_(select(Claim.dossier_id).where(
                Claim.nature.in_(values) if op in ("in", "=") else Claim.nature.notin_(values)))
        else:
            cond = {"=": col == values[0], "!=": col != values[0], "<": col < values[0], ">": col > values[0],
                    "<=": col <= values[0], ">=": col >= values[0], "in": col.in_(values)}[op]
        out.append(cond)
    return out


def _value(name: str, raw: str):
    try:
        if name in ("balance", "amount"):
            return parse_money(raw)
        if name == "placed_on":
            from models.dates import parse_date

            return parse_date(raw)
        if name == "nature":
            return ClaimNature(raw)
        if name == "kind":
            return DebtorKind(raw)
    except (MoneyError, ValueError) as exc:
        raise CampaignError(f"valeur invalide pour {name}: « {raw} »") from exc
    return raw


def launch_campaign(
    uow_factory: Callable[[], UnitOfWork],
    catalogue: Mapping[str, Scenario],
    *,
    name: str,
    scenario: str,
    now: datetime,
    creditor: str | None = None,
    where: str | None = None,
    challenger: str | None = None,
    challenger_percent: int = 0,
) -> LaunchReport:
    if scenario not in catalogue:
        raise CampaignError(f"scénario inconnu: {scenario} (connus: {', '.join(sorted(catalogue))})")
    if challenger and challenger not in catalogue:
        raise CampaignError(f"scénario challenger inconnu: {challenger}")
    if not 0 <= challenger_percent <= 100:
        raise CampaignError("le pourcentage du challenger va de 0 à 100")
    conditions = parse_selection(where)
    with uow_factory() as uow:
        s = uow.session
        if s.scalar(select(Campaign.id).where(Campaign.name == name)):
            raise CampaignError(f"une campagne « {name} » existe déjà")
        creditor_id = None
        if creditor:
            creditor_id = s.scalar(select(Creditor.id).where(Creditor.name == creditor))
            if creditor_id is None:
                raise CampaignError(f"créancier inconnu: {creditor}")
        campaign = Campaign(name=name, scenario=scenario, challenger_scenario=challenger,
                            challenger_percent=challenger_percent if challenger else 0,
                            creditor_id=creditor_id, selection=where, created_at=now)
        s.add(campaign)
        s.flush()
        q = (select(Dossier.id, Dossier.debtor_id, Debtor.timezone)
             .join(Debtor, Debtor.id == Dossier.debtor_id)
             .where(Dossier.status.notin_([DossierStatus.CLOSED]), Dossier.archived_at.is_(None), *conditions))
        if creditor_id:
            q = q.where(Dossier.creditor_id == creditor_id)
        busy = set(s.scalars(select(Enrolment.dossier_id).where(Enrolment.active)))
        rows, events, skipped = [], [], 0
        counts = {CHAMPION: 0, CHALLENGER: 0}
        for dossier_id, debtor_id, tz in s.execute(q.order_by(Dossier.id)):
            if dossier_id in busy:
                skipped += 1
                continue
            variant = variant_for(dossier_id, campaign.challenger_percent) if challenger else CHAMPION
            counts[variant] += 1
            chosen = challenger if variant == CHALLENGER else scenario
            state = EnrolmentState(scenario=chosen, anchor_on=now.astimezone(ZoneInfo(tz)).date(), variant=variant)
            rows.append({"campaign_id": campaign.id, "dossier_id": dossier_id, "debtor_id": debtor_id,
                         "variant": variant, "active": True, **state_columns(state), "next_due_at": now,
                         "enrolled_at": now, "updated_at": now})
            events.append({"dossier_id": dossier_id, "kind": EventKind.ENROLLED, "occurred_at": now,
                           "source": "scenario", "processed_at": now,
                           "data": {"campaign_id": campaign.id, "scenario": chosen, "variant": variant}})
        for start in range(0, len(rows), 5000):
            bulk_insert(s.connection(), Enrolment.__table__, rows[start:start + 5000])
            bulk_insert(s.connection(), DossierEvent.__table__, events[start:start + 5000])
        ids = [r["dossier_id"] for r in rows]
        for start in range(0, len(ids), 5000):
            s.execute(update(Dossier).where(Dossier.id.in_(ids[start:start + 5000]),
                                            Dossier.status == DossierStatus.NEW)
                      .values(status=DossierStatus.ACTIVE, updated_at=now))
        uow.commit()
        return LaunchReport(campaign.id, name, len(rows), counts[CHAMPION], counts[CHALLENGER], skipped)


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    scenario: str
    challenger: str | None
    challenger_percent: int
    status: str
    enrolled: int
    active: int
    created_at: datetime


def list_campaigns(uow_factory) -> list[CampaignRow]:
    from sqlalchemy import case, func

    with uow_factory() as uow:
        rows = uow.session.execute(
            select(Campaign, func.count(Enrolment.id), func.count(case((Enrolment.active, 1))))
            .outerjoin(Enrolment, Enrolment.campaign_id == Campaign.id)
            .group_by(Campaign.id).order_by(Campaign.id)
        ).all()
        return [CampaignRow(c.id, c.name, c.scenario, c.challenger_scenario, c.challenger_percent,
                            str(c.status), n, a, c.created_at) for c, n, a in rows]


def set_campaign_status(uow_factory, name: str, status: CampaignStatus, *, now: datetime) -> None:
    """Pause or resume (enrolments keep their place), or stop (enrolments end; dossiers stay open)."""
    with uow_factory() as uow:
        s = uow.session
        campaign = s.scalar(select(Campaign).where(Campaign.name == name))
        if campaign is None:
            raise CampaignError(f"campagne inconnue: {name}")
        if campaign.status == CampaignStatus.STOPPED:
            raise CampaignError("une campagne arrêtée ne peut plus changer d'état")
        campaign.status = status
        if status == CampaignStatus.STOPPED:
            campaign.stopped_at = now
            s.execute(update(Enrolment).where(Enrolment.campaign_id == campaign.id, Enrolment.active)
                      .values(active=False, status="ended", end_kind="stopped", ended_at=now, updated_at=now))
        uow.commit()


__all__ = ["CampaignError", "LaunchReport", "launch_campaign", "list_campaigns", "set_campaign_status",
           "variant_for", "parse_selection"]
