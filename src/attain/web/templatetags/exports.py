"""Template filters for export links: `{{ csv_url|as_format:"xlsx" }}` is the XLSX variant."""

from __future__ import annotations

from django import template

from attain.web.exports import as_format as switch_format

register = template.Library()


@register.filter
def as_format(url: str, fmt: str) -> str:
    """An export URL (with `format=csv`) switched to another format, e.g. "xlsx"."""
    return switch_format(str(url), fmt) if url else ""
