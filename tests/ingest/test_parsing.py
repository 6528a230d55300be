"""Parsers of amounts, dates and instants: worked examples and Hypothesis properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attain.ingest.parsing import (
    ValueProblem,
    date_order_evidence,
    decimal_separator_evidence,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_decimal,
)

amounts = st.decimals(min_value=Decimal("-9999999999999.99"), max_value=Decimal(
    "9999999999999.99"), places=2, allow_nan=False, allow_infinity=False)


def us_text(value: Decimal) -> str:
    return f"{value:,.2f}"


def european_text(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


@pytest.mark.parametrize(("text", "separator", "expected"), [
    ("1234.50", ".", (Decimal("1234.50"), None)),
    ("$1,234.50", ".", (Decimal("1234.50"), None)),
    ("(1,200.00)", ".", (Decimal("-1200.00"), None)),
    ("-12", ".", (Decimal("-12"), None)),
    ("1.234,56 €", ",", (Decimal("1234.56"), "EUR")),
    ("EUR 5 000,00", ",", (Decimal("5000.00"), "EUR")),
    ("USD 1,250.00", ".", (Decimal("1250.00"), "USD")),
    ("£99", ".", (Decimal("99"), "GBP")),
    ("1'234.50", ".", (Decimal("1234.50"), None)),
    ("1,234", ".", (Decimal("1234"), None)),
    ("1,234", ",", (Decimal("1.234"), None)),
    ("1.234", ",", (Decimal("1234"), None)),
    ("1,234.56", ",", (Decimal("1234.56"), None)),  # both marks: the last one is the decimal
])
def test_amounts_in_the_forms_exports_write(text, separator, expected):
    assert parse_decimal(text, separator) == expected


@pytest.mark.parametrize(("text", "separator", "reason"), [
    ("12,5", ".", "uses ',' as a decimal separator but this file's decimal separator is '.'"),
    ("1,23,4", ".", "misplaced thousands separators"),
    ("abc", ".", "is not an amount"),
    ("1.2.3", ".", "more than one decimal separator"),
])
def test_unreadable_amounts_say_why(text, separator, reason):
    with pytest.raises(ValueProblem, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_decimal(text, separator)


@given(amounts)
def test_us_formatted_amounts_read_back_exactly(value):
    assert parse_decimal(us_text(value), ".")[0] == value


@given(amounts)
def test_european_formatted_amounts_read_back_exactly(value):
    assert parse_decimal(european_text(value), ",")[0] == value


@given(amounts)
def test_parentheses_and_minus_mean_the_same(value):
    text = f"{abs(value):,.2f}"
    assert parse_decimal(f"({text})", ".")[0] == parse_decimal(f"-{text}", ".")[0] == -abs(value)


@given(amounts.filter(lambda v: abs(v) >= 1000 and v != v.to_integral_value()))
def test_grouped_amounts_with_cents_prove_their_decimal_separator(value):
    assert decimal_separator_evidence(us_text(value)) == "."
    assert decimal_separator_evidence(european_text(value)) == ","


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)))
def test_dates_read_back_in_every_form(day):
    assert parse_date(day.isoformat(), "mdy") == day
    assert parse_date(f"{day.month}/{day.day}/{day.year}", "mdy") == day
    assert parse_date(f"{day.day}/{day.month}/{day.year}", "dmy") == day
    assert parse_date(f"{day.day:02d}.{day.month:02d}.{day.year}", "dmy") == day


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)))
def test_date_order_evidence_never_contradicts_the_truth(day):
    us = date_order_evidence(f"{day.month}/{day.day}/{day.year}")
    eu = date_order_evidence(f"{day.day}/{day.month}/{day.year}")
    assert us in (None, "mdy") and eu in (None, "dmy")
    assert (us is None) == (day.day <= 12)


def test_dates_that_are_not_dates():
    with pytest.raises(ValueProblem, match="'2/30/2026' is not a calendar date"):
        parse_date("2/30/2026", "mdy")
    with pytest.raises(ValueProblem, match="needs a declared date order"):
        parse_date("3/4/2026", "auto")
    assert parse_date("15 Mar 2026") == date(2026, 3, 15)


# naive bounds: Hypothesis draws wall-clock times; the offset is attached below
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)),  # noqa: DTZ001
       st.integers(min_value=-12 * 60, max_value=14 * 60))
def test_instants_with_offsets_are_aware_and_exact(moment, minutes):
    zone = timezone(timedelta(minutes=minutes))
    moment = moment.replace(microsecond=0, tzinfo=zone)
    assert parse_datetime(moment.isoformat(), "mdy", UTC) == moment


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-05T09:30:00.000+0000", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
    ("2026-01-05T09:30:00Z", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
    ("2026-01-05 09:30+02:00", datetime(2026, 1, 5, 7, 30, tzinfo=UTC)),
    ("1/5/2026 4:05 PM", datetime(2026, 1, 5, 16, 5, tzinfo=UTC)),
    ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),
])
def test_instants_in_export_forms(text, expected):
    parsed = parse_datetime(text, "mdy", UTC)
    assert parsed == expected and parsed.tzinfo is not None


def test_flags():
    assert [parse_bool(v) for v in ["TRUE", "false", "Yes", "0", ""]] == [
        True, False, True, False, False]
    with pytest.raises(ValueProblem, match="is not true or false"):
        parse_bool("maybe")
