"""Reading files: encodings, delimiters, quoted fields, XLSX sheets, and refusals."""

from __future__ import annotations

import codecs

import pytest

from attain.ingest.reading import FileRefused, open_table
from tests.ingest.conftest import FIXTURES


def rows(source):
    return list(source.rows())


@pytest.mark.parametrize(("encoding", "bom"), [("utf-8", b""), ("utf-8", codecs.BOM_UTF8),
                                               ("utf-16", b""), ("cp1252", b"")])
def test_encodings_and_line_endings(tmp_path, encoding, bom):
    text = 'Name;Amount\r\n"Müller; Söhne";"1.234,50"\r\nZoë;7\n'
    path = tmp_path / "file.csv"
    path.write_bytes(bom + text.encode(encoding))

    source = open_table(path)

    assert source.header == ["Name", "Amount"] and source.delimiter == ";"
    assert rows(source) == [(2, ["Müller; Söhne", "1.234,50"]), (3, ["Zoë", "7"])]


def test_a_quoted_field_may_hold_a_line_break(tmp_path):
    path = tmp_path / "file.csv"
    path.write_text('Id,Notes\n1,"two\nlines"\n2,plain\n')

    assert rows(open_table(path)) == [(2, ["1", "two\nlines"]), (3, ["2", "plain"])]


def test_xlsx_reads_the_named_sheet_and_lists_the_sheets_otherwise():
    source = open_table(FIXTURES / "report_opportunities.xlsx", sheet="Export")
    assert source.header[:2] == ["Opportunity ID", "Opportunity Name"]
    assert rows(source)[0][1][4:7] == ["4321.5", "2027-09-30", "2026-08-01T09:15:00"]

    with pytest.raises(FileRefused, match="has no sheet 'Data'; its sheets are 'Notes', "
                                          "'Export'"):
        open_table(FIXTURES / "report_opportunities.xlsx", sheet="Data")


def test_an_empty_file_and_a_binary_file_are_refused(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)

    with pytest.raises(FileRefused, match=r"empty\.csv is empty"):
        open_table(empty)
    with pytest.raises(FileRefused, match=r"old Excel 97-2003 \(.xls\) workbook"):
        open_table(old)
