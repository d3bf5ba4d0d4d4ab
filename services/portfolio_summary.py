"""What a creditor's portfolio holds: counts and amounts, for the CLI, the demo and the console."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select

from models import Claim, ContactPoint, Creditor, Debtor, Dossier
from models.enums import ContactKind, DebtorKind
from models.money import money


@dataclass(frozen=True)
class PortfolioSummary:
    creditors: int
    dossiers: int
    claims: int
    persons: int
    companies: int
    overseas: int
    amount_placed: Decimal
    valid_mobiles: int
    valid_emails: int
    valid_addresses: int
    invalid_contacts: int
    by_status: dict[str, int]


def summarise(uow, *, creditor: str | None = None) -> PortfolioSummary:
    with uow:
        s = uow.session
        dossier_filter = []
        if creditor:
            dossier_filter.append(Dossier.creditor_id == select(Creditor.id).where(Creditor.name == creditor).scalar_subquery())
        d = select(Dossier.id, Dossier.debtor_id, Dossier.amount_placed, Dossier.status).where(*dossier_filter).subquery()
        dossiers, placed = s.execute(select(func.count(d.c.id), func.coalesce(func.sum(d.c.amount_placed), 0))).one()
        claims = s.scalar(select(func.count(Claim.id)).where(Claim.dossier_id.in_(select(d.c.id))))
        debtor_ids = select(d.c.debtor_id)
        persons, companies, overseas = s.execute(
            select(
                func.count(case((Debtor.kind == DebtorKind.PERSON, 1))),
                func.count(case((Debtor.kind == DebtorKind.COMPANY, 1))),
                func.count(case((Debtor.timezone != "Europe/Paris", 1))),
            ).where(Debtor.id.in_(debtor_ids))
        ).one()
        cp = s.execute(
            select(
                func.count(case(((ContactPoint.kind == ContactKind.PHONE) & ContactPoint.valid
                                 & (ContactPoint.line_type == "mobile"), 1))),
                func.count(case(((ContactPoint.kind == ContactKind.EMAIL) & ContactPoint.valid, 1))),
                func.count(case(((ContactPoint.kind == ContactKind.ADDRESS) & ContactPoint.valid, 1))),
                func.count(case((~ContactPoint.valid, 1))),
            ).where(ContactPoint.debtor_id.in_(debtor_ids))
        ).one()
        by_status = {str(k): v for k, v in s.execute(select(d.c.status, func.count()).group_by(d.c.status))}
        creditors = s.scalar(select(func.count(Creditor.id)))
    return PortfolioSummary(creditors, dossiers, claims, persons, companies, overseas,
                            money(str(placed)), cp[0], cp[1], cp[2], cp[3], by_status)
