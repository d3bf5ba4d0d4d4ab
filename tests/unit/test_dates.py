"""Dates: the import parser, French display, half-years and calendar steps."""

from __future__ import annotations

from datetime import date

import pytest

from models.dates import (
    DateParseError,
    add_months,
    add_years,
    format_date,
    half_year,
    half_year_label,
    half_year_start,
    parse_date,
)


@pytest.mark.parametrize(
    "text",
    [
        "31/12/2025",
        "31-12-2025",
        "31.12.2025",
        "2025-12-31",
        "2025-12-31T00:00:00",
        "2025-12-31T23:59:59.123456+01:00",
        "2025-12-31 00:00:00",  # str(datetime), as spreadsheets hand it over
        "31/12/25",
        " 31/12/2025 ",
    ],
)
def test_each_accepted_form_of_new_year_s_eve_gives_2025_12_31(text):
    assert parse_date(text) == date(2025, 12, 31)


def test_a_day_and_month_may_have_one_digit():
    assert parse_date("1/2/2025") == date(2025, 2, 1)  # day first: 1 February


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01/01/00", date(2000, 1, 1)),
        ("31/12/68", date(2068, 12, 31)),  # 68 is the last year read as 20xx
        ("01/01/69", date(1969, 1, 1)),  # 69 is the first read as 19xx
        ("15/06/99", date(1999, 6, 15)),
    ],
)
def test_a_two_digit_year_follows_the_posix_pivot(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2025-02-30",
        "29/02/2025",  # 2025 is not a leap year
        "13/13/2025",
        "12/31/2025",  # US month-first: month 31 does not exist, not guessed
        "",
        "   ",
        "31/12-2025",  # mixed separators
        "2025-12",
        "31 décembre 2025",
        "2025-12-31X",
        "٣١/١٢/٢٠٢٥",  # Arabic-Indic digits
        "0000-01-01",
    ],
)
def test_a_nonexistent_or_unreadable_date_raises_date_parse_error(text):
    with pytest.raises(DateParseError):
        parse_date(text)


def test_a_date_parse_error_quotes_the_offending_text():
    with pytest.raises(DateParseError, match="13/13/2025"):
        parse_date("13/13/2025")
    with pytest.raises(DateParseError, match="2025-02-30"):
        parse_date("2025-02-30")


def test_a_date_is_displayed_in_french_long_or_short():
    assert format_date(date(2025, 12, 31)) == "31 décembre 2025"
    assert format_date(date(2025, 12, 31), style="short") == "31/12/2025"
    assert format_date(date(2025, 1, 1), style="long") == "1 janvier 2025"


def test_an_unknown_style_raises_value_error():
    with pytest.raises(ValueError):
        format_date(date(2025, 1, 1), style="medium")


def test_june_is_in_the_first_half_year_and_july_in_the_second():
    assert half_year(date(2026, 6, 30)) == (2026, 1)
    assert half_year(date(2026, 7, 1)) == (2026, 2)
    assert half_year(date(2026, 1, 1)) == (2026, 1)
    assert half_year(date(2026, 12, 31)) == (2026, 2)


def test_a_half_year_label_reads_year_then_s_and_the_half():
    assert half_year_label(2026, 2) == "2026 S2"
    assert half_year_start(2026, 2) == date(2026, 7, 1)
    assert half_year_start(2026, 1) == date(2026, 1, 1)
    with pytest.raises(ValueError):
        half_year_label(2026, 3)


def test_adding_years_to_29_february_gives_28_february_in_a_common_year():
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_years(date(2025, 3, 15), 2) == date(2027, 3, 15)
    assert add_years(date(2025, 3, 15), -5) == date(2020, 3, 15)


def test_adding_months_keeps_the_day_or_falls_back_to_the_month_s_last_day():
    assert add_months(date(2025, 3, 15), 2) == date(2025, 5, 15)
    assert add_months(date(2024, 12, 31), 2) == date(2025, 2, 28)
    assert add_months(date(2023, 12, 31), 2) == date(2024, 2, 29)  # leap year
    assert add_months(date(2025, 11, 30), 2) == date(2026, 1, 30)  # across the year end
    assert add_months(date(2025, 8, 31), 1) == date(2025, 9, 30)
    assert add_months(date(2025, 1, 31), -2) == date(2024, 11, 30)
