"""Reading uploaded files as a header and a stream of rows of text: CSV in any common encoding and
delimiter, and XLSX (first or named sheet) through openpyxl's read-only mode.

Memory stays bounded: rows are produced one at a time and never collected. Before anything is
parsed, a file is checked: its size against the upload limit, an XLSX against the signs of a
spreadsheet bomb (a declared sheet of absurd dimensions, or content that inflates far beyond its
compressed size). Every refusal is a `FileRefused` whose message names the file and the limit.

CSV encodings: a byte-order mark decides (UTF-8, UTF-16 LE/BE); without one, UTF-16 is recognised
by its zero bytes, and the whole file is checked as UTF-8 in one streamed pass — if any byte
sequence is not UTF-8 the file is read as Windows-1252 (which includes Latin-1's letters), or
Latin-1 when it holds bytes Windows-1252 leaves undefined. Delimiters: the one of `, ; TAB |`
that splits the first lines into the same number (more than one) of fields.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_BYTES = 64 * 1024
SCAN_CHUNK = 1024 * 1024
# Spreadsheet-bomb limits, checked on the zip directory before any XML is parsed.
XLSX_MAX_UNCOMPRESSED = 2 * 1024**3
XLSX_MAX_RATIO = 100
XLSX_RATIO_FLOOR = 20 * 1024**2  # small files may compress well; the ratio counts above this
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_COLUMNS = 500
XLSX_MAX_CELLS = 50_000_000
MAX_COLUMNS = 500
csv.field_size_limit(10 * 1024 * 1024)


class FileRefused(ValueError):
    """A file that cannot be imported at all (too big, a bomb, unreadable, no header)."""

    def __init__(self, message: str, *, file: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.file = file
        self.reason = reason or message


def max_upload_bytes() -> int:
    return int(getattr(settings, "ATTAIN_IMPORT_MAX_BYTES", 512 * 1024**2))


def describe_size(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    if size >= 1024**2:
        return f"{size / 1024**2:.1f} MB"
    return f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} bytes"


def check_upload_size(name: str, size: int) -> None:
    """Refuse a file larger than the upload limit (`ATTAIN_IMPORT_MAX_MB`)."""
    limit = max_upload_bytes()
    if size > limit:
        raise FileRefused(
            f"{name} is {describe_size(size)}; uploads are limited to {describe_size(limit)} "
            "(ATTAIN_IMPORT_MAX_MB). Split the file or ask your administrator to raise the limit.",
            file=name, reason="file too large")


@dataclass
class TableSource:
    """A readable table: its header, how it was read, and an estimate of its rows."""

    path: Path
    name: str
    kind: str  # "csv" or "xlsx"
    header: list[str]
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""
    estimated_rows: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number as a spreadsheet shows it — the header is row 1 —, cells) per data row;
        rows whose every cell is empty are skipped."""
        if self.kind == "xlsx":
            yield from _xlsx_rows(self)
        else:
            yield from _csv_rows(self)

    def describe(self) -> str:
        if self.kind == "xlsx":
            return f"Excel workbook, sheet {self.sheet!r}"
        return (f"CSV, {self.encoding}, {DELIMITER_NAMES.get(self.delimiter, self.delimiter)}-"
                "separated")


def open_table(path: Path | str, name: str = "", *, sheet: str = "", encoding: str = "",
               delimiter: str = "") -> TableSource:
    """Check and open `path` (named `name` for messages); reads only the header."""
    path = Path(path)
    name = name or path.name
    size = path.stat().st_size
    check_upload_size(name, size)
    if size == 0:
        raise FileRefused(f"{name} is empty.", file=name, reason="empty file")
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm")):
        return _open_xlsx(path, name, sheet)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(f"{name} is an old Excel 97-2003 (.xls) workbook; save it as .xlsx or "
                          "CSV.", file=name, reason="unsupported format")
    return _open_csv(path, name, encoding, delimiter)


# --- CSV ----------------------------------------------------------------------------------------


def detect_encoding(path: Path) -> tuple[str, int]:
    """(Python codec name, line count estimate) of a text file, by BOM or by a streamed scan."""
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
        if sample.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        elif sample[1::2].count(0) > len(sample) // 4 and sample[0::2].count(0) < len(sample) // 8:
            encoding = "utf-16-le"
        elif sample[0::2].count(0) > len(sample) // 4 and sample[1::2].count(0) < len(sample) // 8:
            encoding = "utf-16-be"
        else:
            encoding = ""
        handle.seek(0)
        newline = b"\n\x00" if encoding in {"utf-16", "utf-16-le"} else (
            b"\x00\n" if encoding == "utf-16-be" else b"\n")
        lines = 0
        decoder = codecs.getincrementaldecoder("utf-8")() if not encoding else None
        undefined_1252 = False
        while chunk := handle.read(SCAN_CHUNK):
            lines += chunk.count(newline)
            if decoder is not None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    decoder = None
                    encoding = "cp1252"
            if encoding == "cp1252" and not undefined_1252:
                undefined_1252 = any(b in chunk for b in (b"\x81", b"\x8d", b"\x8f", b"\x90",
                                                           b"\x9d"))
        if decoder is not None:
            encoding = "utf-8"
        if encoding == "cp1252" and undefined_1252:
            encoding = "latin-1"
    return encoding, lines


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the sample lines into the most consistent number of fields."""
    best, best_score = ",", (0, 0)
    for candidate in DELIMITERS:
        rows = [row for row in csv.reader(lines, delimiter=candidate) if any(row)]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(1 for row in rows if len(row) == width), width)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _open_csv(path: Path, name: str, encoding: str, delimiter: str) -> TableSource:
    detected, lines = detect_encoding(path)
    encoding = encoding or detected
    try:
        with path.open(encoding=encoding, newline="") as handle:
            sample = handle.read(SAMPLE_BYTES)
    except (UnicodeDecodeError, LookupError) as error:
        raise FileRefused(f"{name} cannot be read as {encoding}: {error}", file=name) from None
    sample_lines = sample.splitlines()[:50]
    if len(sample) == SAMPLE_BYTES and len(sample_lines) > 1:
        sample_lines = sample_lines[:-1]  # the last line may be cut short
    if "\x00" in sample:
        raise FileRefused(f"{name} does not look like a text (CSV) file.", file=name,
                          reason="not a CSV file")
    delimiter = delimiter or sniff_delimiter(sample_lines)
    source = TableSource(path, name, "csv", [], encoding=encoding, delimiter=delimiter,
                         estimated_rows=max(lines - 1, 0))
    header_rows = csv.reader(sample_lines[:1], delimiter=delimiter)
    header = next(header_rows, [])
    source.header = _clean_header(header, name)
    return source


def _csv_rows(source: TableSource) -> Iterator[tuple[int, list[str]]]:
    with source.path.open(encoding=source.encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=source.delimiter)
        next(reader, None)
        number = 1
        try:
            for cells in reader:
                number += 1
                if cells and (cells[0].strip() or any(cell.strip() for cell in cells)):
                    yield number, cells
        except csv.Error as error:
            raise FileRefused(f"{source.name}, row {number + 1}: {error}", file=source.name,
                              reason="malformed CSV") from None
        except UnicodeDecodeError as error:
            raise FileRefused(f"{source.name}, row {number + 1}: not {source.encoding} text "
                              f"({error.reason})", file=source.name,
                              reason="encoding") from None


def _clean_header(header: list[Any], name: str) -> list[str]:
    cells = [str(cell if cell is not None else "").strip().lstrip("\ufeff") for cell in header]
    while cells and not cells[-1]:
        cells.pop()
    if not any(cells):
        raise FileRefused(f"{name} has no header row; the first row must name the columns.",
                          file=name, reason="no header")
    if len(cells) > MAX_COLUMNS:
        raise FileRefused(f"{name} has {len(cells)} columns; at most {MAX_COLUMNS} are read.",
                          file=name, reason="too many columns")
    return cells


# --- XLSX ---------------------------------------------------------------------------------------

_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def check_xlsx_bomb(path: Path, name: str) -> None:
    """Refuse a workbook whose zip inflates beyond the limits, or whose sheets declare absurd
    dimensions — checked on the zip directory and each sheet's first bytes, before parsing."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise FileRefused(f"{name} is not a valid .xlsx workbook (not a zip archive).",
                          file=name, reason="not a workbook") from None
    with archive:
        infos = archive.infolist()
        uncompressed = sum(info.file_size for info in infos)
        compressed = sum(info.compress_size for info in infos) or 1
        if uncompressed > XLSX_MAX_UNCOMPRESSED:
            raise FileRefused(
                f"{name} would expand to {describe_size(uncompressed)} when opened; workbooks are "
                f"limited to {describe_size(XLSX_MAX_UNCOMPRESSED)} uncompressed. Export it as "
                "CSV instead.", file=name, reason="spreadsheet bomb")
        if uncompressed > XLSX_RATIO_FLOOR and uncompressed / compressed > XLSX_MAX_RATIO:
            raise FileRefused(
                f"{name} expands {uncompressed // compressed}x (from {describe_size(compressed)} "
                f"to {describe_size(uncompressed)}); more than {XLSX_MAX_RATIO}x is refused as "
                "a likely spreadsheet bomb.", file=name, reason="spreadsheet bomb")
        for info in infos:
            if not info.filename.startswith("xl/worksheets/") or not info.filename.endswith(
                    ".xml"):
                continue
            with archive.open(info) as sheet:
                head = sheet.read(4096)
            match = _DIMENSION.search(head)
            if not match or not match.group(3):
                continue
            rows = int(match.group(4)) - int(match.group(2)) + 1
            columns = _column_number(match.group(3).decode()) - _column_number(
                match.group(1).decode()) + 1
            if rows > XLSX_MAX_ROWS or columns > XLSX_MAX_COLUMNS or rows * columns > \
                    XLSX_MAX_CELLS:
                raise FileRefused(
                    f"{name}: sheet {info.filename.rsplit('/', 1)[-1]} declares {rows:,} rows x "
                    f"{columns:,} columns; at most {XLSX_MAX_COLUMNS} columns and "
                    f"{XLSX_MAX_CELLS:,} cells are read. Export only the data as CSV.",
                    file=name, reason="spreadsheet bomb")


def _open_xlsx(path: Path, name: str, sheet: str) -> TableSource:
    check_xlsx_bomb(path, name)
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged workbook
        raise FileRefused(f"{name} cannot be opened as a workbook: {error}", file=name,
                          reason="not a workbook") from None
    try:
        names = book.sheetnames
        if sheet and sheet not in names:
            raise FileRefused(f"{name} has no sheet {sheet!r}; its sheets are "
                              f"{', '.join(repr(n) for n in names)}.", file=name,
                              reason="unknown sheet")
        sheet = sheet or names[0]
        worksheet = book[sheet]
        first = next(worksheet.iter_rows(max_row=1, values_only=True), ())
        header = _clean_header(list(first), name)
        estimated = max((worksheet.max_row or 1) - 1, 0)
    finally:
        book.close()
    return TableSource(path, name, "xlsx", header, sheet=sheet, estimated_rows=estimated)


def cell_text(value: Any) -> str:
    """A cell as the text a CSV export of it would hold (dates ISO, numbers exact)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time.min and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        text = repr(value)
        return str(Decimal(text)) if "e" in text.lower() else text.removesuffix(".0")
    return str(value)


def _xlsx_rows(source: TableSource) -> Iterator[tuple[int, list[str]]]:
    import openpyxl

    book = openpyxl.load_workbook(source.path, read_only=True, data_only=True)
    try:
        worksheet = book[source.sheet]
        width = len(source.header)
        for number, values in enumerate(
                worksheet.iter_rows(min_row=2, max_col=width, values_only=True), start=2):
            cells = [cell_text(v) for v in values]
            if any(cell.strip() for cell in cells):
                yield number, cells
    finally:
        book.close()


def read_header(data: bytes, name: str) -> list[str]:
    """The header of a small sample file given as bytes (for the mapping editor)."""
    import tempfile

    suffix = Path(name).suffix or ".csv"
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(data)
        handle.flush()
        return open_table(Path(handle.name), name).header

