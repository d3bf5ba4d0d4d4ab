"""Phone normalisation, overseas numbers, masking, cache and time zones."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

import models.phones as phones
from models.enums import LineType
from models.phones import (
    REGION_TIMEZONES,
    Phone,
    PhoneError,
    PhoneNormaliser,
    mask_phone,
    normalise_phone,
    timezone_for_region,
)


def test_a_metropolitan_mobile_becomes_e164_mobile_in_france():
    assert normalise_phone("06 12 34 56 78") == Phone("+33612345678", LineType.MOBILE, "FR")


def test_a_reunion_mobile_written_nationally_is_read_as_reunion():
    assert normalise_phone("0692 12 34 56") == Phone("+262692123456", LineType.MOBILE, "RE")


def test_a_martinique_mobile_written_nationally_is_read_as_martinique():
    assert normalise_phone("0696 12 34 56") == Phone("+596696123456", LineType.MOBILE, "MQ")


def test_a_mayotte_fixed_line_is_read_as_mayotte_although_it_looks_valid_in_france():
    # phonenumbers alone would accept +33 2 69 61 23 45
    assert normalise_phone("0269 61 23 45") == Phone("+262269612345", LineType.FIXED, "YT")


def test_a_saint_barthelemy_number_gets_its_own_region_from_the_shared_590_prefix():
    assert normalise_phone("0590 27 12 34").region == "BL"


def test_an_international_paris_number_is_a_fixed_line():
    assert normalise_phone("+33 1 42 68 53 00") == Phone("+33142685300", LineType.FIXED, "FR")


def test_a_number_written_with_the_00_prefix_is_read_as_international():
    assert normalise_phone("0033 6 12 34 56 78").e164 == "+33612345678"


def test_a_toll_free_number_is_an_other_line():
    assert normalise_phone("0800 12 34 56").line_type == LineType.OTHER


def test_a_metropolitan_mobile_is_still_read_right_for_a_debtor_in_reunion():
    assert normalise_phone("06 12 34 56 78", default_region="RE").region == "FR"


def test_a_saint_pierre_number_is_read_with_its_own_default_region():
    phone = normalise_phone("41 23 45", default_region="PM")
    assert phone == Phone("+508412345", LineType.FIXED, "PM")


def test_the_masked_form_keeps_two_digits_at_each_end():
    assert mask_phone("06 12 34 56 78") == "06******78"
    assert mask_phone("+33 6 12 34 56 78") == "+33*******78"
    assert mask_phone("0612") == "****"


def test_a_number_too_long_is_rejected_with_a_masked_message_only():
    with pytest.raises(PhoneError) as caught:
        normalise_phone("06 12 34 56 78 99")
    message = str(caught.value)
    assert message == "numéro invalide: trop long (06********99)"
    assert "0612345678" not in message.replace(" ", "")


@pytest.mark.parametrize("raw", ["n/a", "", "   ", "0612", "inconnu"])
def test_garbage_is_rejected_as_an_invalid_number(raw):
    with pytest.raises(PhoneError, match="^numéro invalide"):
        normalise_phone(raw)


def test_a_phone_error_is_a_value_error():
    assert issubclass(PhoneError, ValueError)


def count_parses(monkeypatch) -> list[str]:
    calls = []
    real = phones.normalise_phone

    def counting(raw, region):
        calls.append(raw)
        return real(raw, region)

    monkeypatch.setattr(phones, "normalise_phone", counting)
    return calls


def test_the_normaliser_parses_each_distinct_raw_number_once(monkeypatch):
    calls = count_parses(monkeypatch)
    normaliser = PhoneNormaliser()
    first = normaliser.normalise("06 12 34 56 78")
    assert normaliser.normalise("06 12 34 56 78") is first
    normaliser.normalise("0692 12 34 56")
    assert calls == ["06 12 34 56 78", "0692 12 34 56"]
    assert (normaliser.hits, normaliser.misses) == (1, 2)


def test_the_normaliser_raises_a_cached_error_again_without_parsing_again(monkeypatch):
    calls = count_parses(monkeypatch)
    normaliser = PhoneNormaliser()
    for _ in range(2):
        with pytest.raises(PhoneError, match="trop court"):
            normaliser.normalise("0612")
    assert calls == ["0612"]


def test_the_normaliser_cache_is_bounded_and_forgets_the_least_recently_used():
    normaliser = PhoneNormaliser(maxsize=2)
    normaliser.normalise("06 12 34 56 78")
    normaliser.normalise("0692 12 34 56")
    normaliser.normalise("06 12 34 56 78")  # now the most recent
    normaliser.normalise("0696 12 34 56")  # evicts 0692
    assert len(normaliser) == 2
    misses = normaliser.misses
    normaliser.normalise("06 12 34 56 78")
    assert normaliser.misses == misses
    normaliser.normalise("0692 12 34 56")
    assert normaliser.misses == misses + 1


def test_every_region_time_zone_exists():
    for zone in REGION_TIMEZONES.values():
        ZoneInfo(zone)


def test_overseas_regions_have_their_own_time_zone_and_anything_else_is_paris_time():
    assert timezone_for_region("RE") == "Indian/Reunion"
    assert timezone_for_region("MQ") == "America/Martinique"
    assert timezone_for_region("US") == "Europe/Paris"
    assert timezone_for_region(None) == "Europe/Paris"


def test_the_block_memo_reads_every_national_number_as_a_full_parse_does():
    import random

    from models.phones import PhoneNormaliser

    rng = random.Random(20261126)
    prefixes = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "0262", "0263", "0269",
                "0590", "0594", "0596", "0639", "0690", "0691", "0692", "0693", "0694", "0696", "0697"]
    memo = PhoneNormaliser()
    for _ in range(20000):
        prefix = rng.choice(prefixes)
        raw = prefix + "".join(rng.choice("0123456789") for _ in range(10 - len(prefix)))
        try:
            expected = normalise_phone(raw)
        except PhoneError as exc:
            expected = str(exc)
        try:
            got = memo.normalise(raw)
        except PhoneError as exc:
            got = str(exc)
        assert got == expected, raw
