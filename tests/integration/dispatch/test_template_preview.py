"""`relance template preview`: any template rendered for a real dossier, nothing written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from channels.templating import TemplateError
from models.dossiers import Dossier
from models.money import format_money
from models.outbox import Action
from services.template_preview import preview_template

AS_OF = date(2026, 11, 27)


def _counts(container):
    with container.uow() as uow:
        s = uow.session
        return (s.scalar(select(func.count()).select_from(Action)),
                s.scalar(select(Dossier.first_letter_ref).where(Dossier.external_ref == "A-1")))


def test_an_sms_preview_shows_the_dossier_balance_and_its_segment_count(container, cases):
    preview = preview_template(container, "sms/relance_solde", "A-1", as_of=AS_OF)
    assert preview.to == "+33612345678"
    assert "1 234,56" in preview.text and "A-1" in preview.text
    assert preview.sms_encoding == "GSM-7" and 1 <= preview.sms_segments <= preview.sms_max_segments


def test_an_email_preview_has_its_subject_html_and_text_parts(container, cases):
    preview = preview_template(container, "email/relance_particulier", str(cases["A-1"].dossier_id), as_of=AS_OF)
    assert preview.to == "helene@exemple.fr"
    assert preview.subject and "A-1" in preview.subject
    assert "<html" in preview.html.lower() and "A-1" in preview.text and "€" in preview.text


def test_a_letter_preview_is_a_pdf_and_writes_nothing_in_the_outbox(container, cases, tmp_path):
    before = _counts(container)
    preview = preview_template(container, "letter/premiere_relance", "A-1", as_of=AS_OF,
                               pdf_path=tmp_path / "apercu.pdf")
    text = "".join(page.extract_text() for page in PdfReader(preview.pdf_path).pages)
    assert "Les frais de recouvrement entrepris sans titre exécutoire" in text
    assert f"APERCU-{cases['A-1'].dossier_id}" in text
    assert preview.page_count == len(PdfReader(preview.pdf_path).pages)
    assert _counts(container) == before == (0, None)  # no action, no first letter recorded


def test_a_call_script_preview_names_the_debtor_and_the_balance(container, cases):
    preview = preview_template(container, "call/particulier_relance", "A-1", as_of=AS_OF)
    assert "Lefèvre" in preview.text and format_money(Decimal("1234.56")) in preview.text


def test_unknown_templates_dossiers_and_channels_are_refused_with_a_message(container, cases):
    with pytest.raises(TemplateError, match="not found"):
        preview_template(container, "sms/inexistant", "A-1", as_of=AS_OF)
    with pytest.raises(LookupError, match="introuvable"):
        preview_template(container, "sms/relance_solde", "Z-9", as_of=AS_OF)
    with pytest.raises(ValueError, match="attendu sms/NOM"):
        preview_template(container, "fax/relance", "A-1", as_of=AS_OF)
