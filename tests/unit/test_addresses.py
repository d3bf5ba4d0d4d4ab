"""Postcodes, holiday calendars and the NF Z10-011 address block."""

from __future__ import annotations

from datetime import date

import holidays
import pytest

from models.addresses import AddressError, address_block, holiday_subdivision, region_for_postcode


@pytest.mark.parametrize(
    ("postcode", "region"),
    [
        ("75002", "FR"),
        ("20000", "FR"),
        ("97110", "GP"),
        ("97133", "BL"),
        ("97150", "MF"),
        ("97200", "MQ"),
        ("97300", "GF"),
        ("97400", "RE"),
        ("97500", "PM"),
        ("97600", "YT"),
        ("98600", "WF"),
        ("98714", "PF"),
        ("98800", "NC"),
    ],
)
def test_a_postcode_gives_the_region(postcode, region):
    assert region_for_postcode(postcode) == region


@pytest.mark.parametrize("postcode", ["7500", "750022", "75OO2", "", "2A004"])
def test_a_postcode_that_is_not_five_digits_is_refused(postcode):
    with pytest.raises(AddressError, match="5 chiffres"):
        region_for_postcode(postcode)


def test_alsace_moselle_and_overseas_postcodes_map_to_the_holidays_subdivisions():
    assert holiday_subdivision("75002") is None
    assert holiday_subdivision("57000") == "57"
    assert holiday_subdivision("67000") == "6AE"
    assert holiday_subdivision("68100") == "6AE"
    assert holiday_subdivision("97400") == "974"
    assert holiday_subdivision("97133") == "BL"
    for code in ("57000", "67000", "97110", "97200", "97300", "97400", "97500", "97600",
                 "97133", "97150", "98600", "98714", "98800"):  # fmt: skip
        assert holiday_subdivision(code) in holidays.France.subdivisions


def test_strasbourg_has_26_december_and_reunion_20_december_but_paris_neither():
    boxing_day, abolition_reunion = date(2025, 12, 26), date(2025, 12, 20)
    strasbourg = holidays.France(subdiv=holiday_subdivision("67000"), years=2025)
    reunion = holidays.France(subdiv=holiday_subdivision("97400"), years=2025)
    paris = holidays.France(subdiv=holiday_subdivision("75002"), years=2025)
    assert boxing_day in strasbourg
    assert abolition_reunion in reunion
    assert boxing_day not in paris and abolition_reunion not in paris


def test_a_paris_address_is_printed_in_capitals_without_the_comma_after_the_number():
    assert address_block(["M. Jean  Dupont"], ["12, rue de la Paix", ""], "75002", "Paris") == [
        "M. JEAN DUPONT",
        "12 RUE DE LA PAIX",
        "75002 PARIS",
    ]


def test_the_locality_line_has_no_accent_and_no_punctuation_and_keeps_cedex():
    assert address_block(["Société Générale"], ["Tour Alpha"], "92972", "Paris-La Défense Cedex")[
        -1
    ] == "92972 PARIS LA DEFENSE CEDEX"


def test_a_street_line_too_long_is_shortened_with_the_standard_abbreviations():
    street = "145 boulevard du Maréchal de Lattre de Tassigny"  # 47 characters
    block = address_block(["Mme Élodie Martin"], [street], "13100", "Aix-en-Provence")
    # BOULEVARD -> BD gives 40 characters, still over 38; MARECHAL -> MAL gives 35
    assert block == [
        "MME ÉLODIE MARTIN",
        "145 BD DU MAL DE LATTRE DE TASSIGNY",
        "13100 AIX EN PROVENCE",
    ]
    assert len(block[1]) == 35


def test_a_line_still_too_long_is_refused_with_its_number_and_length_but_not_its_content():
    recipient = "Établissements Dupont et Fils Réunis de Lyon"  # 44 characters
    with pytest.raises(AddressError) as caught:
        address_block([recipient], ["1 rue Neuve"], "69002", "Lyon")
    assert str(caught.value) == "ligne 1 trop longue: 44 caractères (max 38)"


def test_seven_lines_are_refused():
    with pytest.raises(AddressError, match="7 lignes"):
        address_block(
            ["M. Jean Dupont", "Chez Mme Durand"],
            ["Résidence les Pins", "Bâtiment B", "Escalier 3", "12 rue des Lilas"],
            "69002",
            "Lyon",
        )


def test_six_lines_are_accepted():
    block = address_block(
        ["M. Jean Dupont", "Chez Mme Durand"],
        ["Bâtiment B", "Escalier 3", "12 rue des Lilas"],
        "69002",
        "Lyon",
    )
    assert len(block) == 6 and block[-1] == "69002 LYON"


def test_an_address_abroad_ends_with_the_country_name_in_french():
    assert address_block(["Herr Max Müller"], ["Hauptstraße 3"], "10115", "Berlin", "DE") == [
        "HERR MAX MÜLLER",
        "HAUPTSTRASSE 3",
        "10115 BERLIN",
        "ALLEMAGNE",
    ]


def test_france_given_as_the_country_adds_no_country_line():
    assert address_block(["M. A"], [], "69002", "Lyon", "France") == ["M. A", "69002 LYON"]


def test_an_address_without_recipient_or_locality_is_refused():
    with pytest.raises(AddressError, match="destinataire"):
        address_block([" "], ["1 rue Neuve"], "69002", "Lyon")
    with pytest.raises(AddressError, match="localité"):
        address_block(["M. A"], ["1 rue Neuve"], "69002", " ")
