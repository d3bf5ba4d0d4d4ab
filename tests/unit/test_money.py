"""Money: construction, rounding, the French-aware parser and Babel formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models.money import CENT, MoneyError, format_money, money, parse_money, round_cents

NBSP = "\u00a0"
NNBSP = "\u202f"


def test_a_string_int_or_decimal_gives_an_amount_quantized_to_the_cent():
    assert money("12.5") == Decimal("12.50")
    assert str(money("12.5")) == "12.50"
    assert money(7) == Decimal("7.00")
    assert money(Decimal("1.005")) == Decimal("1.01")  # half up, not half even (1.00)
    assert CENT == Decimal("0.01")


def test_a_float_or_bool_given_to_money_raises_type_error():
    with pytest.raises(TypeError):
        money(0.1)
    with pytest.raises(TypeError):
        money(True)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "abc", ""])
def test_a_non_finite_or_unreadable_string_given_to_money_raises_money_error(bad):
    with pytest.raises(MoneyError):
        money(bad)


def test_an_amount_of_ten_to_the_twelfth_or_more_is_out_of_bounds():
    assert money("999999999999.99") == Decimal("999999999999.99")
    with pytest.raises(MoneyError, match="10\\^12"):
        money(10**12)
    with pytest.raises(MoneyError):
        money("-1000000000000")
    with pytest.raises(MoneyError):
        money("999999999999.995")  # rounds half up to 10^12


def test_round_cents_rounds_half_up_and_drops_the_sign_of_zero():
    assert round_cents(Decimal("0.125")) == Decimal("0.13")
    assert round_cents(Decimal("-0.125")) == Decimal("-0.13")  # half up = away from zero
    assert round_cents(Decimal("0.124999")) == Decimal("0.12")
    assert str(round_cents(Decimal("-0.001"))) == "0.00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 234,56 €", "1234.56"),
        (f"1{NNBSP}234,56", "1234.56"),
        (f"1{NBSP}234,56", "1234.56"),
        (f"1{NNBSP}234,56{NBSP}€", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1234.56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("-12,5", "-12.50"),
        ("12,5 EUR", "12.50"),
        ("12,5eur", "12.50"),
        ("€12", "12.00"),
        ("EUR 12", "12.00"),
        ("-12 €", "-12.00"),
        ("€-12", "-12.00"),
        ("\u221212,00", "-12.00"),  # typographic minus sign
        ("+3", "3.00"),
        ("1234", "1234.00"),
        ("0,5", "0.50"),
        (",5", "0.50"),
        ("  42,00  ", "42.00"),
        ("1.234.567", "1234567.00"),  # several dots can only be grouping
        ("1,234,567", "1234567.00"),
        ("1 234 567,89", "1234567.89"),
        ("1.234.567,8", "1234567.80"),
        ("-0,00", "0.00"),
    ],
)
def test_a_french_or_international_amount_parses_to_its_value(text, expected):
    assert parse_money(text) == Decimal(expected)
    assert str(parse_money(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1.234",  # 1234 grouped, or 1.234 with three decimals: refused, not guessed
        "1,234",
        "12,345",
        "1.234,567",
        "1 234.567",
        "12,",
        "12.",
        "12 34,56",  # groups after the first must have exactly 3 digits
        "1234 567",  # a first group of more than 3 digits
        "1 234.567,89",  # spaces and dots both grouping
        "1,23.45,67",  # two decimal commas after the last dot
        "(12,50)",  # accounting negative: refused
        "--12",
        "-€-12",
        "12 $",
        "€12€",
        "1  234",  # two spaces are not a grouping
        "12-",
        "NaN",
        "Infinity",
        "inf",
        "1e5",
        "abc",
        "",
        "   ",
        "€",
        "-",
        "1000000000000",  # 10^12: out of bounds
        "١٢",  # Arabic-Indic digits
    ],
)
def test_an_ambiguous_or_garbage_amount_raises_money_error(text):
    with pytest.raises(MoneyError):
        parse_money(text)


def test_a_money_error_quotes_the_offending_text_cut_to_forty_characters():
    with pytest.raises(MoneyError, match="1.234"):
        parse_money("1.234")
    long_text = "x" * 100
    with pytest.raises(MoneyError) as info:
        parse_money(long_text)
    assert "x" * 40 + "…" in str(info.value)
    assert "x" * 41 not in str(info.value)


def test_an_amount_is_formatted_the_way_babel_writes_it_for_fr_fr():
    # Babel fr_FR: narrow no-break space between thousands, no-break space before "€".
    assert format_money(Decimal("1234.56")) == f"1{NNBSP}234,56{NBSP}€"
    assert format_money(Decimal("-1234.5")) == f"-1{NNBSP}234,50{NBSP}€"
    assert format_money(Decimal("0")) == f"0,00{NBSP}€"


def test_format_money_rounds_half_up_where_babel_alone_would_round_half_even():
    # Babel on 0.125 gives "0,12"; the product's rounding point gives 0.13.
    assert format_money(Decimal("0.125")) == f"0,13{NBSP}€"
    assert format_money(Decimal("-0.001")) == f"0,00{NBSP}€"  # never "-0,00"


def test_a_formatted_amount_parses_back_to_itself():
    for value in ["0.00", "0.01", "-12.50", "1234.56", "999999999999.99"]:
        assert parse_money(format_money(Decimal(value))) == Decimal(value)


def test_a_float_given_to_format_money_raises_type_error():
    with pytest.raises(TypeError):
        format_money(1.5)


def test_the_template_money_filter_rounds_half_up_like_every_other_figure():
    from channels.templating import money

    # Babel alone rounds half to even (2,00 €); the product's rule is half up everywhere.
    assert money(Decimal("2.005")) == format_money(Decimal("2.01")) == "2,01\xa0€"
    assert money("1234.5") == "1\u202f234,50\xa0€"
