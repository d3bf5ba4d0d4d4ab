"""Which contact point a quittance goes to: the choice made in the database, one row per debtor."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from models import Action, Dossier
from models.enums import Channel, ContactKind, LineType
from models.parties import ContactPoint
from services.quittance import plan_quittances

NOW = datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
ROWS = [
    "P-1;particulier;Martin;Paul;A;autre;1 000,00;01/12/2024;legal;01/01/2025",
    "F-1;particulier;Durand;Léa;F1;consommation;310,00;31/01/2025;;",
]


def point(debtor_id, kind, value, *, rank=0, **kw) -> ContactPoint:
    return ContactPoint(debtor_id=debtor_id, kind=kind, value=value, rank=rank, created_at=NOW, updated_at=NOW, **kw)


def test_a_quittance_goes_to_the_best_ranked_usable_email_else_the_best_ranked_usable_mobile(container, dossiers):
    ids = dossiers(ROWS)
    with container.uow() as uow:
        s = uow.session
        paul, lea = s.get(Dossier, ids["P-1"]).debtor_id, s.get(Dossier, ids["F-1"]).debtor_id
        s.add_all([
            point(paul, ContactKind.EMAIL, "a@example.fr", rank=0, opt_out_email_at=NOW),
            point(paul, ContactKind.EMAIL, "b@example.fr", rank=2),
            point(paul, ContactKind.EMAIL, "c@example.fr", rank=1),
            point(paul, ContactKind.PHONE, "+33612345678", line_type=LineType.MOBILE),
            point(lea, ContactKind.EMAIL, "d@example.fr", valid=False),
            point(lea, ContactKind.PHONE, "+33612345601", line_type=LineType.MOBILE, consent_sms=False),
            point(lea, ContactKind.PHONE, "+33145678901", line_type=LineType.FIXED),
            point(lea, ContactKind.PHONE, "+33612345602", line_type=LineType.MOBILE, rank=1, opt_out_sms_at=NOW),
            point(lea, ContactKind.PHONE, "+33612345603", line_type=LineType.MOBILE, rank=3),
        ])
        uow.commit()
        expected = {paul: s.scalar(select(ContactPoint.id).where(ContactPoint.value == "c@example.fr")),
                    lea: s.scalar(select(ContactPoint.id).where(ContactPoint.value == "+33612345603"))}
    with container.uow() as uow:
        assert plan_quittances(uow.session, [(1, ids["P-1"], paul), (2, ids["F-1"], lea)], now=NOW) == 2
        uow.commit()
    with container.uow() as uow:
        routes = {a.debtor_id: (a.channel, a.contact_point_id) for a in uow.session.scalars(select(Action))}
    assert routes == {paul: (Channel.EMAIL, expected[paul]), lea: (Channel.SMS, expected[lea])}
