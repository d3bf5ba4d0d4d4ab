"""A big payment import runs in concurrent streams partitioned by dossier (PostgreSQL): it must
leave exactly what the one-stream import leaves, and a stream that fails must leave an import
that a re-run completes without duplicates."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

import services.payment_matching as payment_matching
from models import Action, Claim, Dossier, DossierEvent, JournalEntry, LedgerLine, Payment
from models.references import payment_reference
from services.books import check_invariants
from services.payment_matching import import_payments, suspense
from tests.conftest import _truncate_all
from tests.integration.payments.books import assert_books_balanced

NOW = datetime(2025, 7, 1, 21, 0, tzinfo=UTC)
ACCOUNT = "FR7630006000011234567890189"
NAMES = ["Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
         "Simon", "Michel"]


def portfolio_rows() -> list[str]:
    """Twelve dossiers; every third bears legal interest, so the day and order of payments count."""
    rows = []
    for n, name in enumerate(NAMES):
        interest = "legal;01/01/2025" if n % 3 == 0 else ";"
        rows.append(f"D-{n};particulier;{name};Paul;F{n};autre;{100 + 10 * n},00;01/12/2024;{interest}")
    return rows


def statement(tmp_path, ids: dict[str, int]) -> Path:
    """Payments interleaved across dossiers and chunks: three of 20,00 per dossier on different
    days, then the rest of the principal for half of them (paid in full), then one more on a
    dossier already closed (suspense, or an overpayment when in the closing payment's chunk);
    payers nobody knows (suspense) and one payer found by name and amount."""
    lines = ["identifiant;date;montant;reference;libelle;nom"]

    def pay(key: str, day: int, amount: str, ref: str, name: str) -> None:
        lines.append(f"{key};{day:02d}/06/2025;{amount};{ref};VIR SEPA;{name}")

    refs = {n: payment_reference(ids[f"D-{n}"], compact=True) for n in range(len(NAMES) - 1)}
    for round_ in range(3):
        for n, ref in refs.items():
            pay(f"R{round_}-{n}", 2 + round_ * 5 + n % 3, "20,00", ref, f"DEBITEUR {n}")
        pay(f"U{round_}", 3 + round_, "7,50", "", f"PAYEUR INCONNU {round_}")
    for n, ref in refs.items():
        if n % 2 == 0:
            pay(f"F-{n}", 20, f"{100 + 10 * n - 60},00", ref, f"DEBITEUR {n}")
    for n, ref in refs.items():
        if n % 4 == 0:
            pay(f"A-{n}", 25, "5,00", ref, f"DEBITEUR {n}")
    # Michel Paul pays his whole principal without a reference: matched by name and amount.
    pay("N-11", 26, f"{100 + 10 * 11},00", "", "PAUL MICHEL")
    path = Path(tmp_path) / "releve.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def state(container) -> dict:
    """Everything the import leaves, with payment ids replaced by external ids (the streams
    draw ids in another order)."""
    with container.uow() as uow:
        s = uow.session
        assert_books_balanced(s)
        assert check_invariants(s) == []
        external = dict(s.execute(select(Payment.id, Payment.external_id)).all())

        def named(data: dict | None) -> dict | None:
            if data and "payment_id" in data:
                data = {**data, "payment_id": external[data["payment_id"]]}
            return data

        entries = {}
        for e in s.scalars(select(JournalEntry)):
            key = external[int(e.reference)] if e.kind in ("payment", "unmatched") else (e.kind, e.reference)
            lines = sorted((str(ln.account), ln.creditor_id, ln.dossier_id, ln.claim_id, str(ln.component), ln.amount)
                           for ln in s.scalars(select(LedgerLine).where(LedgerLine.entry_id == e.id)))
            entries[key] = (e.kind, e.dossier_id, e.posted_on, named(e.data), lines)
        return {
            "payments": {p.external_id: (p.dossier_id, p.amount, str(p.status)) for p in s.scalars(select(Payment))},
            "entries": entries,
            "events": [(e.dossier_id, str(e.kind), named(e.data)) for e in s.scalars(
                select(DossierEvent).where(DossierEvent.source == "payment")
                .order_by(DossierEvent.dossier_id, DossierEvent.id))],
            "quittances": sorted((external[int(a.idempotency_key.split(":")[1])], str(a.channel), a.dossier_id)
                                 for a in s.scalars(select(Action).where(Action.step == "quittance"))),
            "suspense": [(external[i.payment_id], i.amount, i.received_on) for i in suspense(s)],
            "claims": {c.id: (c.principal_paid, c.interest_paid, c.interest_accrued, c.last_interruption_on)
                       for c in s.scalars(select(Claim))},
            "dossiers": {d.id: (str(d.status), str(d.close_reason)) for d in s.scalars(select(Dossier))},
        }


def imported(container, dossiers, tmp_path, **kw) -> tuple[dict, dict]:
    """A fresh portfolio, the statement imported with `kw`: (the report, what is left)."""
    _truncate_all(container)
    path = statement(tmp_path, dossiers(portfolio_rows()))
    report = import_payments(container.uow, path, now=NOW, account=ACCOUNT, rates=container.rates, chunk=7, **kw)
    return {k: v for k, v in report.as_dict().items() if k != "import_id"}, state(container)


@pytest.fixture
def postgresql_only(backend):
    if backend != "postgresql":
        pytest.skip("SQLite has one writer: its imports run in one stream")


def test_an_import_in_two_streams_leaves_exactly_what_one_stream_leaves(container, dossiers, tmp_path,
                                                                         postgresql_only):
    one_report, one = imported(container, dossiers, tmp_path, streams=1)
    two_report, two = imported(container, dossiers, tmp_path, streams=2, parallel_from=0)

    assert two_report == one_report
    assert one_report["matched"]["name_amount"] == 1
    assert one_report["unmatched"] >= 3  # the unknown payers, and payments on dossiers closed before them
    for part in one:
        assert two[part] == one[part], part


def test_a_stream_that_fails_leaves_an_import_that_a_rerun_completes_without_duplicates(
        container, dossiers, tmp_path, postgresql_only):
    _, expected = imported(container, dossiers, tmp_path, streams=1)
    _truncate_all(container)
    path = statement(tmp_path, dossiers(portfolio_rows()))
    with container.engine.begin() as conn:  # the database refuses one payment of the second round
        conn.execute(text("CREATE FUNCTION refuse_r1() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                          "IF right(NEW.external_id, 4) = 'R1-4' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"))
        conn.execute(text("CREATE TRIGGER refuse_r1 BEFORE INSERT ON payment FOR EACH ROW EXECUTE FUNCTION refuse_r1()"))
    try:
        with pytest.raises(Exception, match="refused"):
            import_payments(container.uow, path, now=NOW, account=ACCOUNT, rates=container.rates, chunk=7,
                            streams=2, parallel_from=0)
    finally:
        with container.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_r1 ON payment"))
            conn.execute(text("DROP FUNCTION refuse_r1()"))
    with container.uow() as uow:
        applied = {e.rsplit(":", 1)[1] for e in uow.session.scalars(select(Payment.external_id))}
        assert_books_balanced(uow.session)
    assert applied and "R1-4" not in applied and not any(key.startswith("U") for key in applied)

    report = import_payments(container.uow, path, now=NOW, account=ACCOUNT, rates=container.rates, chunk=7,
                             streams=2, parallel_from=0)

    assert report.duplicates == len(applied)
    assert state(container) == expected


def test_killed_stream_processes_leave_an_import_that_a_rerun_completes_without_duplicates(
        container, dossiers, tmp_path, postgresql_only):
    _, expected = imported(container, dossiers, tmp_path, streams=1)
    _truncate_all(container)
    path = statement(tmp_path, dossiers(portfolio_rows()))
    with container.engine.begin() as conn:  # one payment of the second round keeps its stream busy
        conn.execute(text("CREATE FUNCTION slow_r1() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                          "IF right(NEW.external_id, 4) = 'R1-4' THEN PERFORM pg_sleep(2); END IF; RETURN NEW; END $$"))
        conn.execute(text("CREATE TRIGGER slow_r1 BEFORE INSERT ON payment FOR EACH ROW EXECUTE FUNCTION slow_r1()"))

    def kill_the_streams_once_one_is_busy() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with container.engine.connect() as conn:
                if conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                                    "AND datname = current_database()")):
                    break
            time.sleep(0.05)
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_streams_once_one_is_busy)
    killer.start()
    try:
        with pytest.raises(BrokenProcessPool):
            import_payments(container.uow, path, now=NOW, account=ACCOUNT, rates=container.rates, chunk=7,
                            streams=2, parallel_from=0)
    finally:
        killer.join()
        with container.engine.begin() as conn:  # waits for the orphaned transaction to roll back
            conn.execute(text("DROP TRIGGER slow_r1 ON payment"))
            conn.execute(text("DROP FUNCTION slow_r1()"))
    with container.uow() as uow:
        applied = {e.rsplit(":", 1)[1] for e in uow.session.scalars(select(Payment.external_id))}
        assert_books_balanced(uow.session)
    assert "R1-4" not in applied

    import_payments(container.uow, path, now=NOW, account=ACCOUNT, rates=container.rates, chunk=7,
                    streams=2, parallel_from=0)

    assert state(container) == expected


def test_a_small_file_or_sqlite_is_imported_in_one_stream(container, dossiers, tmp_path, backend, monkeypatch):
    def no_streams(*args, **kwargs):
        raise AssertionError("no stream should start")

    monkeypatch.setattr(payment_matching, "run_streams", no_streams)
    path = statement(tmp_path, dossiers(portfolio_rows()))
    parallel_from = 0 if backend == "sqlite" else 1000  # SQLite: whatever the size

    report = import_payments(container.uow, path, now=NOW, account=ACCOUNT, rates=container.rates, chunk=7,
                             parallel_from=parallel_from)

    assert report.created == report.read == 46
    with container.uow() as uow:
        assert_books_balanced(uow.session)
