"""What the letters say: CPCE R124-4 on the first letter, the first letter's reference on later
ones, and nothing that looks like a court or bailiff document (Code penal 433-13)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from channels.letters_pdf import LetterContextError
from channels.templating import money, worst_case_contexts
from tests.integration.letters.conftest import normalise, pdf_pages, pdf_text
from tests.integration.letters.samples import LETTERS, later_context, sample_context

# CPCE L111-8, paragraphs 2 and 3, word for word (straight apostrophes, as in DOMAIN.md).
L111_8_PARAGRAPH_2 = (
    "Les frais de recouvrement entrepris sans titre exécutoire restent à la charge du créancier, "
    "sauf s'ils concernent un acte dont l'accomplissement est prescrit par la loi au créancier. "
    "Toute stipulation contraire est réputée non écrite, sauf disposition législative contraire."
)
L111_8_PARAGRAPH_3 = (
    "Cependant, le créancier qui justifie du caractère nécessaire des démarches entreprises pour "
    "recouvrer sa créance peut demander au juge de l'exécution de laisser tout ou partie des frais "
    "ainsi exposés à la charge du débiteur de mauvaise foi."
)

# Words that would dress an amicable letter up as a court or bailiff document, or announce a
# forced-recovery act (Code penal 433-13; DOMAIN.md "The letter to the debtor").
FORBIDDEN = [
    "huissier",
    "commissaire de justice",
    "tribunal",
    "exécution forcée",
    "saisie",
    "saisir vos",
    "commandement de payer",
    "sommation",
    "signification",
    "république française",
    "au nom du peuple français",
    "poursuites",
    "injonction",
    "greffe",
    "jugement",
    "procès-verbal",
    "officier ministériel",
    "dernier avis avant",
    "avis d'exécution",
]


@pytest.fixture(scope="module")
def first_text(first_letter) -> str:
    return pdf_text(first_letter.pdf)


def m(value) -> str:
    return normalise(money(value))


# -- R124-4, 1° ------------------------------------------------------------------------------


def test_the_first_letter_names_the_office_its_address_and_its_amicable_recovery_activity(first_text):
    office = sample_context()["office"]
    assert office["name"] in first_text
    for line in office["address_lines"]:
        assert line in first_text
    assert (
        f"{office['name']} exerce une activité de recouvrement amiable de créances pour le compte d'autrui"
        in first_text
    )


# -- R124-4, 2° ------------------------------------------------------------------------------


def test_the_first_letter_names_the_creditor_and_its_address(first_text):
    creditor = sample_context()["creditor"]
    assert creditor["legal_name"] in first_text
    assert ", ".join(creditor["address_lines"]) in first_text


# -- R124-4, 3° ------------------------------------------------------------------------------


def test_the_first_letter_splits_each_claim_into_principal_interest_and_accessories(first_text):
    context = sample_context()
    assert "Principal Intérêts Accessoires Total" in first_text
    for claim in context["claims"]:
        row = " ".join(
            [claim["invoice_ref"], claim["due_date"].strftime("%d/%m/%Y")]
            + [m(claim[k]) for k in ("principal", "interest", "costs", "total")]
        )
        assert row in first_text


def test_the_first_letter_gives_the_totals_split_into_principal_interest_and_accessories(first_text):
    totals = sample_context()["totals"]
    assert (
        f"Total au 03/03/2025 {m(totals['principal'])} {m(totals['interest'])} "
        f"{m(totals['costs'])} {m(totals['balance'])}"
    ) in first_text
    assert (
        f"soit {m(totals['principal'])} en principal, {m(totals['interest'])} d'intérêts "
        f"et {m(totals['costs'])} d'autres accessoires"
    ) in first_text


def test_the_first_letter_says_recovery_costs_stay_with_the_creditor(first_text):
    assert "Ce montant ne comprend aucun frais de recouvrement : ces frais restent à la charge du créancier" in first_text


# -- R124-4, 4° ------------------------------------------------------------------------------


def test_the_first_letter_demands_payment_and_gives_every_means_of_payment(first_text):
    context = sample_context()
    office, reference = context["office"], context["dossier"]["payment_reference"]
    assert f"Nous vous demandons de bien vouloir régler la somme de {m(context['totals']['balance'])}" in first_text
    assert "IBAN FR76 3000 6000 0112 3456 7890 189 - BIC AGRIFRPP" in first_text
    assert f"en indiquant impérativement la référence de paiement {reference}" in first_text
    assert f"{office['payment_url']} (référence {reference})" in first_text
    assert f"Par chèque à l'ordre de {office['name']}" in first_text
    assert f"en inscrivant au dos la référence {reference}" in first_text


# -- R124-4, 5° ------------------------------------------------------------------------------


def test_the_first_letter_quotes_paragraphs_2_and_3_of_l111_8_word_for_word(first_text):
    assert L111_8_PARAGRAPH_2 in first_text
    assert L111_8_PARAGRAPH_3 in first_text
    assert f"{L111_8_PARAGRAPH_2} {L111_8_PARAGRAPH_3}" in first_text


def test_the_first_letter_does_not_claim_to_follow_an_earlier_letter(first_text):
    assert "Premier courrier" not in first_text
    assert "Par notre courrier réf." not in first_text


# -- later letters ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mise_en_demeure", "relance_entreprise", "decheance_terme"])
def test_a_later_letter_repeats_the_first_letters_reference_and_date(rendered, name):
    text = pdf_text(rendered[name].pdf)
    assert "Premier courrier réf. L-2025-000311 du 3 mars 2025" in text
    assert "Par notre courrier réf. L-2025-000311 du 3 mars 2025" in text
    assert "Notre référence L-2025-000987" in text


@pytest.mark.parametrize("name", ["mise_en_demeure", "relance_entreprise", "decheance_terme"])
def test_a_later_letter_still_carries_the_l111_8_paragraphs_and_the_office_statement(rendered, name):
    text = pdf_text(rendered[name].pdf)
    assert L111_8_PARAGRAPH_2 in text and L111_8_PARAGRAPH_3 in text
    assert "exerce une activité de recouvrement amiable de créances pour le compte d'autrui" in text


def test_a_later_letter_without_the_first_letters_reference_is_refused(renderer):
    with pytest.raises(LetterContextError):
        renderer.render("mise_en_demeure", sample_context())


def test_the_mise_en_demeure_says_legal_interest_runs_from_it(rendered):
    text = pdf_text(rendered["mise_en_demeure"].pdf)
    assert "Par la présente, nous vous mettons en demeure de régler la somme de 1 610,41 €" in text
    assert "dans un délai de 8 jours" in text
    assert (
        "Conformément à l'article 1231-6 du code civil, les sommes dues produisent intérêts au taux légal "
        "à compter de la présente mise en demeure."
    ) in text
    assert "le présent courrier relève du recouvrement amiable" in text


def test_the_business_letter_states_l441_10_penalties_and_the_40_euro_indemnity_per_invoice(rendered):
    text = pdf_text(rendered["relance_entreprise"].pdf)
    assert "taux de refinancement de la Banque centrale européenne majoré de 10 points, soit 12,15 % l'an" in text
    assert "indemnité forfaitaire pour frais de recouvrement de 40,00 € par facture" in text
    assert "article D441-5" in text
    assert "soit 1 544,56 € en principal, 114,76 € de pénalités de retard et 80,00 € d'indemnités forfaitaires" in text
    assert "Principal Pénalités Indemnité forfaitaire Total" in text


def test_the_decheance_du_terme_letter_says_the_whole_balance_is_due_again(rendered):
    text = pdf_text(rendered["decheance_terme"].pdf)
    assert "Un échéancier de 6 échéances a ensuite été convenu avec vous" in text
    assert "2 échéances de cet échéancier n'ont pas été réglées" in text
    assert "la totalité du solde restant dû est de nouveau exigible" in text
    assert "Solde restant dû, désormais exigible en totalité, au 7 avril 2025 : 1 610,41 €" in text


# -- nothing that looks like a court or bailiff document ---------------------------------------


@pytest.mark.parametrize("name", sorted(LETTERS))
def test_no_page_of_a_letter_uses_words_that_imitate_a_court_or_bailiff_document(rendered, name):
    for number, page in enumerate(pdf_pages(rendered[name].pdf), start=1):
        lowered = page.lower()
        found = [word for word in FORBIDDEN if word in lowered]
        assert not found, f"{name} page {number}: {found}"


# -- robustness --------------------------------------------------------------------------------


def test_the_worst_case_contexts_render_with_every_amount_in_full(renderer):
    for context in worst_case_contexts():
        context = dict(context, recipient=sample_context()["recipient"],
                       letter={"reference": "L-2025-999999", "date": date(2025, 9, 30)})
        context["office"] = dict(context["office"], siren="552100554")
        text = pdf_text(renderer.render("premiere_relance", context))
        assert text.count("999 999,99 €") >= 3 * 4 + 4
        assert L111_8_PARAGRAPH_3 in text


def test_a_context_that_went_through_json_renders_the_same_letter(renderer, first_text):
    through_json = json.loads(json.dumps(sample_context(), default=str))
    assert isinstance(through_json["totals"]["balance"], str)
    assert pdf_text(renderer.render("premiere_relance", through_json)) == first_text


def test_an_address_line_longer_than_38_characters_is_refused(renderer):
    context = later_context()
    context["recipient"] = {"address_lines": ["X" * 39, "33100 BORDEAUX"]}
    with pytest.raises(LetterContextError):
        renderer.render("mise_en_demeure", context)
