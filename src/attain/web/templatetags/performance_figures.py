"""Template filters of the performance pages: a measure's value shown by its kind."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from attain.web.templatetags.figures import money, percent

register = template.Library()


@register.filter
def measure(value: Any, kind: str) -> str:
    """`{{ cell.value|measure:cell.measure.kind }}`: money with separators, percentages, days,
    ratios ("3.80" and a times sign), counts; no value → "—"."""
    if value is None or value == "":
        return "—"
    if kind == "money":
        return money(value)
    if kind == "pct":
        return percent(value)
    if kind == "days":
        return f"{Decimal(str(value)):,.1f} d"
    if kind == "ratio":
        return f"{Decimal(str(value)):,.2f}\N{MULTIPLICATION SIGN}"
    return f"{value:,}" if isinstance(value, int) else str(value)


@register.filter
def movement(value: int | None) -> str:
    """Rank movement: "▲ 2", "▼ 1", a dash (same place), "new" (no previous rank)."""
    if value is None:
        return "new"
    if value > 0:
        return f"▲ {value}"
    if value < 0:
        return f"▼ {-value}"
    return "\N{EN DASH}"
