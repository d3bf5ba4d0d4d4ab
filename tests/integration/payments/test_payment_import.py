"""Payments in: bank statements (CAMT.053) and CSV files matched to dossiers, applied, receipted;
the rest in suspense; bad files refused with nothing written; re-imports create nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Action, Claim, Dossier, JournalEntry, Payment
from models.enums import Channel, LedgerAccount, PaymentStatus
from models.payment_intake import PaymentImport, PaymentSource
from models.references import payment_reference
from services.books import check_invariants
from services.creditor_report import creditor_report, write_creditor_reports
from services.payment_files import PaymentFileError
from services.payment_matching import assign_payment, import_payments, suspense
from services.payments import PaymentError
from services.rendering import build_contexts
from tests.integration.payments.books import assert_books_balanced, balances

D = Decimal
NOW = datetime(2025, 7, 1, 21, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "payments"
ROWS = [
    "P-1;particulier;Martin;Paul;A;autre;1 000,00;01/12/2024;legal;01/01/2025",
    "P-1;particulier;Martin;Paul;B;autre;500,00;01/03/2025;;",
    "F-1;particulier;Durand;Léa;F1;consommation;310,00;31/01/2025;;",
]
OFFICE = {"name": "Cabinet Test", "address_lines": ["1 RUE DU TEST", "69001 LYON"], "phone": "+33478000000",
          "email": "c@test.example", "website": "https://test.example", "iban": "FR7630006000011234567890189",
          "bic": "AGRIFRPP", "payment_url": "https://test.example/payer", "siren": "123456789"}


def statement(tmp_path, ids, name="camt053_v02_duplicate.xml"):
    text = (FIXTURES / name).read_text("utf-8").replace("{REF_P1}", payment_reference(ids["P-1"], compact=True))
    path = Path(tmp_path) / name
    path.write_text(text, "utf-8")
    return path


def counts(container):
    with container.uow() as uow:
        s = uow.session
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Payment, JournalEntry, Action, PaymentImport))


def run_import(container, path, **kw):
    return import_payments(container.uow, path, now=NOW, rates=container.rates, **kw)


def test_a_camt053_statement_with_a_duplicate_entry_books_each_payment_once(container, dossiers, tmp_path):
    ids = dossiers(ROWS)
    report = run_import(container, statement(tmp_path, ids))

    assert (report.format, report.read, report.created, report.unmatched) == ("camt053", 3, 3, 1)
    assert dict(report.matched) == {"reference": 1, "name_amount": 1}
    assert report.skipped == {"duplicate_in_file": 1, "debit": 1, "not_booked": 1}
    assert (report.paid_in_full, report.quittances, report.amount) == (1, 2, D("652.00"))
    with container.uow() as uow:
        s = uow.session
        claims = {c.invoice_ref: c for c in s.scalars(select(Claim))}
        # 300.00 on P-1 received 2025-07-01: A's legal interest 1000 x 3.71 % x 181/365 = 18.40,
        # then 281.60 of A's principal. Left: 718.40 + 500.00 = 1218.40.
        assert (claims["A"].interest_paid, claims["A"].principal_paid, claims["B"].principal_paid) == (
            D("18.40"), D("281.60"), D("0.00"))
        # Durand Léa paid 310.00, her whole balance, without reference: name + amount.
        assert claims["F1"].principal_paid == D("310.00")
        by_rule = dict(s.execute(select(PaymentSource.match_rule, Payment.amount)
                                 .join(Payment, Payment.id == PaymentSource.payment_id)).all())
        assert by_rule == {"reference": D("300.00"), "name_amount": D("310.00"), None: D("42.00")}
        assert_books_balanced(s)
        books = balances(s)
        assert books[LedgerAccount.TRUST_BANK] == D("652.00")
        assert books[LedgerAccount.SUSPENSE] == D("-42.00")
        assert books[LedgerAccount.CREDITOR_PAYABLE] == D("-610.00")
        actions = s.scalars(select(Action).order_by(Action.id)).all()
        paid = s.scalars(select(Payment).where(Payment.status == PaymentStatus.APPLIED).order_by(Payment.id)).all()
        assert [a.idempotency_key for a in actions] == [f"quittance:{p.id}" for p in paid]
        assert {a.channel for a in actions} == {Channel.LETTER}  # the debtors have only a postal address
        entry = s.scalars(select(JournalEntry).where(JournalEntry.reference == str(paid[0].id),
                                                     JournalEntry.kind == "payment")).one()
        assert entry.data["balance_after"] == "1218.40"


def test_importing_the_same_statement_again_creates_nothing(container, dossiers, tmp_path):
    ids = dossiers(ROWS)
    path = statement(tmp_path, ids)
    run_import(container, path)
    before = counts(container)
    again = run_import(container, path)
    assert (again.created, again.duplicates, again.quittances) == (0, 3, 0)
    after = counts(container)
    assert after[:3] == before[:3] and after[3] == before[3] + 1  # only the import run is recorded


def test_a_payer_known_by_his_iban_is_matched_without_a_reference(container, dossiers, tmp_path):
    ids = dossiers(ROWS)
    run_import(container, statement(tmp_path, ids))
    report = run_import(container, FIXTURES / "camt053_v08_iban.xml")
    assert dict(report.matched) == {"iban": 1} and report.unmatched == 0
    with container.uow() as uow:
        payment = uow.session.scalars(select(Payment).where(Payment.external_id.like("%TX-0801-1"))).one()
        assert payment.dossier_id == ids["P-1"] and payment.received_on == date(2025, 8, 1)
        assert_books_balanced(uow.session)


def test_a_payment_in_suspense_assigned_by_hand_is_applied_and_receipted(container, dossiers, tmp_path):
    ids = dossiers(ROWS)
    run_import(container, statement(tmp_path, ids))
    with container.uow() as uow:
        assert check_invariants(uow.session) == []  # money in suspense belongs to no creditor
        waiting = suspense(uow.session)
        assert [(w.amount, w.debtor_name) for w in waiting] == [(D("42.00"), "JEAN INCONNU")]
        result = assign_payment(uow.session, waiting[0].payment_id, ids["P-1"], now=NOW, by="manager",
                                rates=container.rates)
        uow.commit()
    assert not result.paid_in_full
    with container.uow() as uow:
        s = uow.session
        assert suspense(s) == []
        payment = s.get(Payment, waiting[0].payment_id)
        assert (payment.status, payment.dossier_id) == (PaymentStatus.APPLIED, ids["P-1"])
        assert s.get(PaymentSource, payment.id).match_rule == "manual"
        assert_books_balanced(s)
        assert check_invariants(s) == []  # per creditor too: the suspense held no creditor's money
        books = balances(s)
        assert books[LedgerAccount.SUSPENSE] == D("0.00") and books[LedgerAccount.TRUST_BANK] == D("652.00")
        # After the 300.00, A's principal still owes 718.40: the 42.00 go to it.
        assert s.scalars(select(Claim).where(Claim.invoice_ref == "A")).one().principal_paid == D("323.60")
        assert s.scalar(select(func.count()).select_from(Action).where(
            Action.idempotency_key == f"quittance:{payment.id}")) == 1
        with pytest.raises(PaymentError):
            assign_payment(s, payment.id, ids["P-1"], now=NOW, rates=container.rates)


def test_the_quittance_context_states_the_allocation_and_what_is_left(container, dossiers, tmp_path):
    from channels.letters_pdf import LetterRenderer

    ids = dossiers(ROWS)
    run_import(container, statement(tmp_path, ids))
    with container.uow() as uow:
        s = uow.session
        action = s.scalars(select(Action).where(Action.dossier_id == ids["P-1"])).one()
        context = build_contexts(s, [action.id], as_of=date(2025, 7, 2), office=OFFICE, rates=container.rates)[action.id]
    assert context["payment"] | {"id": 0} == {
        "id": 0, "amount": D("300.00"), "received_on": date(2025, 7, 1), "method": "transfer",
        "principal": D("281.60"), "interest": D("18.40"), "costs": D("0.00"), "unapplied": D("0.00"),
        "balance_after": D("1218.40")}
    assert context["letter"]["first"] is False
    html = LetterRenderer().html("letter/quittance", context)
    assert "Quittance" in html and "1\u202f218,40\u00a0€" in html and "281,60\u00a0€" in html


@pytest.mark.parametrize("name, content, message", [
    ("broken.xml", "<Document><BkToCstmrStmt>", "XML invalide"),
    ("pain.xml", '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>', "pas un relevé CAMT.053"),
    ("wrong.csv", "jour;somme\n01/07/2025;12,00\n", "colonnes obligatoires absentes : date, montant"),
    ("negative.csv", "date;montant;libelle\n01/07/2025;12,00;ok\n02/07/2025;-5,00;remboursement\n",
     "ligne 3 : montant négatif"),
    ("currency.csv", "date;montant;devise\n01/07/2025;12,00;EUR\n01/07/2025;12,00;XYZ\n", "ligne 3 : devise inconnue"),
])
def test_a_bad_file_is_refused_with_a_clear_message_and_nothing_is_written(container, dossiers, tmp_path,
                                                                            name, content, message):
    dossiers(ROWS)
    path = Path(tmp_path) / name
    path.write_text(content, "utf-8")
    with pytest.raises(PaymentFileError) as caught:
        run_import(container, path)
    assert message in str(caught.value)
    assert counts(container) == (0, 0, 0, 0)


def test_a_camt053_entry_in_an_unknown_currency_refuses_the_whole_statement(container, dossiers, tmp_path):
    ids = dossiers(ROWS)
    path = statement(tmp_path, ids)
    path.write_text(path.read_text("utf-8").replace('Ccy="EUR">310.00', 'Ccy="ABC">310.00'), "utf-8")
    with pytest.raises(PaymentFileError, match="écriture 3 : devise inconnue"):
        run_import(container, path)
    assert counts(container) == (0, 0, 0, 0)


def test_a_latin1_csv_without_ids_is_matched_and_imported_once(container, dossiers, tmp_path):
    ids = dossiers(ROWS + ["G-1;particulier;Durand;Léa;G1;consommation;310,00;31/01/2025;;"])
    ref = payment_reference(ids["P-1"])
    path = Path(tmp_path) / "psp.csv"
    # Two dossiers of Léa Durand owe 310,00: the name + amount rule refuses to guess.
    path.write_bytes((f"Date opération;Montant;Libellé;Nom\n"
                      f"01/07/2025;1 000,00;VIR {ref.lower()} MARTIN;PAUL MARTIN\n"
                      f"01/07/2025;310,00;VIREMENT;LÉA DURAND\n"
                      f"01/07/2025;310,00;VIREMENT;LÉA DURAND\n").encode("latin-1"))
    report = run_import(container, path, account="FR7630006000011234567890189")
    assert (report.created, dict(report.matched), report.unmatched) == (3, {"reference": 1}, 2)
    again = run_import(container, path, account="FR7630006000011234567890189")
    assert (again.created, again.duplicates) == (0, 3)
    with container.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Payment)) == 3
        assert_books_balanced(uow.session)


def test_the_creditor_is_told_of_the_days_payments_and_proposals(container, dossiers, tmp_path):
    from services.agreements import record_promise

    ids = dossiers(ROWS)
    run_import(container, statement(tmp_path, ids))
    with container.uow() as uow:
        record_promise(uow.session, dossier_id=ids["P-1"], amount=D("200.00"), due_on=date(2025, 7, 15),
                       made_on=date(2025, 7, 1), made_by="agent", now=NOW, rates=container.rates)
        uow.commit()
    with container.uow() as uow:
        reports = creditor_report(uow.session, date(2025, 7, 1))
    assert len(reports) == 1
    r = reports[0]
    assert [(p.dossier_ref, p.amount, p.balance_after) for p in r.payments] == [
        ("P-1", D("300.00"), D("1218.40")), ("F-1", D("310.00"), D("0.00"))]
    assert [(p.kind, p.amount) for p in r.proposals] == [("promesse", D("200.00"))]
    files = write_creditor_reports(reports, Path(tmp_path) / "out")
    lines = files[0].read_text("utf-8-sig").splitlines()
    assert lines == ["type;dossier;date;montant;detail;solde_apres",
                     "paiement;P-1;01/07/2025;300,00;virement;1218,40",
                     "paiement;F-1;01/07/2025;310,00;virement, dossier soldé;0,00",
                     "promesse;P-1;01/07/2025;200,00;paiement promis pour le 15/07/2025;"]


def test_a_debtor_with_an_email_gets_the_quittance_by_email_and_one_with_a_mobile_by_sms_in_contact_hours(
        container, dossiers, tmp_path):
    from models.enums import ContactKind, LineType
    from models.parties import ContactPoint

    ids = dossiers(ROWS)
    with container.uow() as uow:
        s = uow.session
        p1, f1 = s.get(Dossier, ids["P-1"]), s.get(Dossier, ids["F-1"])
        s.add(ContactPoint(debtor_id=p1.debtor_id, kind=ContactKind.EMAIL, value="paul@example.fr", created_at=NOW,
                           updated_at=NOW))
        s.add(ContactPoint(debtor_id=f1.debtor_id, kind=ContactKind.PHONE, value="+33612345678",
                           line_type=LineType.MOBILE, created_at=NOW, updated_at=NOW))
        uow.commit()
    run_import(container, statement(tmp_path, ids))
    with container.uow() as uow:
        actions = {a.dossier_id: (a.channel, a.template, a.not_before) for a in uow.session.scalars(select(Action))}
    assert actions[ids["P-1"]] == (Channel.EMAIL, "email/quittance", NOW)
    # 23:00 in Paris: the SMS waits for 08:00 the next morning.
    assert actions[ids["F-1"]] == (Channel.SMS, "sms/quittance", datetime(2025, 7, 2, 6, 0, tzinfo=UTC))


def test_a_quittance_letter_goes_through_the_dispatcher_and_never_counts_as_the_first_letter(
        container, dossiers, tmp_path, settings):
    from channels.letter_channel import LetterChannel
    from models.enums import ActionStatus
    from services.dispatch import dispatch

    ids = dossiers(ROWS)
    run_import(container, statement(tmp_path, ids))
    spool = LetterChannel(settings.outbox_dir / "print", today=lambda: date(2025, 7, 2))
    report = dispatch(container, {Channel.LETTER: spool}, now=datetime(2025, 7, 2, 9, 0, tzinfo=UTC),
                      rates=container.rates)
    assert report.sent == 2, report
    with container.uow() as uow:
        s = uow.session
        assert {(a.status, a.pages) for a in s.scalars(select(Action))} == {(ActionStatus.SENT, 1)}
        assert [d.first_letter_ref for d in s.scalars(select(Dossier))] == [None, None]
