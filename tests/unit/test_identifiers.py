"""SIREN, SIRET and email checks at the import boundary."""

from __future__ import annotations

import pytest

from models.identifiers import IdentifierError, validate_email, validate_siren, validate_siret


def test_a_siren_with_spaces_is_returned_compact():
    # Luhn from the right on 732829320: 0 + 4 + 3 + 9 + 2 + 7 + 2 + 6 + 7 = 40, a multiple of 10
    assert validate_siren("732 829 320") == "732829320"


def test_a_siren_with_a_wrong_check_digit_is_refused():
    # the last digit changed: the Luhn sum becomes 41
    with pytest.raises(IdentifierError, match="SIREN invalide: clé de contrôle incorrecte"):
        validate_siren("732829321")


@pytest.mark.parametrize(
    ("text", "reason"), [("73282932", "9 chiffres"), ("73282932A", "chiffres uniquement")]
)
def test_a_siren_of_the_wrong_length_or_with_letters_is_refused(text, reason):
    with pytest.raises(IdentifierError, match=reason):
        validate_siren(text)


def test_a_siret_is_returned_compact():
    # Luhn from the right on 73282932000074:
    # 4 + (7x2=14 -> 5) + 0 + 0 + 0 + 0 + 2 + 6 + 9 + 4 + 8 + 4 + 3 + (7x2=14 -> 5) = 50
    assert validate_siret("732 829 320 00074") == "73282932000074"


def test_a_la_poste_establishment_siret_passes_by_its_own_rule():
    # La Poste's establishments (SIREN 356000000) need a digit sum that is a multiple of 5,
    # not a Luhn sum: 3 + 5 + 6 + 4 + 7 = 25 passes, 3 + 5 + 6 + 4 + 9 = 27 fails
    assert validate_siret("356 000 000 00047") == "35600000000047"
    with pytest.raises(IdentifierError, match="clé de contrôle"):
        validate_siret("35600000000049")


def test_a_siret_with_a_wrong_check_digit_or_length_is_refused():
    with pytest.raises(IdentifierError, match="clé de contrôle"):
        validate_siret("73282932000075")
    with pytest.raises(IdentifierError, match="14 chiffres"):
        validate_siret("732829320")


def test_an_error_message_does_not_repeat_the_identifier():
    with pytest.raises(IdentifierError) as caught:
        validate_siren("732829321")
    assert "732829321" not in str(caught.value)


def test_an_email_keeps_its_local_part_and_lowercases_its_domain():
    assert validate_email("  Jean.Dupont+relance@Example.FR ") == "Jean.Dupont+relance@example.fr"


def test_an_internationalised_domain_is_accepted():
    assert validate_email("contact@Café.fr") == "contact@café.fr"


@pytest.mark.parametrize(
    "text",
    ["jean.dupont", "a@@example.fr", "a@b@example.fr", "jean dupont@example.fr", ".jean@example.fr",
     "jean..dupont@example.fr", "jean@localhost", "jean@-example.fr", "jean@example..fr",
     "jean@example.fr.", "jean@example.123", "@example.fr", "jean@"],
)  # fmt: skip
def test_a_malformed_email_is_refused_without_repeating_it(text):
    with pytest.raises(IdentifierError, match="^adresse e-mail invalide") as caught:
        validate_email(text)
    assert text.strip() not in str(caught.value) or not text.strip()
