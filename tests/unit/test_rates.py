"""Rate tables: shipped figures, user overrides, malformed files and missing half-years."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from models.rates import DATA_DIR, MissingRateError, RateTables, load_rate_tables


@pytest.fixture(scope="module")
def rates() -> RateTables:
    return load_rate_tables()


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_legal_table_holds_one_row_per_half_year_from_2015_to_2026_s1():
    with (DATA_DIR / "legal_rates.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["half_year_start", "private_creditor", "other"]
    # 2015 S1 .. 2025 S2 is 11 years x 2 = 22 half-years, plus 2026 S1 = 23 rows.
    assert len(rows) == 23
    assert rows[0]["half_year_start"] == "2015-01-01"
    assert rows[-1]["half_year_start"] == "2026-01-01"


def test_the_shipped_ecb_table_runs_from_2015_01_01_to_2026_07_01():
    with (DATA_DIR / "ecb_rates.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # 2015-01-01 .. 2026-07-01: 12 years x 2 = 24 rows.
    assert len(rows) == 24
    assert (rows[0]["effective_on"], rows[-1]["effective_on"]) == ("2015-01-01", "2026-07-01")


@pytest.mark.parametrize(
    ("day", "private", "other"),
    [
        (date(2015, 1, 1), "4.06", "0.93"),
        (date(2020, 9, 15), "3.11", "0.84"),
        (date(2023, 6, 30), "4.47", "2.06"),
        (date(2023, 7, 1), "6.82", "4.22"),
        (date(2024, 12, 31), "8.16", "4.92"),
        (date(2025, 3, 1), "7.21", "3.71"),
        (date(2025, 7, 1), "6.65", "2.76"),
        (date(2026, 6, 30), "6.67", "2.62"),
    ],
)
def test_the_legal_rate_of_a_day_is_its_half_year_s_rate(rates, day, private, other):
    assert rates.legal_rate(day, private_creditor=True) == Decimal(private)
    assert rates.legal_rate(day, private_creditor=False) == Decimal(other)


def test_the_b2b_rate_is_the_ecb_rate_of_1_january_or_1_july_plus_ten_points(rates):
    assert rates.b2b_rate(date(2024, 3, 1)) == Decimal("14.50")  # 4.50 + 10
    assert rates.b2b_rate(date(2024, 12, 31)) == Decimal("14.25")  # 4.25 + 10
    assert rates.b2b_rate(date(2025, 1, 1)) == Decimal("13.15")  # 3.15 + 10
    assert rates.b2b_rate(date(2019, 5, 5)) == Decimal("10.00")  # 0.00 + 10
    assert rates.ecb_rate(date(2023, 7, 1)) == Decimal("4.00")


def test_the_b2b_rate_ignores_a_mid_half_year_ecb_move_added_to_the_table(tmp_path):
    # The ECB cut to 3.75 % on 2024-06-12; L441-10 keeps the 1 January rate for all of S1.
    _write(tmp_path, "ecb_rates.csv", "effective_on,rate\n2024-06-12,3.75\n")
    tables = load_rate_tables(tmp_path)
    assert tables.ecb_rate(date(2024, 6, 20)) == Decimal("3.75")
    assert tables.b2b_rate(date(2024, 6, 20)) == Decimal("14.50")  # 4.50 + 10


def test_a_day_past_the_last_known_half_year_raises_missing_rate_error_naming_it(rates):
    assert rates.last_known_half_year() == (2026, 1)
    with pytest.raises(MissingRateError, match="2026 S2") as info:
        rates.legal_rate(date(2026, 7, 1), private_creditor=False)
    assert str(info.value) == (
        "no legal interest rate known for 2026 S2: add it to legal_rates.csv (RELANCE_RATES_DIR)"
    )
    assert (info.value.year, info.value.half) == (2026, 2)
    assert isinstance(info.value, LookupError)


def test_the_b2b_rate_is_known_up_to_the_ecb_table_s_last_half_year(rates):
    assert rates.last_known_half_year(b2b=True) == (2026, 2)
    assert rates.b2b_rate(date(2026, 12, 31)) == Decimal("12.15")  # 2.15 + 10
    with pytest.raises(MissingRateError, match="2027 S1.*ecb_rates.csv"):
        rates.b2b_rate(date(2027, 1, 1))
    with pytest.raises(MissingRateError, match="2014 S2"):
        rates.ecb_rate(date(2014, 12, 31))


def test_an_override_file_adds_a_half_year_and_corrects_an_existing_one(tmp_path):
    _write(
        tmp_path,
        "legal_rates.csv",
        "half_year_start,private_creditor,other\n2026-07-01,6.50,2.50\n2026-01-01,6.00,2.00\n",
    )
    tables = load_rate_tables(tmp_path)
    assert tables.legal_rate(date(2026, 8, 1), private_creditor=False) == Decimal("2.50")
    assert tables.legal_rate(date(2026, 2, 1), private_creditor=True) == Decimal("6.00")
    assert tables.legal_rate(date(2025, 2, 1), private_creditor=True) == Decimal("7.21")
    assert tables.last_known_half_year() == (2026, 2)


def test_a_gap_in_the_legal_table_stops_the_last_known_half_year_before_it(tmp_path):
    _write(tmp_path, "legal_rates.csv", "half_year_start,private_creditor,other\n2027-01-01,6,2\n")
    tables = load_rate_tables(tmp_path)
    assert tables.last_known_half_year() == (2026, 1)
    with pytest.raises(MissingRateError, match="2026 S2"):
        tables.legal_rate(date(2026, 9, 1), private_creditor=True)


def test_an_override_directory_without_files_changes_nothing(tmp_path, rates):
    assert load_rate_tables(tmp_path) == rates


def test_a_missing_override_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_rate_tables(tmp_path / "nowhere")


LEGAL_HEADER = "half_year_start,private_creditor,other\n"


@pytest.mark.parametrize(
    ("name", "text", "line", "reason"),
    [
        ("legal_rates.csv", "half_year,private,other\n2026-07-01,6,2\n", 1, "header"),
        ("legal_rates.csv", LEGAL_HEADER + "2026-07-01,6\n", 2, "columns"),
        ("legal_rates.csv", LEGAL_HEADER + "\n2026-07-01,6,abc\n", 3, "number"),
        ("legal_rates.csv", LEGAL_HEADER + "2026-08-01,6,2\n", 2, "1 July"),
        ("legal_rates.csv", LEGAL_HEADER + "01/07/2026,6,2\n", 2, "YYYY-MM-DD"),
        ("legal_rates.csv", LEGAL_HEADER + "2026-07-01,6,-2\n", 2, "bounds"),
        ("legal_rates.csv", LEGAL_HEADER + "2026-07-01,6,NaN\n", 2, "bounds"),
        ("legal_rates.csv", LEGAL_HEADER + "2026-07-01,6,2\n2026-07-01,6,2\n", 3, "twice"),
        ("ecb_rates.csv", "effective_on,rate\n2027-02-30,2\n", 2, "no such date"),
        ("ecb_rates.csv", "", 1, "empty"),
    ],
)
def test_a_malformed_rate_file_raises_value_error_naming_file_and_line(
    tmp_path, name, text, line, reason
):
    path = _write(tmp_path, name, text)
    with pytest.raises(ValueError) as info:
        load_rate_tables(tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert f"line {line}" in message
    assert reason in message
