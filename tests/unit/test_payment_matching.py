"""The pure matching rules (models/payment_matching.py), hand-checked."""

from __future__ import annotations

from decimal import Decimal

from models.payment_matching import Candidate, Match, choose_dossier, name_key, reference_dossier
from models.references import payment_reference

D = Decimal


def cand(dossier_id, name, *amounts):
    return Candidate(dossier_id, name_key(name), frozenset(D(a) for a in amounts))


def test_a_name_is_compared_without_case_accents_word_order_or_civility():
    assert name_key("Mme Françoise LEFÈVRE") == name_key("LEFEVRE FRANCOISE") == "FRANCOISE LEFEVRE"
    assert name_key("M. Jean-Paul Martin") == "JEAN MARTIN PAUL"
    assert name_key(None) == name_key("") == ""


def test_a_valid_reference_names_its_dossier_only_when_it_is_open():
    label = f"VIR SEPA {payment_reference(12345)} FACTURE 3"
    assert reference_dossier(label) == 12345
    assert reference_dossier(label, {12345}) == 12345
    assert reference_dossier(label, {999}) is None
    # One wrong digit breaks the ISO 11649 check digits.
    assert reference_dossier(payment_reference(12345).replace("5", "6")) is None


def test_the_reference_wins_over_every_other_rule():
    others = [cand(7, "Paul Martin", "100.00")]
    assert choose_dossier(amount=D("100.00"), referenced=3, iban_candidates=others, payer_name="PAUL MARTIN",
                          name_candidates=others) == Match(3, "reference")


def test_an_iban_known_for_one_open_dossier_matches_it_whatever_the_amount():
    assert choose_dossier(amount=D("12.34"), referenced=None, iban_candidates=[cand(4, "X", "500.00")]) == Match(4, "iban")


def test_an_iban_of_several_open_dossiers_needs_the_amount_to_tell_them_apart():
    both = [cand(4, "Paul Martin", "500.00"), cand(5, "Paul Martin", "80.00", "620.00")]
    assert choose_dossier(amount=D("80.00"), referenced=None, iban_candidates=both) == Match(5, "iban")
    assert choose_dossier(amount=D("81.00"), referenced=None, iban_candidates=both) is None


def test_name_and_amount_match_only_a_single_dossier():
    one = [cand(8, "Léa Durand", "310.00"), cand(9, "Léa Durand", "45.00")]
    assert choose_dossier(amount=D("310.00"), referenced=None, payer_name="DURAND LEA",
                          name_candidates=one) == Match(8, "name_amount")
    twins = [cand(8, "Léa Durand", "310.00"), cand(9, "Léa Durand", "310.00")]
    assert choose_dossier(amount=D("310.00"), referenced=None, payer_name="DURAND LEA", name_candidates=twins) is None
    # The right amount under another name is no match.
    assert choose_dossier(amount=D("310.00"), referenced=None, payer_name="LEA DUPONT", name_candidates=one) is None
