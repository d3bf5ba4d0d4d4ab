"""PDF letters: render `templates/letter/*.html` with WeasyPrint, gather a day's letters into one
print batch.

This is the only module that imports weasyprint (ARCHITECTURE.md: one adapter module per SDK).

    LetterRenderer(templates_dir=None)
        .render(name, context) -> bytes                 one letter, PDF
        .render_letter(name, context) -> RenderedLetter  the PDF and its page count
        .render_many(items) -> list[RenderedLetter]      [(name, context), ...], one setup for all
        .html(name, context) -> str                      the HTML handed to WeasyPrint
    render_document(name, context, *, stylesheet, templates_dir=None) -> bytes
                                                     any other printed document (remittance
                                                     statement to a creditor): no letter checks
    LetterBatch(folder, batch_id, *, duplex=False)
        .add(letter, *, action_id, letter_reference, dossier_id, address_lines) -> ManifestRow
        .write() -> BatchFiles                           one PDF + one CSV manifest, atomically

Efficiency: the stylesheet (`letter/letter.css`) is parsed once per renderer into a weasyprint
`CSS` object bound to one `FontConfiguration`; every letter reuses both, and the Jinja templates
are compiled once by the environment. Python's cyclic garbage collector is paused while one
letter is laid out and written, then run once over that letter's young objects
(`young_garbage_collected_after`). See benchmarks/letters_bench.py for the measured rate.

The print-batch manifest is a print-room document: it carries the recipient's address lines
(the print room checks the envelope window against them), so it is personal data and lives with
the batch PDF under the same retention rules; logs only ever carry ids.
"""

from __future__ import annotations

import csv
import gc
import io
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from pypdf import PdfReader, PdfWriter
from channels.files import write_atomically
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from channels import templating

log = logging.getLogger(__name__)

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STYLESHEET = "letter/letter.css"
FIRST_LETTER = "letter/premiere_relance.html"
# Letters that are no relance (a receipt): they neither are nor need to repeat the R124-4 letter.
NOT_RELANCE = frozenset({"letter/quittance.html"})

MAX_ADDRESS_LINES = 6  # NF Z10-011
MAX_ADDRESS_LINE_CHARS = 38

MANIFEST_COLUMNS = (
    "action_id",
    "letter_reference",
    "dossier_id",
    "template",
    "first_page",
    "page_count",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "address_line_4",
    "address_line_5",
    "address_line_6",
    "postcode",
    "city",
)


class LetterContextError(ValueError):
    """The context cannot make a lawful letter (missing first-letter reference, address too long).

    Permanent: re-rendering the same context fails the same way."""


@dataclass(frozen=True)
class RenderedLetter:
    template: str
    pdf: bytes
    page_count: int


# --------------------------------------------------------------------------------------------
# Jinja environment: the project's (channels/templating.py, filters money, date_fr, date_short,
# phone_fr, iban_groups) plus `city_of` for the place written before the date.
# --------------------------------------------------------------------------------------------


_POSTCODE_CITY = re.compile(r"^\s*(\d{5})\s+(.+?)\s*$")


def postcode_city(address_lines: Iterable[str]) -> tuple[str, str]:
    """Postcode and city from an NF Z10-011 address: the last line that reads '69002 LYON'."""
    for line in reversed(list(address_lines)):
        match = _POSTCODE_CITY.match(line)
        if match:
            return match.group(1), match.group(2)
    return "", ""


def city_of(address_lines: Iterable[str]) -> str:
    """'69002 LYON' -> 'Lyon', 'CEDEX 08' dropped: the place written before the letter's date."""
    _, city = postcode_city(address_lines)
    city = re.sub(r"\s+CEDEX(\s+\d+)?$", "", city, flags=re.IGNORECASE)
    return city.title()


def make_environment(templates_dir: Path) -> jinja2.Environment:
    env = templating.make_environment(templates_dir)  # a new environment: adding a filter is local
    env.filters["city_of"] = city_of
    return env


# --------------------------------------------------------------------------------------------
# Renderer
# --------------------------------------------------------------------------------------------


def template_name(name: str) -> str:
    """'premiere_relance', 'letter/premiere_relance' or 'letter/premiere_relance.html'."""
    if not name.startswith("letter/"):
        name = "letter/" + name
    if not name.endswith(".html"):
        name += ".html"
    return name


def check_context(name: str, context: Mapping[str, Any]) -> None:
    """Refuse what would make an unlawful or unprintable letter."""
    lines = list(context["recipient"]["address_lines"])
    if not 2 <= len(lines) <= MAX_ADDRESS_LINES:
        raise LetterContextError(f"address block has {len(lines)} lines, expected 2 to 6")
    if any(len(line) > MAX_ADDRESS_LINE_CHARS for line in lines):
        raise LetterContextError("address line longer than 38 characters (NF Z10-011)")
    # Every letter template carries the R124-4 mentions, so whichever goes out first (the
    # R124-4 letter, or the B2B letter of amiable-entreprise) is the first letter; any other
    # must repeat the first one's reference and date.
    is_first = name == FIRST_LETTER or bool(context.get("letter", {}).get("first"))
    if not is_first and name not in NOT_RELANCE:
        dossier = context["dossier"]
        if not dossier.get("first_letter_ref") or not dossier.get("first_letter_on"):
            raise LetterContextError(
                f"{name} is a later letter: it must repeat the first letter's reference and date"
            )


@contextmanager
def young_garbage_collected_after() -> Iterator[None]:
    """Pause the cyclic garbage collector for one letter, then collect the youngest generation.

    WeasyPrint makes tens of thousands of boxes and styles per letter, linked both ways (parent and
    children), so the collector would run hundreds of times during one letter, and its older
    generations would each time walk everything the process holds (fonts, templates, modules):
    about a tenth of a letter's CPU time. Everything a letter leaves behind is young: collecting
    generation 0 once afterwards frees it and walks nothing else. Reference counting still frees
    every acyclic object at once, so memory stays flat over a batch.

    Leaves the collector as it found it: a caller that disabled it keeps it disabled."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(0)


class LetterRenderer:
    """Renders letters to PDF; one instance holds one WeasyPrint setup (fonts, parsed CSS)."""

    def __init__(self, templates_dir: str | os.PathLike[str] | None = None) -> None:
        self.templates_dir = Path(templates_dir) if templates_dir else DEFAULT_TEMPLATES_DIR
        self._env = make_environment(self.templates_dir)
        self._font_config = FontConfiguration()
        self._stylesheet = CSS(
            filename=str(self.templates_dir / STYLESHEET), font_config=self._font_config
        )
        self._base_url = str(self.templates_dir / "letter") + os.sep
        self._image_cache: dict = {}  # WeasyPrint's image cache, shared by the batch (logos)

    def html(self, name: str, context: Mapping[str, Any]) -> str:
        name = template_name(name)
        check_context(name, context)
        return self._env.get_template(name).render(**context)

    def render_letter(self, name: str, context: Mapping[str, Any]) -> RenderedLetter:
        name = template_name(name)
        html = self.html(name, context)
        with young_garbage_collected_after():
            document = HTML(string=html, base_url=self._base_url).render(
                stylesheets=[self._stylesheet], font_config=self._font_config, cache=self._image_cache
            )
            pdf = document.write_pdf()
            page_count = len(document.pages)
            del document  # its boxes are garbage now, in the generation collected on the way out
        return RenderedLetter(template=name, pdf=pdf, page_count=page_count)

    def render(self, name: str, context: Mapping[str, Any]) -> bytes:
        return self.render_letter(name, context).pdf

    def render_many(
        self, items: Iterable[tuple[str, Mapping[str, Any]]]
    ) -> list[RenderedLetter]:
        """Render a batch with this renderer's single font configuration and parsed stylesheet.

        Raises on the first letter that cannot be rendered; LetterChannel renders one message at
        a time instead, so that one bad letter fails alone."""
        return [self.render_letter(name, context) for name, context in items]


def render_document(
    name: str,
    context: Mapping[str, Any],
    *,
    stylesheet: str,
    templates_dir: str | os.PathLike[str] | None = None,
) -> bytes:
    """A PDF from `templates/<name>` with `templates/<stylesheet>`: a document that is not a
    letter to a debtor, so none of the R124-4 letter checks apply."""
    folder = Path(templates_dir) if templates_dir else DEFAULT_TEMPLATES_DIR
    env = make_environment(folder)
    fonts = FontConfiguration()
    html = env.get_template(name).render(**context)
    base_url = str((folder / name).parent) + os.sep
    css = CSS(filename=str(folder / stylesheet), font_config=fonts)
    return HTML(string=html, base_url=base_url).write_pdf(stylesheets=[css], font_config=fonts)


# --------------------------------------------------------------------------------------------
# Print batch
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestRow:
    action_id: str
    letter_reference: str
    dossier_id: str
    template: str
    first_page: int
    page_count: int
    address_lines: tuple[str, ...]
    postcode: str
    city: str

    def as_csv_row(self) -> list[str]:
        lines = list(self.address_lines) + [""] * (MAX_ADDRESS_LINES - len(self.address_lines))
        return [
            self.action_id,
            self.letter_reference,
            self.dossier_id,
            self.template,
            str(self.first_page),
            str(self.page_count),
            *lines,
            self.postcode,
            self.city,
        ]


@dataclass(frozen=True)
class BatchFiles:
    pdf_path: Path
    manifest_path: Path
    letters: int
    pages: int
    rows: tuple[ManifestRow, ...] = field(repr=False)


class LetterBatch:
    """A day's letters for the print room: one PDF (letters one after the other) + a CSV manifest.

    With `duplex=True` a blank page follows every letter with an odd page count, so each letter
    starts on a recto when the batch is printed on both sides."""

    def __init__(
        self, folder: str | os.PathLike[str], batch_id: str, *, duplex: bool = False
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", batch_id):
            raise ValueError("batch_id must be a plain file-name stem")
        self.folder = Path(folder)
        self.batch_id = batch_id
        self.duplex = duplex
        self._writer = PdfWriter()
        self._rows: list[ManifestRow] = []
        self._pages = 0

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def pages(self) -> int:
        return self._pages

    @property
    def rows(self) -> tuple[ManifestRow, ...]:
        return tuple(self._rows)

    def add(
        self,
        letter: RenderedLetter | bytes,
        *,
        action_id: str,
        letter_reference: str,
        dossier_id: str,
        address_lines: Iterable[str],
        template: str | None = None,
    ) -> ManifestRow:
        pdf = letter.pdf if isinstance(letter, RenderedLetter) else letter
        template = template or (letter.template if isinstance(letter, RenderedLetter) else "")
        # The writer's object graph grows with every letter: left running, the collector would walk
        # it again and again (about 3 ms of a letter's 6 ms merge).
        with young_garbage_collected_after():
            reader = PdfReader(io.BytesIO(pdf))
            page_count = len(reader.pages)
            first_page = self._pages + 1
            self._writer.append(reader)
            self._pages += page_count
            if self.duplex and page_count % 2:
                last = reader.pages[-1]
                self._writer.add_blank_page(width=last.mediabox.width, height=last.mediabox.height)
                self._pages += 1
            del reader
        lines = tuple(address_lines)
        postcode, city = postcode_city(lines)
        row = ManifestRow(
            action_id=str(action_id),
            letter_reference=letter_reference,
            dossier_id=str(dossier_id),
            template=template,
            first_page=first_page,
            page_count=page_count,
            address_lines=lines,
            postcode=postcode,
            city=city,
        )
        self._rows.append(row)
        return row

    def write(self) -> BatchFiles:
        """Write `<batch_id>.pdf` and `<batch_id>.csv` under the folder, each atomically.

        The manifest is written last: a manifest on disk means its PDF is complete."""
        pdf_path = self.folder / f"{self.batch_id}.pdf"
        manifest_path = self.folder / f"{self.batch_id}.csv"
        buffer = io.BytesIO()
        with young_garbage_collected_after():
            self._writer.write(buffer)
        write_atomically(pdf_path, buffer.getvalue())

        text = io.StringIO()
        out = csv.writer(text, delimiter=";", lineterminator="\r\n")
        out.writerow(MANIFEST_COLUMNS)
        for row in self._rows:
            out.writerow(row.as_csv_row())
        # utf-8-sig: the print room opens it in a spreadsheet that needs the BOM to read accents.
        write_atomically(manifest_path, text.getvalue().encode("utf-8-sig"))
        log.info("letter batch %s written: %s letters, %s pages", self.batch_id, len(self._rows), self._pages)
        return BatchFiles(pdf_path, manifest_path, len(self._rows), self._pages, self.rows)


def read_manifest(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))
