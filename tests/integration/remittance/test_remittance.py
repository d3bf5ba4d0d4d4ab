"""Remittances to creditors: commission and fixed fees hand-computed, never remitted twice,
reversals before and after remittance (claw-back), clearing and deadlines, bank accounts
checked before anything is written, dry runs, and the books after every operation."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from models.enums import LedgerAccount, RemittanceItemKind, RemittanceStatus
from models.ledger import JournalEntry
from models.remittance import Remittance, RemittanceItem
from services.balances import dossier_totals
from services.books import trial_balance, trial_balance_by_creditor
from services.remittance import RemittanceError
from tests.integration.remittance.conftest import CREDITOR_IBAN

ROWS = [
    "A-1;particulier;Martin;Paul;FA;consommation;1 000,00;01/12/2024;;",
    "B-1;particulier;Durand;Léa;FB;consommation;1 000,00;01/12/2024;;",
    "C-1;particulier;Petit;Jean;FC;consommation;310,00;01/12/2024;;",
]
JULY_1, JULY_10, JULY_20, AUG_1 = date(2025, 7, 1), date(2025, 7, 10), date(2025, 7, 20), date(2025, 8, 1)


def _count(container, model) -> int:
    with container.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


def _items(container) -> list[RemittanceItem]:
    with container.uow() as uow:
        return list(uow.session.scalars(select(RemittanceItem).order_by(RemittanceItem.id)))


def test_a_remittance_takes_the_commission_per_payment_and_the_fixed_fee_once_per_dossier(
        container, dossiers, mandate, pay, run):
    """12 % commission, 15.00 fixed fee per file; A-1 pays 120.00 and 80.50, B-1 pays 300.00.

    commission: 120.00 x 12 % = 14.40; 80.50 x 12 % = 9.66; 300.00 x 12 % = 36.00 -> 60.06
    fixed fees: A-1 15.00 (on its first line), B-1 15.00 -> 30.00
    gross 500.50 - fees 90.06 = net 410.44
    lines: 120.00 - 14.40 - 15.00 = 90.60; 80.50 - 9.66 = 70.84; 300.00 - 36.00 - 15.00 = 249.00
    (90.60 + 70.84 + 249.00 = 410.44).
    """
    ids = dossiers(ROWS)
    mandate("0.12", "15.00")
    p1 = pay(ids["A-1"], "120.00", JULY_1, "VIR-1")
    p2 = pay(ids["A-1"], "80.50", JULY_10, "VIR-2")
    p3 = pay(ids["B-1"], "300.00", JULY_20, "VIR-3")

    result = run(AUG_1)

    [r] = result.remittances
    assert (r.status, r.gross, r.commission, r.fixed_fees, r.net) == (
        "issued", D("500.50"), D("60.06"), D("30.00"), D("410.44"))
    assert [(ln.payment_id, ln.gross, ln.commission, ln.fixed_fee, ln.net) for ln in r.lines] == [
        (p1, D("120.00"), D("14.40"), D("15.00"), D("90.60")),
        (p2, D("80.50"), D("9.66"), D("0.00"), D("70.84")),
        (p3, D("300.00"), D("36.00"), D("15.00"), D("249.00")),
    ]
    assert result.fees_transfer == D("90.06")
    with container.uow() as uow:
        row = uow.session.get(Remittance, r.remittance_id)
        assert (row.status, row.net, row.items_count, row.end_to_end_id) == (
            RemittanceStatus.ISSUED, D("410.44"), 3, f"RELANCE-REM-{row.id}")
        books = trial_balance(uow)
        # Everything collected has left the compte affecté: 410.44 to the creditor, 90.06 to the office.
        assert books[LedgerAccount.TRUST_BANK] == D("0.00")
        assert books[LedgerAccount.CREDITOR_PAYABLE] == D("0.00")
        assert (books[LedgerAccount.OFFICE_BANK], books[LedgerAccount.FEE_INCOME]) == (D("90.06"), D("-90.06"))
        kinds = sorted(uow.session.scalars(select(JournalEntry.kind).where(JournalEntry.kind.in_(("fee", "remittance")))))
        assert kinds == ["fee", "remittance"]

    rows = list(csv.DictReader(io.StringIO(r.statement_csv.read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert [(x["reference_dossier"], x["montant"], x["commission"], x["frais_fixes"], x["net"]) for x in rows] == [
        ("A-1", "120,00", "14,40", "15,00", "90,60"), ("A-1", "80,50", "9,66", "0,00", "70,84"),
        ("B-1", "300,00", "36,00", "15,00", "249,00")]
    # Received on 1 July, due by 31 July (30 days): paid out late on 1 August, and said so.
    assert (rows[0]["date"], rows[0]["date_limite"], rows[0]["hors_delai"]) == ("01/07/2025", "31/07/2025", "oui")
    assert (rows[2]["date"], rows[2]["hors_delai"]) == ("20/07/2025", "non")
    assert r.late_items == 1  # only the 1 July line: 10 July is due by 9 August


def test_the_commission_is_rounded_half_up_on_each_line(container, dossiers, mandate, pay, run):
    """12.5 %: 80.52 x 0.125 = 10.065 -> 10.07 (half up); no fixed fee: net 80.52 - 10.07 = 70.45."""
    ids = dossiers(ROWS)
    mandate("0.125", "0.00")
    pay(ids["A-1"], "80.52", JULY_1, "VIR-1")
    [r] = run(AUG_1).remittances
    assert (r.commission, r.fixed_fees, r.net) == (D("10.07"), D("0.00"), D("70.45"))


def test_a_payment_is_never_remitted_twice(container, dossiers, mandate, pay, run):
    ids = dossiers(ROWS)
    mandate()
    pay(ids["A-1"], "120.00", JULY_1, "VIR-1")
    first = run(AUG_1)
    again = run(AUG_1)
    assert len(first.remittances) == 1 and again.remittances == () and again.batch_ref is None
    assert _count(container, Remittance) == 1 and len(_items(container)) == 1
    # A later payment goes into a later remittance, and the dossier's fixed fee is not charged again.
    pay(ids["A-1"], "50.00", date(2025, 8, 5), "VIR-2")
    [r] = run(date(2025, 8, 10)).remittances
    assert (r.gross, r.commission, r.fixed_fees, r.net) == (D("50.00"), D("6.00"), D("0.00"), D("44.00"))


def test_a_small_first_collection_pays_part_of_the_fixed_fee_and_the_next_one_the_rest(
        container, dossiers, mandate, pay, run):
    """10.00 at 12 %: commission 1.20, fixed fee capped at 8.80, net 0.00 (offset, no transfer);
    then 50.00: commission 6.00, the fee's remaining 6.20, net 37.80."""
    ids = dossiers(ROWS)
    mandate("0.12", "15.00")
    pay(ids["A-1"], "10.00", JULY_1, "VIR-1")
    first = run(AUG_1)
    [r] = first.remittances
    assert (r.status, r.commission, r.fixed_fees, r.net, r.end_to_end_id) == (
        "offset", D("1.20"), D("8.80"), D("0.00"), None)
    # Only the fee sweep to the office's account is in the SEPA file.
    assert first.transfer_file is not None and first.fees_transfer == D("10.00")
    pay(ids["A-1"], "50.00", date(2025, 8, 5), "VIR-2")
    [r] = run(date(2025, 8, 10)).remittances
    assert (r.commission, r.fixed_fees, r.net) == (D("6.00"), D("6.20"), D("37.80"))


def test_a_payment_reversed_before_remittance_is_not_remitted(container, dossiers, mandate, pay, reverse, run):
    ids = dossiers(ROWS)
    mandate()
    bounced = pay(ids["A-1"], "120.00", JULY_1, "CHQ-1")
    pay(ids["B-1"], "300.00", JULY_1, "VIR-2")
    reverse(bounced, JULY_10)
    [r] = run(AUG_1).remittances
    assert [ln.dossier_ref for ln in r.lines] == ["B-1"]
    assert (r.gross, r.net) == (D("300.00"), D("249.00"))


def test_a_payment_reversed_after_remittance_is_clawed_back_from_the_next_remittance(
        container, dossiers, mandate, pay, reverse, run):
    """A-1's 120.00 is remitted on 1 August (14.40 commission, 15.00 fixed fee, 90.60 net), then
    bounces on 5 August. On 20 August B-1's 300.00 is remitted with the claw-back:
      claw-back A-1: -120.00 gross, -14.40 commission, -15.00 fixed fee (nothing covers it now),
                     net -90.60 (exactly what the creditor received for it);
      B-1:            300.00 gross, 36.00 commission, 15.00 fixed fee, net 249.00;
      total: gross 180.00, commission 21.60, fixed fees 0.00, net 158.40 (= 249.00 - 90.60).
    """
    ids = dossiers(ROWS)
    mandate("0.12", "15.00")
    bounced = pay(ids["A-1"], "120.00", JULY_1, "CHQ-1")
    [first] = run(AUG_1).remittances
    assert first.net == D("90.60")

    reverse(bounced, date(2025, 8, 5))
    with container.uow() as uow:
        # The bank took the 120.00 back from the compte affecté; the creditor's payable turns debit:
        # it owes 120.00 gross, of which the office gives back 29.40 of fees at the next remittance.
        mine = trial_balance_by_creditor(uow)[first.creditor_id]
        assert (mine[LedgerAccount.CREDITOR_PAYABLE], mine[LedgerAccount.TRUST_BANK]) == (D("120.00"), D("-120.00"))

    pay(ids["B-1"], "300.00", date(2025, 8, 10), "VIR-2")
    [r] = run(date(2025, 8, 20)).remittances
    assert [(ln.kind, ln.dossier_ref, ln.gross, ln.commission, ln.fixed_fee, ln.net) for ln in r.lines] == [
        (RemittanceItemKind.CLAWBACK, "A-1", D("-120.00"), D("-14.40"), D("-15.00"), D("-90.60")),
        (RemittanceItemKind.PAYMENT, "B-1", D("300.00"), D("36.00"), D("15.00"), D("249.00")),
    ]
    assert (r.gross, r.commission, r.fixed_fees, r.net) == (D("180.00"), D("21.60"), D("0.00"), D("158.40"))
    with container.uow() as uow:
        books = trial_balance(uow)
        assert books[LedgerAccount.TRUST_BANK] == books[LedgerAccount.CREDITOR_PAYABLE] == D("0.00")
        # Fees kept: 36.00 + 15.00 on B-1 only.
        assert books[LedgerAccount.FEE_INCOME] == D("-51.00")
    # The claw-back is taken once.
    assert run(date(2025, 8, 30)).remittances == ()


def test_a_claw_back_larger_than_the_new_collections_is_carried_over_and_nothing_is_booked(
        container, dossiers, mandate, pay, reverse, run):
    ids = dossiers(ROWS)
    mandate("0.12", "15.00")
    bounced = pay(ids["A-1"], "120.00", JULY_1, "CHQ-1")
    run(AUG_1)
    reverse(bounced, date(2025, 8, 5))
    pay(ids["B-1"], "50.00", date(2025, 8, 6), "VIR-2")
    result = run(date(2025, 8, 20))
    # -90.60 + (50.00 - 6.00 - 15.00 = 29.00) = -61.60: the creditor owes; no transfer can be negative.
    assert result.remittances == () and [c.net for c in result.carried] == [D("-61.60")]
    assert _count(container, Remittance) == 1
    # A later, larger collection settles it.
    pay(ids["C-1"], "300.00", date(2025, 8, 25), "VIR-3")
    [r] = run(date(2025, 9, 1)).remittances
    # -90.60 + 29.00 + (300.00 - 36.00 - 15.00 = 249.00) = 187.40.
    assert r.net == D("187.40")


def test_fees_given_back_on_a_claw_back_beyond_the_new_fees_are_owed_by_the_office_to_the_trust_account(
        container, dossiers, mandate, pay, reverse, run):
    """1 August: A-1 and B-1 each pay 120.00 (12 %, 15.00 per file): 90.60 net each.
    A-1's payment bounces; B-1 pays 150.00. 20 August:
      claw-back A-1: -120.00 + 14.40 + 15.00 = -90.60;  B-1: 150.00 - 18.00 = 132.00 (fee already paid)
      net 41.40; fees -14.40 - 15.00 + 18.00 = -11.40: the office gives 11.40 back to the compte affecté,
    so the SEPA file carries the creditor's 41.40 only."""
    import xml.etree.ElementTree as ET

    ids = dossiers(ROWS)
    mandate("0.12", "15.00")
    bounced = pay(ids["A-1"], "120.00", JULY_1, "CHQ-1")
    pay(ids["B-1"], "120.00", JULY_1, "VIR-1")
    run(AUG_1)
    reverse(bounced, date(2025, 8, 5))
    pay(ids["B-1"], "150.00", date(2025, 8, 6), "VIR-2")
    result = run(date(2025, 8, 20))
    [r] = result.remittances
    assert (r.net, r.fees, result.fees_transfer) == (D("41.40"), D("-11.40"), D("-11.40"))
    root = ET.fromstring(result.transfer_file.read_bytes())
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    assert (root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", None, ns),
            root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", None, ns)) == ("1", "41.40")
    with container.uow() as uow:
        books = trial_balance(uow)
        assert books[LedgerAccount.TRUST_BANK] == D("0.00")
        # Fees kept: B-1's 14.40 + 15.00 + 18.00.
        assert books[LedgerAccount.OFFICE_BANK] == -books[LedgerAccount.FEE_INCOME] == D("47.40")


def test_only_the_part_applied_to_claims_is_remitted_an_overpayment_stays_in_suspense(
        container, dossiers, mandate, pay, run):
    ids = dossiers(ROWS)
    mandate("0.10", "0.00")
    pay(ids["C-1"], "400.00", JULY_1, "VIR-1")  # the claim is 310.00: 90.00 overpaid
    [r] = run(AUG_1).remittances
    assert (r.gross, r.commission, r.net) == (D("310.00"), D("31.00"), D("279.00"))
    with container.uow() as uow:
        books = trial_balance(uow)
        assert books[LedgerAccount.TRUST_BANK] == D("90.00") and books[LedgerAccount.SUSPENSE] == D("-90.00")


def test_fees_never_change_what_a_consumer_debtor_owes(container, dossiers, mandate, pay, run):
    ids = dossiers(ROWS)
    mandate("0.20", "25.00")
    pay(ids["A-1"], "120.00", JULY_1, "VIR-1")
    with container.uow() as uow:
        before = dossier_totals(uow.session, [ids["A-1"]], as_of=AUG_1, rates=container.rates)[ids["A-1"]]
    run(AUG_1)
    with container.uow() as uow:
        after = dossier_totals(uow.session, [ids["A-1"]], as_of=AUG_1, rates=container.rates)[ids["A-1"]]
        books = trial_balance(uow)
    assert after == before and after.balance == D("880.00")
    assert books[LedgerAccount.DEBTOR_RECEIVABLE] == D("-120.00")  # moved by the payment only


def test_a_cheque_waits_until_cleared_and_late_lines_are_flagged(container, dossiers, mandate, pay, run):
    ids = dossiers(ROWS)
    mandate("0.10", "0.00", delay=30)
    pay(ids["A-1"], "100.00", date(2025, 6, 20), "VIR-OLD")  # deadline 20 July: late on 1 August
    pay(ids["B-1"], "200.00", date(2025, 7, 25), "CHQ-1", method="cheque")  # cleared on 8 August
    result = run(AUG_1)
    [r] = result.remittances
    assert [(ln.dossier_ref, ln.late, ln.deadline) for ln in r.lines] == [("A-1", True, date(2025, 7, 20))]
    assert (r.late_items, result.not_cleared) == (1, 1)
    [r] = run(date(2025, 8, 8)).remittances
    assert [(ln.dossier_ref, ln.late) for ln in r.lines] == [("B-1", False)]


def test_due_only_remits_just_the_lines_whose_deadline_has_come(container, dossiers, mandate, pay, run):
    ids = dossiers(ROWS)
    mandate("0.10", "0.00", delay=30)
    pay(ids["A-1"], "100.00", JULY_1, "VIR-1")  # deadline 31 July
    pay(ids["B-1"], "200.00", date(2025, 7, 25), "VIR-2")  # deadline 24 August
    [r] = run(AUG_1, due_only=True).remittances
    assert [ln.dossier_ref for ln in r.lines] == ["A-1"]


def test_a_creditor_without_an_iban_gets_a_clear_error_and_nothing_is_written(
        container, dossiers, mandate, pay, run):
    ids = dossiers(ROWS)
    mandate(iban=None)
    pay(ids["A-1"], "120.00", JULY_1, "VIR-1")
    with pytest.raises(RemittanceError, match="Banque Exemple.*aucun IBAN"):
        run(AUG_1)
    mandate(iban="FR7630004000010001234567831")  # wrong check digits
    with pytest.raises(RemittanceError, match="IBAN invalide"):
        run(AUG_1)
    assert _count(container, Remittance) == 0 and _items(container) == []
    with container.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(JournalEntry)
                                  .where(JournalEntry.kind.in_(("fee", "remittance")))) == 0
    assert not run.out.exists() or not any(run.out.rglob("*"))
    mandate(iban=CREDITOR_IBAN)
    assert len(run(AUG_1).remittances) == 1


def test_a_dry_run_computes_everything_and_writes_nothing(container, dossiers, mandate, pay, run):
    ids = dossiers(ROWS)
    mandate("0.12", "15.00")
    pay(ids["A-1"], "120.00", JULY_1, "VIR-1")
    result = run(AUG_1, dry_run=True)
    [r] = result.remittances
    assert result.dry_run and (r.net, r.remittance_id, r.statement_csv) == (D("90.60"), None, None)
    assert result.transfer_file is None
    assert _count(container, Remittance) == 0 and _items(container) == []
    assert not run.out.exists()
    assert len(run(AUG_1).remittances) == 1


def test_an_unknown_creditor_is_refused(container, dossiers, run):
    dossiers(ROWS)
    with pytest.raises(RemittanceError, match="créancier inconnu"):
        run(AUG_1, creditor="Personne")
