"""PDF documents of compensation pages: the plan document and a statement, drawn with fpdf2
(pure Python). The text is the same the HTML pages show; DejaVu Sans is used when the system has
it (every character prints), else the PDF core font with characters outside Latin-1 spelt out
("→" becomes "->")."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
REPLACEMENTS = {"\u2192": "->", "\u2014": "-", "\u2013": "-", "\u00d7": "x", "\u00f7": "/",
                "\u2265": ">=", "\u2264": "<=", "\u2026": "...", "\u2019": "'",
                "\u201c": '"', "\u201d": '"', "\u20ac": "EUR", "\u00b7": "-"}


class Document:
    """A simple flowing document: a title, headings, paragraphs, key-value pairs and tables."""

    def __init__(self, title: str) -> None:
        self.pdf = FPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_title(title)
        self.pdf.set_creator("Attain")
        self.family = "Helvetica"
        self.unicode = False
        for folder in FONT_DIRS:
            regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
            if regular.exists() and bold.exists():
                self.pdf.add_font("DejaVu", "", str(regular))
                self.pdf.add_font("DejaVu", "B", str(bold))
                self.family, self.unicode = "DejaVu", True
                break
        self.pdf.add_page()
        self.pdf.set_font(self.family, "B", 16)
        self.pdf.multi_cell(0, 8, self.text(title), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)

    def text(self, value: Any) -> str:
        text = "" if value is None else str(value)
        if self.unicode:
            return text
        for char, plain in REPLACEMENTS.items():
            text = text.replace(char, plain)
        return text.encode("latin-1", "replace").decode("latin-1")

    def heading(self, text: str) -> None:
        self.pdf.ln(2)
        self.pdf.set_font(self.family, "B", 12)
        self.pdf.multi_cell(0, 7, self.text(text), new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text: str, size: int = 10) -> None:
        self.pdf.set_font(self.family, "", size)
        self.pdf.multi_cell(0, 5, self.text(text), new_x="LMARGIN", new_y="NEXT")

    def pairs(self, rows: Sequence[tuple[str, Any]]) -> None:
        self.pdf.set_font(self.family, "", 10)
        for label, value in rows:
            self.pdf.set_font(self.family, "B", 10)
            self.pdf.cell(55, 6, self.text(label))
            self.pdf.set_font(self.family, "", 10)
            self.pdf.multi_cell(0, 6, self.text(value), new_x="LMARGIN", new_y="NEXT")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]],
              widths: Sequence[int] | None = None, numeric: Sequence[int] = ()) -> None:
        self.pdf.set_font(self.family, "", 8)
        with self.pdf.table(col_widths=tuple(widths) if widths else None,
                            text_align=tuple("RIGHT" if i in numeric else "LEFT"
                                             for i in range(len(header))),
                            line_height=5) as table:
            head = table.row()
            for title in header:
                head.cell(self.text(title))
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(self.text(value))

    def preformatted(self, text: str) -> None:
        self.pdf.set_font("Courier", "", 8)
        for line in text.splitlines():
            plain = line.encode("latin-1", "replace").decode("latin-1")
            self.pdf.multi_cell(0, 4, plain or " ", new_x="LMARGIN", new_y="NEXT")

    def output(self) -> bytes:
        return bytes(self.pdf.output())
