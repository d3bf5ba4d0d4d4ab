from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import jinja2
import pytest

from channels.templating import DEFAULT_MAX_SEGMENTS, DEFAULT_TEMPLATES_DIR, SmsTooLongError
from channels.templating import TemplateError, TemplateRenderer, date_fr, date_short, money
from channels.templating import sample_context, worst_case_contexts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "templates"
AS_OF = date(2025, 12, 31)


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(FIXTURES)


@pytest.fixture
def context() -> dict:
    return sample_context(AS_OF)


def _templates(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


# -- filters -------------------------------------------------------------------------------------


def test_money_is_written_the_french_way_with_babel():
    assert money(Decimal("1234.56")) == "1\u202f234,56\u00a0€"
    assert " ".join(money(Decimal("1234.56")).replace("\u202f", " ").split()) == "1 234,56 €"
    assert money(Decimal("999999.99")).replace("\u202f", " ").replace("\u00a0", " ") == "999 999,99 €"
    assert money(0) == "0,00\u00a0€"


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        money(12.5)


def test_dates_are_written_in_french():
    assert date_fr(date(2025, 12, 31)) == "31 décembre 2025"
    assert date_fr(datetime(2026, 2, 14, 9, 30)) == "14 février 2026"
    assert date_short(date(2025, 12, 31)) == "31/12/2025"
    assert date_short("2026-03-05") == "05/03/2026"


def test_the_first_of_the_month_is_written_1er():
    assert date_fr(date(2026, 3, 1)) == "1er mars 2026"


def test_none_renders_as_empty_text():
    assert money(None) == date_fr(None) == date_short(None) == ""


# -- rendering -----------------------------------------------------------------------------------


def test_the_default_templates_folder_is_the_repository_templates_folder():
    assert DEFAULT_TEMPLATES_DIR == Path(__file__).resolve().parents[3] / "templates"


def test_an_sms_is_transliterated_to_gsm7_and_measured(renderer, context):
    sms = renderer.render_sms("sms/rappel", context)
    assert sms.encoding == "GSM-7"
    assert "vous nous etes redevable de 1 290,01 €" in sms.text  # ê -> e, no-break spaces -> " "
    assert "Lumière Énergie" in sms.text  # è and É are GSM-7 already
    assert (sms.segments, sms.max_segments) == (2, 2)
    assert "  " not in sms.text and not sms.text.startswith(("\n", " "))


def test_without_transliteration_the_same_sms_would_be_ucs2_and_cost_twice_as_much(context):
    raw = TemplateRenderer(FIXTURES, transliterate_sms=False, check=False)
    with pytest.raises(SmsTooLongError, match="4 segments \\(UCS-2\\)"):
        raw.render_sms("sms/rappel", context)


def test_the_bare_name_and_the_kind_prefixed_name_are_the_same_template(renderer, context):
    assert renderer.render_sms("court", context) == renderer.render_sms("sms/court", context)


def test_a_template_of_another_kind_is_refused(renderer, context):
    with pytest.raises(TemplateError, match="not a sms template"):
        renderer.render_sms("email/relance", context)


def test_max_segments_is_read_from_the_first_line_comment_else_defaults_to_two(renderer):
    assert renderer.sms_max_segments("sms/court") == 1
    assert renderer.sms_max_segments("sms/rappel") == 2
    assert renderer.sms_max_segments("sms/promesse") == DEFAULT_MAX_SEGMENTS == 2


def test_a_missing_variable_raises_instead_of_rendering_blank(renderer, context):
    del context["totals"]
    with pytest.raises(TemplateError, match="sms/court.txt") as raised:
        renderer.render_sms("sms/court", context)
    assert isinstance(raised.value.__cause__, jinja2.UndefinedError)


def test_an_email_has_a_one_line_subject_escaped_html_and_plain_text(renderer, context):
    context["creditor"]["name"] = "Dupont & Fils <SARL>"
    mail = renderer.render_email("email/relance", context)
    assert mail.subject == "Dossier D-2025-010427 - Dupont & Fils <SARL>"
    assert "dû à Dupont &amp; Fils &lt;SARL&gt;" in mail.html
    assert "dû à Dupont & Fils <SARL>" in mail.text
    assert "https://relance.example/desinscription?t=exemple" in mail.text
    assert mail.text.startswith("Mme Lefèvre,\n\nVotre solde au 31 décembre 2025")


def test_a_call_script_renders_its_markdown(renderer, context):
    script = renderer.render_text("call/premier_appel", context)
    assert script.startswith("# Appel - dossier D-2025-010427\n")
    assert "- Facture FA-2025-0412 échue le 17/10/2025 : 892,43\u00a0€" in script


def test_the_sample_context_renders_every_fixture_template(renderer, context):
    for name in renderer.sms_template_names():
        renderer.render_sms(name, context)
    renderer.render_email("relance", context)
    renderer.render_text("premier_appel", context)


# -- the load-time check ---------------------------------------------------------------------------


def test_an_sms_template_that_can_exceed_its_max_segments_fails_at_load(tmp_path):
    folder = _templates(
        tmp_path,
        {
            "sms/ok.txt": "{# max_segments: 1 #}\nBonjour, réf. {{ dossier.payment_reference }}",
            # 60 characters of text plus a 38-character name and an amount: fits with the
            # sample context (1 segment), not with the worst case.
            "sms/limite.txt": (
                "{# max_segments: 1 #}\n"
                "{{ debtor.display_name }}, {{ creditor.name }} attend {{ totals.balance | money }}. "
                "Réglez vite sur {{ office.payment_url }} réf. {{ dossier.payment_reference }}"
            ),
        },
    )
    with pytest.raises(SmsTooLongError, match="sms/limite.txt") as raised:
        TemplateRenderer(folder)
    assert "worst case" in str(raised.value)
    unchecked = TemplateRenderer(folder, check=False)
    assert unchecked.render_sms("limite", sample_context(AS_OF)).segments == 1


def test_an_sms_template_using_an_unknown_variable_fails_at_load(tmp_path):
    folder = _templates(tmp_path, {"sms/typo.txt": "Solde : {{ totals.balence | money }}"})
    with pytest.raises(TemplateError, match="sms/typo.txt"):
        TemplateRenderer(folder)


def test_a_rendered_sms_longer_than_declared_is_refused(tmp_path):
    folder = _templates(tmp_path, {"sms/long.txt": "{# max_segments: 1 #}\n{{ 'x' * 161 }}"})
    renderer = TemplateRenderer(folder, check=False)
    with pytest.raises(SmsTooLongError, match="2 segments"):
        renderer.render_sms("long", sample_context(AS_OF))


def test_the_worst_case_uses_38_character_names_and_the_largest_amounts():
    person, company = worst_case_contexts()
    assert len(person["debtor"]["display_name"]) == len(company["debtor"]["company_name"]) == 38
    assert not person["debtor"]["is_company"] and company["debtor"]["is_company"]
    assert money(person["totals"]["balance"]).replace("\u202f", " ").replace("\u00a0", " ") == "999 999,99 €"
    assert date_fr(person["dossier"]["first_letter_on"]) == "30 septembre 2025"
    assert person["promise"] and person["installment"]


def test_the_worst_case_check_uses_the_real_office_when_given(tmp_path):
    folder = _templates(tmp_path, {"sms/office.txt": "{# max_segments: 1 #}\n{{ office.name }}"})
    TemplateRenderer(folder, office={"name": "Cabinet"})
    with pytest.raises(SmsTooLongError):
        TemplateRenderer(folder, office={"name": "C" * 161})


def test_every_shipped_sms_template_stays_within_its_declared_segments_in_the_worst_case():
    from channels.templating import TemplateRenderer

    renderer = TemplateRenderer()  # checks at load; raises TemplateError naming the template
    assert renderer.sms_template_names()
