"""Exports of page tables to CSV and XLSX: the `?format=csv` / `?format=xlsx` variant of a page,
with the page's filters applied.

Cells that a spreadsheet would run as a formula (text starting with = + - @, or a tab or carriage
return) get a leading single quote in both formats, so an exported deal name cannot execute in
Excel. Numbers are not text: a Decimal or an int stays a number (a minus sign included), exact in
CSV (`str(Decimal)`) and written as a numeric cell in XLSX (openpyxl writes a Decimal's own digits,
never through a float). XLSX files are written in openpyxl's write-only (streaming) mode into a
spooled temporary file, so a long list never sits in memory as a workbook.
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell import _writer as openpyxl_cell_writer
from openpyxl.styles import Font

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters XML 1.0 cannot carry (openpyxl refuses them); dropped from XLSX text cells.
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
SPOOL_BYTES = 8 * 1024 * 1024
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


def _exact_number_text(value: Any) -> str:
    """openpyxl writes every number as "%.16g" of a float; a Decimal is written with its own
    digits instead ("-1200.50" stays "-1200.50"), anything else as openpyxl would."""
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    text: str = _openpyxl_number_text(value)
    return text


# The one place openpyxl's number formatting is replaced (its cell writer's module function).
_openpyxl_number_text = openpyxl_cell_writer.safe_string
openpyxl_cell_writer.safe_string = _exact_number_text


def export_format(request: HttpRequest) -> str | None:
    """"csv" or "xlsx" when the page is asked for as a file, else None."""
    value = request.GET.get("format")
    return value if value in FORMATS else None


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


def wants_export(request: HttpRequest) -> bool:
    return export_format(request) is not None


def neutralise(text: str) -> str:
    """Text a spreadsheet would run as a formula, with a leading quote; other text unchanged."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_cell(value: Any) -> str:
    """The text of one cell: exact decimals, ISO dates, formulas neutralised.

    >>> csv_cell("=SUM(A1)"), csv_cell(Decimal("-5.00")), csv_cell(None)
    ("'=SUM(A1)", '-5.00', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal | int):
        return str(value)  # numbers stay numbers, a minus sign included
    if isinstance(value, date | datetime):
        return value.isoformat()
    return neutralise(str(value))


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
                 ) -> HttpResponse:
    """A CSV download named `filename` with `header` and `rows` (cells through `csv_cell`)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return response


def xlsx_value(value: Any) -> Any:
    """The value of one XLSX cell: numbers as numbers (Decimal exact), booleans, naive local
    datetimes (Excel has no time zones), text with formulas neutralised and XML-illegal control
    characters dropped; None stays an empty cell.

    >>> xlsx_value("=1+1"), xlsx_value(Decimal("-5.00")), xlsx_value("-x")
    ("'=1+1", Decimal('-5.00'), "'-x")
    """
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.make_naive(value)
        return value
    if isinstance(value, date):
        return value
    return neutralise(XML_ILLEGAL.sub("", str(value)))


def _xlsx_cell(sheet: Any, value: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=xlsx_value(value))
    if isinstance(value, Decimal):
        cell.number_format = MONEY_FORMAT if value.as_tuple().exponent == -2 else "General"
    elif isinstance(value, datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        cell.number_format = DATE_FORMAT
    return cell


def xlsx_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *,
                  sheet_title: str = "Export") -> FileResponse:
    """An XLSX download named `filename`: one sheet, a bold header row, then `rows`, written in
    write-only mode (rows streamed to disk as they come)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=re.sub(r"[\[\]:*?/\\]", " ", sheet_title)[:31] or "Export")
    bold = Font(bold=True)
    header_cells = []
    for title in header:
        cell = WriteOnlyCell(sheet, value=xlsx_value(title))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (response owns it)
    workbook.save(spool)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=filename,
                        content_type=XLSX_CONTENT_TYPE)


def export_response(request: HttpRequest, name: str, header: Sequence[str],
                    rows: Iterable[Sequence[Any]]) -> HttpResponseBase:
    """The page's table as the file the request asks for: `name`.csv or `name`.xlsx."""
    if export_format(request) == "xlsx":
        return xlsx_response(f"{name}.xlsx", header, rows, sheet_title=name)
    return csv_response(f"{name}.csv", header, rows)


def export_url(request: HttpRequest, fmt: str) -> str:
    """The current page's URL with `format=fmt` added (the page's filters kept)."""
    query = request.GET.copy()
    query["format"] = fmt
    query.pop("page", None)
    return f"{request.path}?{query.urlencode()}"


def csv_url(request: HttpRequest) -> str:
    """The current page's URL with `format=csv` added (the page's filters kept)."""
    return export_url(request, "csv")


def xlsx_url(request: HttpRequest) -> str:
    return export_url(request, "xlsx")


def as_format(url: str, fmt: str) -> str:
    """An export `url` (one ending in or containing `format=csv`) switched to `fmt`."""
    return re.sub(r"([?&])format=[a-z]+", rf"\g<1>format={fmt}", url)
