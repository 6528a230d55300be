"""Template filters for figures: money with currency and thousands separators, percentages."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()


@register.filter
def money(amount: Any, currency: str = "") -> str:
    """`{{ 1500.5|money:"USD" }}` → "1,500.50 USD"; an empty amount → "—"."""
    if amount is None or amount == "":
        return "—"
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    text = f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


@register.filter
def percent(value: Any) -> str:
    """`{{ pct|percent }}` → "50.0%"; no value (no quota) → "—"."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)):,.1f}%"


@register.simple_tag(takes_context=True)
def query_with(context: Any, **changes: Any) -> str:
    """The current query string with `changes` applied (a None value removes the key)."""
    query = context["request"].GET.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None and value != "":
            query[key] = value
    return "?" + query.urlencode() if query else "?"


@register.simple_tag(takes_context=True)
def query_page(context: Any, param: str, number: int) -> str:
    """The current query string asking for page `number` through the parameter `param`."""
    return str(query_with(context, **{param: number}))


@register.simple_tag
def options(choices: Any, chosen: Any = None) -> Any:
    """`{% options teams team %}`: an <option> per (value, label) pair, the one whose value is
    `chosen`'s pk selected; written in Python, as a company's thousand teams would take a
    template loop 50 ms."""
    from attain.web.forms import option_tags

    chosen_pk = getattr(chosen, "pk", None)
    return option_tags(choices, set() if chosen_pk is None else {str(chosen_pk)})
