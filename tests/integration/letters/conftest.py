"""Letters are rendered once per test session (WeasyPrint takes a few hundred ms a letter)."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from channels.letters_pdf import LetterRenderer, RenderedLetter
from tests.integration.letters.samples import LETTERS

MM = 72 / 25.4  # points per millimetre (2.8346)


@pytest.fixture(scope="session")
def renderer() -> LetterRenderer:
    return LetterRenderer()


@pytest.fixture(scope="session")
def rendered(renderer) -> dict[str, RenderedLetter]:
    """Every letter template, rendered with its sample context."""
    return {name: renderer.render_letter(name, make()) for name, make in LETTERS.items()}


@pytest.fixture(scope="session")
def first_letter(rendered) -> RenderedLetter:
    return rendered["premiere_relance"]


def normalise(text: str) -> str:
    """PDF text without the layout: no-break spaces and line breaks become single spaces."""
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\u00a0", " ")).strip()


def pdf_pages(pdf: bytes) -> list[str]:
    return [normalise(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def pdf_text(pdf: bytes) -> str:
    return " ".join(pdf_pages(pdf))


def text_positions(pdf: bytes, page_index: int = 0) -> list[tuple[str, float, float]]:
    """(text, x, y) of each text run of a page, in points from the page's top-left corner."""
    page = PdfReader(io.BytesIO(pdf)).pages[page_index]
    height = float(page.mediabox.height)
    runs: list[tuple[str, float, float]] = []

    def visit(text, cm, tm, font_dict, font_size):
        if not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        runs.append((text.strip(), x, height - y))

    page.extract_text(visitor_text=visit)
    return runs
