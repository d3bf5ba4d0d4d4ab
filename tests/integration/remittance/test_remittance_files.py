"""What a remittance run writes: the SEPA credit transfer file (pain.001.001.03, checked against
the XSD and field by field) and the statements (PDF in French, CSV)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal as D

import pytest
from pypdf import PdfReader

from channels.sepa_transfer import PAIN_NS, validate
from tests.integration.remittance.conftest import CREDITOR_IBAN, OFFICE

NS = {"p": PAIN_NS}
OTHER_IBAN = "FR7610107000010005551234574"


def _text(node, path):
    return node.find(path, NS).text


def test_the_pain001_file_carries_each_creditors_net_and_the_office_fees_with_a_matching_control_sum(
        container, dossiers, mandate, pay, run):
    """Banque Exemple (12 %, 15.00 per file): A-1 pays 120.00 and 80.50: commission 14.40 + 9.66, fixed fee 15.00 -> net 161.44.
    Autre Créancier (10 %, no fixed fee): Z-1 pays 250.00 -> commission 25.00, net 225.00.
    Fees to the office: 24.06 + 15.00 + 25.00 = 64.06. Control sum 161.44 + 225.00 + 64.06 = 450.50,
    the whole 200.50 + 250.00 collected."""
    ids = dossiers(["A-1;particulier;Martin;Paul;FA;consommation;1 000,00;01/12/2024;;"])
    ids |= dossiers(["Z-1;particulier;Roux;Anne;FZ;autre;2 000,00;01/12/2024;;"], creditor="Autre Créancier")
    mandate("0.12", "15.00")
    mandate("0.10", "0.00", name="Autre Créancier", iban=OTHER_IBAN, bic=None, legal_name=None)
    pay(ids["A-1"], "120.00", date(2025, 7, 1), "VIR-1")
    pay(ids["A-1"], "80.50", date(2025, 7, 10), "VIR-2")
    pay(ids["Z-1"], "250.00", date(2025, 7, 12), "VIR-3")

    result = run(date(2025, 8, 1))

    assert [(r.creditor_name, r.net) for r in result.remittances] == [
        ("Autre Créancier", D("225.00")), ("Banque Exemple", D("161.44"))]
    assert result.fees_transfer == D("64.06")
    document = result.transfer_file.read_bytes()
    validate(document)  # the XSD shipped with sepaxml
    root = ET.fromstring(document)
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert (_text(header, "p:MsgId"), _text(header, "p:NbOfTxs"), _text(header, "p:CtrlSum")) == (
        result.batch_ref, "3", "450.50")
    assert _text(header, "p:InitgPty/p:Nm") == OFFICE.name
    [info] = root.findall("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert (_text(info, "p:PmtMtd"), _text(info, "p:ReqdExctnDt"), _text(info, "p:CtrlSum")) == (
        "TRF", "2025-08-01", "450.50")
    assert _text(info, "p:DbtrAcct/p:Id/p:IBAN") == OFFICE.trust_iban
    assert _text(info, "p:DbtrAgt/p:FinInstnId/p:BIC") == OFFICE.trust_bic
    transfers = [(_text(t, "p:PmtId/p:EndToEndId"), _text(t, "p:Amt/p:InstdAmt"),
                  t.find("p:Amt/p:InstdAmt", NS).get("Ccy"), _text(t, "p:CdtrAcct/p:Id/p:IBAN"),
                  t.findtext("p:CdtrAgt/p:FinInstnId/p:BIC", None, NS), _text(t, "p:Cdtr/p:Nm"))
                 for t in info.findall("p:CdtTrfTxInf", NS)]
    other, bank = result.remittances
    assert transfers == [
        (f"RELANCE-REM-{other.remittance_id}", "225.00", "EUR", OTHER_IBAN, None, "Autre Creancier"),
        (f"RELANCE-REM-{bank.remittance_id}", "161.44", "EUR", CREDITOR_IBAN, "BNPAFRPP", "Banque Exemple SA"),
        (f"{result.batch_ref}-FRAIS", "64.06", "EUR", OFFICE.fees_iban, OFFICE.fees_bic, OFFICE.name),
    ]


def test_the_xsd_check_refuses_a_file_that_breaks_the_schema():
    bad = (f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{PAIN_NS}"><CstmrCdtTrfInitn>'
           "<GrpHdr><MsgId>X</MsgId></GrpHdr></CstmrCdtTrfInitn></Document>").encode()
    with pytest.raises(ValueError, match="pain.001.001.03"):
        validate(bad)


def test_the_statement_pdf_is_in_french_with_the_figures_of_the_remittance(container, dossiers, mandate, pay, run):
    ids = dossiers(["A-1;particulier;Martin;Paul;FA;consommation;1 000,00;01/12/2024;;"])
    mandate("0.125", "15.00")
    pay(ids["A-1"], "80.52", date(2025, 6, 2), "VIR-1")  # 10.07 commission, deadline 2 July: late
    [r] = run(date(2025, 8, 1), write_pdf=True).remittances
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.statement_pdf.read_bytes())).pages)
    flat = " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())
    assert f"Relevé de reversement n° {r.remittance_id}" in flat
    assert "Banque Exemple SA" in flat and "1er août 2025" in flat
    assert "Commission (12,5 % des sommes encaissées)" in flat
    # 80.52 - 10.07 - 15.00 = 55.45
    for figure in ("80,52 €", "10,07 €", "15,00 €", "55,45 €", "hors délai", "FR76 3000 4000 0100 0123 4567 830"):
        assert figure in flat, figure
