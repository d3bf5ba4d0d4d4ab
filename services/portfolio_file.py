"""Reading a creditor's portfolio file: CSV (UTF-8, UTF-8 with BOM, CP1252/Latin-1; `;` `,` tab or
`|`) or XLSX, streamed row by row with the line number a user will find in the file."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from services.portfolio_columns import FIELDS, resolve_header


class ImportFileError(ValueError):
    """The file as a whole cannot be read: nothing is imported."""


@dataclass(frozen=True)
class RawRow:
    line: int  # line number in the file (the header is line 1)
    values: dict[str, object]  # field name -> raw value (str for CSV; str/number/date for XLSX)
    original: list[object]  # the row as read, for the rejected-rows file


@dataclass
class PortfolioFile:
    path: Path
    encoding: str | None
    delimiter: str | None
    header: list[str]
    columns: dict[str, int]  # field name -> column index
    size: int

    def rows(self) -> Iterator[RawRow]:
        for line, record in self.records():
            yield RawRow(line, pick_values(self.columns, record), record)

    def records(self) -> Iterator[tuple[int, list]]:
        """(line number, cells) per non-blank row: the cheapest form to hand to a parser process
        (a list of strings pickles several times faster than a RawRow and its dict)."""
        if self.path.suffix.lower() in (".xlsx", ".xlsm"):
            yield from self._xlsx_records()
        else:
            yield from self._csv_records()

    def _csv_records(self) -> Iterator[tuple[int, list]]:
        with open(self.path, encoding=self.encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=self.delimiter)
            next(reader, None)
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue
                yield reader.line_num, record

    def _xlsx_records(self) -> Iterator[tuple[int, list]]:
        from openpyxl import load_workbook

        wb = load_workbook(self.path, read_only=True, data_only=True)
        try:
            rows = wb.active.iter_rows(values_only=True)
            next(rows, None)
            for line, record in enumerate(rows, start=2):
                record = list(record)
                if not any(cell is not None and str(cell).strip() for cell in record):
                    continue
                yield line, record
        finally:
            wb.close()


def pick_values(columns: dict[str, int], record: list) -> dict[str, object]:
    """Field name -> the cell's value, stripped; an empty or missing cell is None."""
    if len(record) > max(columns.values(), default=-1):
        cells = [record[i] for i in columns.values()]
    else:  # a short row: its missing cells are empty
        cells = [record[i] if i < len(record) else None for i in columns.values()]
    return dict(zip(columns, [(v.strip() or None) if isinstance(v, str) else v for v in cells]))


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as such, else CP1252, else Latin-1."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        fh.seek(0)
        try:
            codecs.decode(fh.read(), "cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"  # decodes any byte


def detect_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        raise ImportFileError("séparateur introuvable dans l'en-tête (attendu ; , tabulation ou |)")
    return best


def open_portfolio(path: Path, mapping: dict[str, str] | None = None) -> PortfolioFile:
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"fichier introuvable: {path.name}")
    size = path.stat().st_size
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header = _xlsx_header(path)
        encoding = delimiter = None
    else:
        encoding = detect_encoding(path)
        with open(path, encoding=encoding, newline="") as fh:
            first = fh.readline()
        if not first.strip():
            raise ImportFileError("fichier vide")
        delimiter = detect_delimiter(first)
        header = next(csv.reader(io.StringIO(first), delimiter=delimiter))
    columns = resolve_header(header, mapping)
    return PortfolioFile(path, encoding, delimiter, header, columns, size)


def _xlsx_header(path: Path) -> list[str]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise ImportFileError(f"classeur XLSX illisible: {exc.__class__.__name__}") from exc
    try:
        first = next(wb.active.iter_rows(values_only=True, max_row=1), None)
    finally:
        wb.close()
    if not first:
        raise ImportFileError("classeur vide")
    return ["" if c is None else str(c) for c in first]


__all__ = ["FIELDS", "ImportFileError", "PortfolioFile", "RawRow", "open_portfolio", "pick_values"]
