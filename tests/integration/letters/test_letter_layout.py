"""Where things sit on the page: the address in the DL envelope's window, page numbers, footer."""

from __future__ import annotations

import pytest

from tests.integration.letters.conftest import MM, pdf_pages, text_positions
from tests.integration.letters.samples import LETTERS, sample_context

# The window of a DL envelope with a right window, on the folded A4 sheet (see letter.css).
WINDOW_LEFT, WINDOW_RIGHT = 100 * MM, 200 * MM
WINDOW_TOP, WINDOW_BOTTOM = 45 * MM, 90 * MM


@pytest.mark.parametrize("name", sorted(LETTERS))
def test_the_first_address_line_sits_in_the_envelope_window(rendered, name):
    first_line = LETTERS[name]()["recipient"]["address_lines"][0]
    runs = [run for run in text_positions(rendered[name].pdf) if run[0].startswith(first_line)]
    assert runs, f"{first_line!r} not found on page 1"
    _, x, y = runs[0]
    assert WINDOW_LEFT + 5 * MM <= x <= WINDOW_LEFT + 20 * MM, f"x = {x / MM:.1f} mm"
    assert WINDOW_TOP + 3 * MM <= y <= WINDOW_TOP + 15 * MM, f"y = {y / MM:.1f} mm"


def test_every_address_line_and_nothing_else_is_printed_in_the_window(first_letter):
    lines = sample_context()["recipient"]["address_lines"]
    inside = [
        text for text, x, y in text_positions(first_letter.pdf)
        if WINDOW_LEFT <= x <= WINDOW_RIGHT and WINDOW_TOP <= y <= WINDOW_BOTTOM
    ]
    assert inside == lines


def test_the_address_lines_are_stacked_one_under_the_other_at_the_same_left_edge(first_letter):
    lines = sample_context()["recipient"]["address_lines"]
    runs = [run for run in text_positions(first_letter.pdf) if run[0] in lines]
    xs = {round(x, 1) for _, x, _ in runs}
    ys = [y for _, _, y in runs]
    assert len(xs) == 1
    assert ys == sorted(ys) and ys[-1] <= WINDOW_BOTTOM - 3 * MM


@pytest.mark.parametrize("name", sorted(LETTERS))
def test_every_page_shows_page_x_of_y_and_the_offices_siren(rendered, name):
    pages = pdf_pages(rendered[name].pdf)
    assert len(pages) == rendered[name].page_count
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} / {len(pages)}" in text
        assert "SIREN 552100554" in text


def test_the_letter_is_dated_from_the_offices_city(first_letter):
    assert "Lyon, le 3 mars 2025" in pdf_pages(first_letter.pdf)[0]
