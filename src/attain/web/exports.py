"""CSV exports of page tables: the `?format=csv` variant of a page, with the page's filters.

Cells that a spreadsheet would run as a formula (starting with = + - @, or a tab or carriage
return) get a leading single quote, so an exported deal name cannot execute in Excel.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


def csv_cell(value: Any) -> str:
    """The text of one cell: exact decimals, ISO dates, formulas neutralised.

    >>> csv_cell("=SUM(A1)"), csv_cell(Decimal("-5.00")), csv_cell(None)
    ("'=SUM(A1)", '-5.00', '')
    """
    if value is None:
        return ""
    if isinstance(value, Decimal | int):
        return str(value)  # numbers stay numbers, a minus sign included
    if isinstance(value, date | datetime):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


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


def csv_url(request: HttpRequest) -> str:
    """The current page's URL with `format=csv` added (the page's filters kept)."""
    query = request.GET.copy()
    query["format"] = "csv"
    query.pop("page", None)
    return f"{request.path}?{query.urlencode()}"
