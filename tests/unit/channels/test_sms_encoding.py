"""SMS length arithmetic, with figures checked by hand against 3GPP TS 23.038 / 23.040."""

from __future__ import annotations

import pytest

from channels.sms_encoding import GSM7, GSM7_BASIC, GSM7_EXTENSION, UCS2, measure, septet_count
from channels.sms_encoding import to_gsm7


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_text_fits_160_septets_alone_then_153_per_segment(length, segments):
    result = measure("a" * length)
    assert (result.encoding, result.units, result.segments) == (GSM7, length, segments)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3)],
)
def test_ucs2_text_fits_70_units_alone_then_67_per_segment(length, segments):
    result = measure("ê" * length)
    assert (result.encoding, result.units, result.segments) == (UCS2, length, segments)


def test_the_euro_sign_counts_two_septets():
    assert septet_count("€") == 2
    assert measure("€" * 80).segments == 1  # 160 septets
    assert measure("€" * 81).segments == 2  # 162 septets


def test_every_extension_character_counts_two_septets():
    for char in "^{}\\[~]|€":
        assert septet_count(char) == 2, char
    assert len(GSM7_EXTENSION) == 10  # the nine above and the form feed


def test_the_default_alphabet_has_127_characters_besides_the_escape():
    assert len(GSM7_BASIC) == 127
    assert {"@", "£", "è", "é", "ù", "ì", "ò", "Ç", "Δ", "É", "¤", "¡", "§", "¿", "à"} <= GSM7_BASIC


def test_an_escape_pair_is_never_split_across_two_segments():
    # 152 + 2 + 152 = 306 septets would fit 2 segments, but the euro cannot straddle the boundary.
    assert measure("a" * 152 + "€" + "a" * 152).segments == 3


def test_a_surrogate_pair_counts_two_units_and_is_never_split():
    assert measure("🙂").units == 2
    assert measure("a" * 66 + "🙂" + "a" * 66).segments == 3  # 134 units, but the pair moves


def test_one_character_outside_gsm7_switches_the_whole_text_to_ucs2():
    text = "a" * 100 + "ê"
    assert measure(text).encoding == UCS2
    assert measure(text).segments == 2


def test_french_accents_of_the_default_alphabet_stay_gsm7():
    assert measure("Réglé, où, là, déjà? Ça y est").encoding == GSM7
    assert measure("Pâques").encoding == UCS2  # â is not in the default alphabet


@pytest.mark.parametrize(
    ("raw", "gsm"),
    [
        ("Vous êtes", "Vous etes"),
        ("façade", "facade"),
        ("l’échéance", "l'échéance"),
        ("cœur, Œuvre", "coeur, OEuvre"),
        ("« Relance »", '"Relance"'),
        ("1\u202f234,56\u00a0€", "1 234,56 €"),
        ("dû, île, hôtel, août", "du, ile, hotel, aout"),
        ("n° 12 – fin…", "no 12 - fin..."),
    ],
)
def test_transliteration_keeps_french_text_in_gsm7(raw, gsm):
    assert to_gsm7(raw) == gsm
    assert measure(to_gsm7(raw)).encoding == GSM7


def test_transliteration_keeps_the_accents_gsm7_already_has():
    assert to_gsm7("é è à ù É Ç") == "é è à ù É Ç"


def test_transliteration_leaves_what_has_no_gsm7_spelling():
    assert to_gsm7("merci 🙂") == "merci 🙂"
    assert measure(to_gsm7("merci 🙂")).encoding == UCS2


def test_a_babel_amount_costs_one_segment_only_after_transliteration():
    text = "Solde: 1\u202f234,56\u00a0€. " * 6  # 114 characters, 120 septets
    assert measure(text).segments == 2  # UCS-2
    assert measure(to_gsm7(text)).segments == 1
