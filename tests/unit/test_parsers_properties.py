"""Property tests: the import parsers never fail with anything but their own error."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from models.dates import DateParseError, format_date, parse_date
from models.money import MoneyError, format_money, parse_money

# Text that looks like amounts and dates, mixed with arbitrary characters.
AMOUNT_ALPHABET = st.sampled_from(list("0123456789.,-+€ \u00a0\u202f()eEUR"))
DATE_ALPHABET = st.sampled_from(list("0123456789/-.T: Z+"))
amount_like = st.text(AMOUNT_ALPHABET, max_size=24) | st.text(max_size=24)
date_like = st.text(DATE_ALPHABET, max_size=26) | st.text(max_size=26)
amounts = st.decimals(
    min_value=Decimal("-999999999999.99"), max_value=Decimal("999999999999.99"), places=2
)


@settings(max_examples=200, deadline=None)
@given(amount_like)
@example("NaN")
@example("1e999999999")
@example("\u221e")
def test_any_text_given_to_parse_money_gives_an_amount_or_a_money_error(text):
    try:
        value = parse_money(text)
    except MoneyError:
        return
    assert isinstance(value, Decimal)
    assert value == value.quantize(Decimal("0.01"))
    assert abs(value) < 10**12


@settings(max_examples=200, deadline=None)
@given(date_like)
@example("0000-00-00")
@example("99/99/99")
def test_any_text_given_to_parse_date_gives_a_date_or_a_date_parse_error(text):
    try:
        value = parse_date(text)
    except DateParseError:
        return
    assert isinstance(value, date)


@settings(max_examples=200, deadline=None)
@given(amounts)
def test_a_formatted_amount_parses_back_to_the_same_amount(amount):
    assert parse_money(format_money(amount)) == amount


@settings(max_examples=100, deadline=None)
@given(amounts)
def test_a_plainly_written_amount_parses_back_to_the_same_amount(amount):
    # "1234.56" and its French twin "1234,56", no grouping.
    assert parse_money(f"{amount:f}") == amount
    assert parse_money(f"{amount:f}".replace(".", ",")) == amount


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31)))
def test_a_short_french_or_iso_date_parses_back_to_the_same_date(day):
    assert parse_date(format_date(day, style="short")) == day
    assert parse_date(day.isoformat()) == day
