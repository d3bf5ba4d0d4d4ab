"""The data lifecycle on SQLite and PostgreSQL: closed dossiers archived (read-only, out of every
run), personal data anonymised past the mandate's period with the books intact, and the
data-subject export."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, String, Text, cast, select

import models.entities  # noqa: F401 - every table on the metadata
from channels.sandbox import SandboxChannel
from models.base import Base
from models.campaigns import Enrolment
from models.dossiers import Claim, Dossier
from models.enums import ActionStatus, Channel, CloseReason, DossierStatus
from models.outbox import Action
from models.parties import ContactPoint, Debtor
from scenarios.catalogue import load_catalogue
from services.agreements import record_promise
from services.campaigns import launch_campaign
from services.dispatch import dispatch
from services.lifecycle import (ArchivedDossierError, LifecycleError, archive_closed, close_dossier_by_hand,
                                UploadsRetention, outbox_roots, purge, search_dossiers)
from services.payments import apply_payment
from services.portfolio_import import import_portfolio
from services.relance_plan import plan_due
from services.subject_export import export_subject
from services.webhooks import record_inbound_sms
from tests.integration.payments.books import assert_books_balanced

PARIS = ZoneInfo("Europe/Paris")
HEADER = ("reference_dossier;reference_debiteur;type_debiteur;nom;prenom;montant_principal;date_echeance;"
          "mobile;email;adresse1;code_postal;ville")
ROWS = [
    "P-1;C-1;particulier;Martin;Jeannot;500,00;01/09/2026;06 12 34 56 78;jeannot@exemple.fr;3 rue Pasteur;75011;Paris",
    "P-3;C-1;particulier;Martin;Jeannot;120,00;01/09/2026;06 12 34 56 78;jeannot@exemple.fr;3 rue Pasteur;75011;Paris",
    "P-2;C-2;particulier;Petitjean;Annabelle;300,00;01/09/2026;06 55 44 33 22;annabelle@exemple.fr;8 rue Victor Hugo;69003;Lyon",
    "P-4;C-4;particulier;Payet;Loïc;250,00;01/09/2026;0692 12 34 56;loic@exemple.re;5 chemin des Vignes;97400;Saint-Denis",
]
# What must not survive the purge of C-1 and C-2, and what must survive for C-4.
PURGED = {
    "C-1": ["martin", "jeannot", "+33612345678", "0612345678", "06 12 34 56 78", "jeannot@exemple.fr",
            "rue pasteur", "75011 paris"],
    "C-2": ["petitjean", "annabelle", "+33655443322", "0655443322", "annabelle@exemple.fr", "victor hugo",
            "69003 lyon"],
}
KEPT = ["payet", "loic@exemple.re", "+262692123456", "chemin des vignes"]


def at(day: int, hour: int = 10) -> datetime:
    month, d = (11, day) if day <= 30 else (12, day - 30)
    return datetime(2026, month, d, hour, 0, tzinfo=PARIS)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def _ids(container) -> dict[str, int]:
    with container.uow() as uow:
        return dict(uow.session.execute(select(Dossier.external_ref, Dossier.id)).all())


@pytest.fixture
def office(container, tmp_path, catalogue):
    """Four dossiers of three debtors, a campaign run over two weeks with the sandbox channels
    writing files, an inbound SMS, payments with bank labels naming the debtor."""
    path = tmp_path / "p.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    report = import_portfolio(container.uow, path, creditor="Banque Test", as_of=date(2026, 11, 2),
                              rejects_path=tmp_path / "r.csv")
    assert report.rejected == 0
    outbox = container.settings.outbox_dir
    launch_campaign(container.uow, catalogue, name="novembre", scenario="amiable-particulier", now=at(26, 9))
    for day in (26, 30, 33, 37):
        channels = {ch: SandboxChannel(ch, outbox, today=lambda d=day: at(d).date())
                    for ch in (Channel.SMS, Channel.EMAIL, Channel.LETTER)}
        plan_due(container.uow, catalogue, now=at(day))
        dispatch(container, channels, now=at(day))
    record_inbound_sms(container.uow(), sender="+33612345678", body="Ici Jeannot Martin, 3 rue Pasteur, je paie",
                       message_sid="SM-in-1", now=at(37, 11))
    ids = _ids(container)
    with container.uow() as uow:
        for n, ref in enumerate(("P-1", "P-3")):
            result = apply_payment(uow.session, dossier_id=ids[ref], amount=Decimal("900.00"),
                                   received_on=date(2026, 12, 8), method="transfer", external_id=f"VIR-{n}",
                                   label="VIR M JEANNOT MARTIN 0612345678", now=at(38))
            assert result.paid_in_full
        uow.commit()
    close_dossier_by_hand(container.uow, "P-2", "abandoned", now=at(38), actor="gestionnaire")
    return ids


def _text_columns():
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, (String, Text, JSON)) or isinstance(getattr(column.type, "impl", None), (String, Text)):
                yield table, column


def _found_in_tables(container, needles: list[str]) -> list[str]:
    """Every text column of every table, read generically from the metadata."""
    hits = []
    with container.engine.connect() as conn:
        for table, column in _text_columns():
            expr = cast(column, Text) if isinstance(column.type, JSON) else column
            for (value,) in conn.execute(select(expr).where(column.is_not(None))):
                text = (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)).lower()
                hits += [f"{table.name}.{column.name}: {n}" for n in needles if n in text]
    return hits


def _found_in_files(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            data = (Path(dirpath) / name).read_bytes().decode("utf-8", "ignore").lower()
            hits += [f"{name}: {n}" for n in needles if n in data]
    return hits


def _files(root: Path) -> list[Path]:
    return [Path(d) / n for d, _, names in os.walk(root) for n in names]


def test_closed_dossiers_are_archived_after_the_delay_and_leave_every_queue(container, office, catalogue):
    with container.uow() as uow:
        assert uow.session.scalar(select(Enrolment.id).where(Enrolment.dossier_id == office["P-1"])) is not None
    early = archive_closed(container.uow, now=at(38) + timedelta(days=29), after_days=30)
    assert early.archived == []
    report = archive_closed(container.uow, now=at(38) + timedelta(days=31), after_days=30)
    assert sorted(report.archived) == sorted([office["P-1"], office["P-3"], office["P-2"]])
    with container.uow() as uow:
        s = uow.session
        archived = set(s.scalars(select(Dossier.id).where(Dossier.archived_at.is_not(None))))
        assert office["P-4"] not in archived
        assert not s.scalar(select(Enrolment.id).where(Enrolment.dossier_id.in_(archived), Enrolment.active))
        assert not s.scalar(select(Action.id).where(Action.dossier_id.in_(archived),
                                                    Action.status == ActionStatus.PLANNED))
    # Later runs plan nothing for them.
    plan_due(container.uow, catalogue, now=at(38) + timedelta(days=40))
    with container.uow() as uow:
        new = uow.session.scalars(select(Action.dossier_id).where(Action.planned_at > at(40))).all()
    assert archived.isdisjoint(new)
    # Still searchable.
    found = {f.reference: f for f in search_dossiers(container.uow, "P-")}
    assert found["P-1"].archived_at is not None and found["P-4"].archived_at is None
    assert {f.reference for f in search_dossiers(container.uow, "petitjean")} == {"P-2"}


def test_services_refuse_to_write_on_an_archived_dossier(container, office):
    archive_closed(container.uow, now=at(38) + timedelta(days=31), after_days=30)
    with container.uow() as uow:
        with pytest.raises(ArchivedDossierError, match="archivé"):
            apply_payment(uow.session, dossier_id=office["P-2"], amount=Decimal("10.00"),
                          received_on=date(2027, 1, 20), method="transfer", external_id="LATE", now=at(50))
        with pytest.raises(ArchivedDossierError, match="lecture seule"):
            record_promise(uow.session, dossier_id=office["P-2"], amount=Decimal("10.00"),
                           due_on=date(2027, 2, 1), made_on=date(2027, 1, 20), made_by="agent", now=at(50))
    with pytest.raises(LifecycleError):
        close_dossier_by_hand(container.uow, "P-2", "returned", now=at(50))
    with container.uow() as uow:
        assert uow.session.get(Dossier, office["P-2"]).close_reason == CloseReason.ABANDONED


def test_a_manual_close_stops_contact_at_once_and_only_takes_the_manual_reasons(container, office):
    with pytest.raises(LifecycleError, match="motif"):
        close_dossier_by_hand(container.uow, "P-4", "paid", now=at(39))
    close_dossier_by_hand(container.uow, "P-4", "returned", now=at(39))
    with container.uow() as uow:
        s = uow.session
        dossier = s.get(Dossier, office["P-4"])
        assert (dossier.status, dossier.close_reason, dossier.archived_at) == (
            DossierStatus.CLOSED, CloseReason.RETURNED, None)
        assert not s.scalar(select(Enrolment.id).where(Enrolment.dossier_id == dossier.id, Enrolment.active))
        assert not s.scalar(select(Action.id).where(Action.dossier_id == dossier.id,
                                                    Action.status == ActionStatus.PLANNED))


def test_a_purge_leaves_no_personal_data_of_expired_debtors_and_keeps_the_books(container, office):
    outbox = Path(container.settings.outbox_dir)
    needles = [n for values in PURGED.values() for n in values]
    # The fixture is meaningful: the data is there before, in the tables and in the files.
    assert {h.split(": ")[1] for h in _found_in_tables(container, needles)} >= {"martin", "jeannot@exemple.fr",
                                                                                "annabelle", "rue pasteur"}
    assert _found_in_files(outbox, ["jeannot@exemple.fr", "+33612345678", "annabelle@exemple.fr"])
    files_before = len(_files(outbox))
    archive_closed(container.uow, now=at(38) + timedelta(days=31), after_days=30)

    # Not yet: five years after closing is 8 December 2031.
    assert purge(container.uow, as_of=date(2031, 12, 7), now=at(40), outbox_roots=[outbox]).debtors == []
    dry = purge(container.uow, as_of=date(2031, 12, 8), now=at(40), outbox_roots=[outbox], dry_run=True)
    assert len(dry.debtors) == 2 and dry.files_deleted
    assert len(_files(outbox)) == files_before and _found_in_tables(container, ["jeannot@exemple.fr"])

    report = purge(container.uow, as_of=date(2031, 12, 8), now=at(40), outbox_roots=[outbox])
    with container.uow() as uow:
        purged_ids = set(uow.session.scalars(select(Debtor.id).where(Debtor.external_ref.in_(["C-1", "C-2"]))))
    assert set(report.debtors) == purged_ids
    assert sorted(report.dossiers) == sorted([office["P-1"], office["P-3"], office["P-2"]])
    assert report.files_deleted and report.contact_points == 6 and report.payment_labels == 2
    assert _found_in_tables(container, needles) == []
    assert _found_in_files(outbox, needles) == []
    # The unexpired debtor is untouched, in the tables and in the files.
    assert {h.split(": ")[1] for h in _found_in_tables(container, KEPT)} == set(KEPT)
    assert _found_in_files(outbox, ["loic@exemple.re"])
    with container.uow() as uow:
        s = uow.session
        assert_books_balanced(s)
        payet = s.scalar(select(Debtor).where(Debtor.external_ref == "C-4"))
        assert payet.anonymised_at is None and payet.last_name == "Payet"
        assert all(cp.valid for cp in s.scalars(select(ContactPoint).where(ContactPoint.debtor_id == payet.id)))
        # The import's row digests are derived from personal data: they go with it.
        digests = dict(s.execute(select(Claim.dossier_id, Claim.import_digest)).all())
        assert all(digests[d] is None for d in report.dossiers)
        assert digests[s.scalar(select(Dossier.id).where(Dossier.debtor_id == payet.id))] is not None
    # A second purge finds nothing more to do.
    again = purge(container.uow, as_of=date(2031, 12, 8), now=at(40), outbox_roots=[outbox])
    assert again.debtors == [] and again.files_deleted == []


def test_past_the_accounting_period_the_books_stay_but_lose_the_creditors_references(container, office):
    outbox = Path(container.settings.outbox_dir)
    archive_closed(container.uow, now=at(38) + timedelta(days=31), after_days=30)
    purge(container.uow, as_of=date(2031, 12, 8), now=at(40), outbox_roots=[outbox])
    with container.uow() as uow:
        assert uow.session.get(Dossier, office["P-1"]).external_ref == "P-1"  # needed to justify the books
    report = purge(container.uow, as_of=date(2036, 12, 8), now=at(40), outbox_roots=[outbox])
    assert sorted(report.references_cleared) == sorted([office["P-1"], office["P-3"], office["P-2"]])
    with container.uow() as uow:
        s = uow.session
        assert s.get(Dossier, office["P-1"]).external_ref == f"anon-{office['P-1']}"
        assert s.get(Dossier, office["P-4"]).external_ref == "P-4"
        assert_books_balanced(s)
    assert _found_in_tables(container, ["p-1", "c-1", "c-2"]) == []
    assert purge(container.uow, as_of=date(2036, 12, 9), now=at(40), outbox_roots=[outbox]).as_dict()[
        "debtors_anonymised"] == 0


def test_a_debtor_placed_again_after_a_purge_is_purged_again_once_that_file_expires(container, office, tmp_path):
    outbox = Path(container.settings.outbox_dir)
    archive_closed(container.uow, now=at(38) + timedelta(days=31), after_days=30)
    # The purge ran before the import below, which stamps its rows with the real clock.
    purge(container.uow, as_of=date(2031, 12, 8), now=datetime(2026, 1, 1, tzinfo=PARIS), outbox_roots=[outbox])
    path = tmp_path / "again.csv"
    path.write_text("\n".join([HEADER, ROWS[2].replace("P-2;", "P-9;")]) + "\n", encoding="utf-8")
    import_portfolio(container.uow, path, creditor="Banque Test", as_of=date(2032, 1, 5), rejects_path=tmp_path / "r2.csv")
    assert "petitjean" in " ".join(h for h in _found_in_tables(container, ["petitjean"]))
    assert purge(container.uow, as_of=date(2032, 2, 1), now=at(40), outbox_roots=[outbox]).debtors == []  # open file
    close_dossier_by_hand(container.uow, "P-9", "returned", now=datetime(2032, 2, 1, tzinfo=PARIS))
    archive_closed(container.uow, now=datetime(2032, 3, 5, tzinfo=PARIS), after_days=30)
    assert len(purge(container.uow, as_of=date(2037, 2, 2), now=at(40), outbox_roots=[outbox]).debtors) == 1
    assert _found_in_tables(container, PURGED["C-2"]) == []


def test_the_subject_export_holds_every_record_and_sent_file_of_the_debtor(container, office, tmp_path):
    result = export_subject(container.uow, "C-1", out_dir=tmp_path / "exports", outbox_roots=outbox_roots(
        container.settings), now=at(40))
    data = json.loads(result.json_path.read_text(encoding="utf-8"))
    assert data["debtor"]["last_name"] == "Martin"
    assert sorted(d["external_ref"] for d in data["dossiers"]) == ["P-1", "P-3"]
    assert {cp["value"] for cp in data["contact_points"]} >= {"+33612345678", "jeannot@exemple.fr"}
    assert len(data["payments"]) == 2 and data["ledger_lines"] and data["events"]
    sent = [a for a in data["actions"] if a["status"] in ("sent", "delivered")]
    assert sent and len(result.files) == len([a for a in sent if a["channel"] != "call"])
    copied = "".join((result.folder / "fichiers" / f).read_bytes().decode("utf-8", "ignore") for f in result.files)
    assert "jeannot@exemple.fr" in copied.lower() and "annabelle" not in copied.lower()
    with pytest.raises(LifecycleError, match="introuvable"):
        export_subject(container.uow, "C-404", out_dir=tmp_path, now=at(40))


def test_uploaded_portfolios_and_their_rejected_rows_are_deleted_after_their_retention(container, tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    day = date(2027, 3, 1)
    ages = {"old.csv": 90, "old.rejets.csv": 91, "recent.csv": 89, "recent.rejets.csv": 0}
    for name, days_before in ages.items():
        path = uploads / name
        path.write_text("nom;telephone\nDurand;0612345678\n", encoding="utf-8")
        stamp = datetime(2027, 3, 1, 12, 0).timestamp() - days_before * 86400
        os.utime(path, (stamp, stamp))
    retention = UploadsRetention(uploads, retention_days=90)

    dry = purge(container.uow, as_of=day, now=at(40), uploads=retention, dry_run=True)
    assert sorted(Path(p).name for p in dry.uploads_deleted) == ["old.csv", "old.rejets.csv"]
    assert len(list(uploads.iterdir())) == 4

    report = purge(container.uow, as_of=day, now=at(40), uploads=retention)
    assert report.as_dict()["uploads_deleted"] == 2
    assert sorted(p.name for p in uploads.iterdir()) == ["recent.csv", "recent.rejets.csv"]
