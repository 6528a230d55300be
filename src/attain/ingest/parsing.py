"""Parsing of the values people put in CRM exports and spreadsheets: dates, instants, amounts,
numbers and flags. Pure functions; each raises `ValueProblem` with a reason a person can act on.

Dates: ISO (`2026-03-15`, `2026/03/15`), and day-month-year forms with `/`, `.` or `-`
(`3/15/2026`, `15.03.2026`) read in the declared order, `mdy` or `dmy`. Which of the two a
file uses can be inferred (`date_order_evidence`): a first part above 12 proves `dmy`, a second
part above 12 proves `mdy`; a file whose every date fits both is ambiguous and must be declared.

Amounts: `$1,234.50`, `1.234,50 €`, `(300.00)`, `-12`, `EUR 5 000,00`, `1'234.50` → Decimal,
plus the currency a code or an unambiguous symbol names. With both `.` and `,` present the last
one is the decimal separator; a lone separator followed by exactly three digits (`1,234`) is
read with the file's decimal separator, which is declared or inferred like the date order.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum


class ValueProblem(ValueError):
    """A value that cannot be read; the message says why and what would be accepted."""


class DateOrder(StrEnum):
    AUTO = "auto"
    MDY = "mdy"
    DMY = "dmy"


DATE_ORDER_LABELS = {DateOrder.AUTO: "infer from the file", DateOrder.MDY: "m/d/yyyy",
                     DateOrder.DMY: "d/m/yyyy"}

_ISO_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_DMY_LIKE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_TIME = re.compile(
    r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*([AaPp][Mm])?\s*"
    r"(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"
)
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_NAMED_DATE = re.compile(r"^(\d{1,2})[ -]([A-Za-z]{3})[A-Za-z]*\.?[ -,]*(\d{4})$")
_NAMED_DATE_US = re.compile(r"^([A-Za-z]{3})[A-Za-z]*\.? (\d{1,2}),? (\d{4})$")

DATE_FORMS = "yyyy-mm-dd, m/d/yyyy or d/m/yyyy (as declared), or 15 Mar 2026"


def _make_date(year: int, month: int, day: int, raw: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueProblem(f"{raw!r} is not a calendar date") from None


def date_order_evidence(raw: str) -> DateOrder | None:
    """`dmy` or `mdy` when `raw` can only be read one way, else None (ISO, ambiguous, not a
    date). `date_order_evidence("15/03/2026")` is `dmy`; `"03/04/2026"` proves nothing."""
    match = _DMY_LIKE.match(raw.strip().split(" ")[0].split("T")[0])
    if not match:
        return None
    first, second = int(match.group(1)), int(match.group(2))
    if first > 12 >= second:
        return DateOrder.DMY
    if second > 12 >= first:
        return DateOrder.MDY
    return None


def parse_date(raw: str, order: DateOrder | str = DateOrder.MDY) -> date:
    """A business date. `parse_date("3/4/2026", "dmy") == date(2026, 4, 3)`.

    A value with a time part (`2026-03-15T10:00:00Z`) gives its date as written.
    """
    text = raw.strip()
    if not text:
        raise ValueProblem("a date is required")
    head = re.split(r"[T ]", text, maxsplit=1)[0] if not _NAMED_DATE.match(text) and not \
        _NAMED_DATE_US.match(text) else text
    match = _ISO_DATE.match(head)
    if match:
        return _make_date(int(match.group(1)), int(match.group(2)), int(match.group(3)), raw)
    match = _DMY_LIKE.match(head)
    if match:
        first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if order == DateOrder.AUTO:
            raise ValueProblem(f"{raw!r} needs a declared date order (m/d/yyyy or d/m/yyyy)")
        if order == DateOrder.DMY:
            return _make_date(year, second, first, raw)
        return _make_date(year, first, second, raw)
    for pattern, day_group, month_group in ((_NAMED_DATE, 1, 2), (_NAMED_DATE_US, 2, 1)):
        match = pattern.match(text)
        if match:
            month = _MONTHS.get(match.group(month_group)[:3].lower())
            if month is None:
                break
            return _make_date(int(match.group(3)), month, int(match.group(day_group)), raw)
    raise ValueProblem(f"{raw!r} is not a date; use {DATE_FORMS}")


def _offset(text: str | None, default: tzinfo) -> tzinfo:
    if not text:
        return default
    if text in {"Z", "UTC", "GMT"}:
        return UTC
    sign = 1 if text[0] == "+" else -1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        raise ValueProblem(f"{text!r} is not a time zone offset")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_datetime(raw: str, order: DateOrder | str, default_zone: tzinfo) -> datetime:
    """An aware instant. An offset in the value wins (`2026-03-15T10:00:00.000+0000`,
    `2026-03-15 10:00+02:00`, `...Z`); without one the company's zone `default_zone` applies; a
    bare date is midnight there. `3/15/2026 4:05 PM` is read with `order`."""
    text = raw.strip()
    if not text:
        raise ValueProblem("a date and time is required")
    parts = re.split(r"[T ]", text, maxsplit=1)
    day_part, time_part = parts[0], (parts[1].strip() if len(parts) > 1 else "")
    if _NAMED_DATE.match(text) or _NAMED_DATE_US.match(text):
        day_part, time_part = text, ""
    # An offset glued to a date-only value ("2026-03-15Z") is not a thing exports write.
    day = parse_date(day_part, order)
    if not time_part:
        return datetime.combine(day, time.min, tzinfo=default_zone)
    match = _TIME.match(time_part)
    if not match:
        raise ValueProblem(f"{raw!r} has an unreadable time {time_part!r}; use hh:mm[:ss] with "
                           "an optional AM/PM and offset such as +02:00 or Z")
    hour, minute = int(match.group(1)), int(match.group(2))
    second = int(match.group(3) or 0)
    fraction = (match.group(4) or "").ljust(6, "0")[:6]
    meridiem = (match.group(5) or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            raise ValueProblem(f"{raw!r}: {hour} is not an hour on a 12-hour clock")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueProblem(f"{raw!r} is not a time of day")
    zone = _offset(match.group(6), default_zone)
    return datetime.combine(day, time(hour, minute, second, int(fraction)), tzinfo=zone)


# --- amounts ------------------------------------------------------------------------------------

# Symbols that name one currency; "$" is left out (USD, CAD, AUD …): a column or default decides.
CURRENCY_SYMBOLS = {"€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB",
                    "CHF": "CHF", "R$": "BRL", "A$": "AUD", "C$": "CAD", "US$": "USD"}
_ANY_SYMBOL = "$€£¥₹₩₽"
_CODE = re.compile(r"^[A-Z]{3}$")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
_NUMBER = re.compile(r"^\d[\d.,]*$|^[.,]\d+$")
_PLAIN_POINT = re.compile(r"^-?\d{1,15}(?:\.\d{1,12})?$")
_PLAIN_COMMA = re.compile(r"^-?\d{1,15}(?:,\d{1,12})?$")
_SIMPLE_NUMBER = re.compile(r"^-?\d+(?:\.(\d+))?$")
_SYMBOLS_LONGEST_FIRST = sorted(CURRENCY_SYMBOLS, key=len, reverse=True)


def _strip_currency(text: str) -> tuple[str, str | None]:
    currency = None
    for symbol in _SYMBOLS_LONGEST_FIRST:
        if text.startswith(symbol) or text.endswith(symbol):
            currency = CURRENCY_SYMBOLS[symbol]
            text = text[len(symbol):] if text.startswith(symbol) else text[: -len(symbol)]
            return text.strip(), currency
    head, _, tail = text.partition(" ")
    if _CODE.match(head) and tail:
        return tail.strip(), head
    head, _, tail = text.rpartition(" ")
    if _CODE.match(tail) and head:
        return head.strip(), tail
    if len(text) > 3 and _CODE.match(text[:3]) and not text[3].isalpha():
        return text[3:].strip(), text[:3]
    if len(text) > 3 and _CODE.match(text[-3:]) and not text[-4].isalpha():
        return text[:-3].strip(), text[-3:]
    if text[:1] in _ANY_SYMBOL:
        return text[1:].strip(), None
    if text[-1:] in _ANY_SYMBOL:
        return text[:-1].strip(), None
    return text, None


def _unsigned(text: str) -> tuple[str, bool]:
    """(text without its sign or parentheses, negative?)"""
    negative = False
    if text.startswith("(") and text.endswith(")"):
        return text[1:-1].strip(), True
    if text.startswith("-") or text.startswith("\u2212"):
        negative, text = True, text[1:].strip()
    elif text.startswith("+"):
        text = text[1:].strip()
    elif text.endswith("-"):
        negative, text = True, text[:-1].strip()
    return text, negative


def _number_body(raw: str) -> tuple[str, bool, str | None]:
    text = raw.strip()
    text, negative = _unsigned(text)
    text, currency = _strip_currency(text)
    if not negative:
        text, negative = _unsigned(text)
    return _SPACES.sub("", text), negative, currency


def decimal_separator_evidence(raw: str) -> str | None:
    """"," or "." when `raw` shows which is the decimal separator, else None.
    `"1.234,56"` and `"12,5"` prove ","; `"1,234.56"` and `"12.5"` prove "."; `"1,234"` and
    `"1234"` prove nothing."""
    simple = _SIMPLE_NUMBER.match(raw)  # most cells: digits with at most one decimal point
    if simple:
        fraction = simple.group(1)
        return "." if fraction is not None and len(fraction) != 3 else None
    body, _, _ = _number_body(raw)
    if not _NUMBER.match(body):
        return None
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        return "." if body.rfind(".") > body.rfind(",") else ","
    for sep, count in ((".", dots), (",", commas)):
        if count == 1:
            digits_after = len(body) - body.find(sep) - 1
            if digits_after != 3:
                return sep
        elif count > 1:
            return "," if sep == "." else "."
    return None


def _grouped(integer: str, sep: str) -> bool:
    groups = integer.split(sep)
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def parse_decimal(raw: str, decimal_separator: str = ".") -> tuple[Decimal, str | None]:
    """(value, currency named in the value or None).

    >>> parse_decimal("(1.234,50 €)", ",")
    (Decimal('-1234.50'), 'EUR')
    """
    plain = _PLAIN_POINT if decimal_separator == "." else _PLAIN_COMMA
    if plain.match(raw):
        return Decimal(raw.replace(",", ".")), None
    body, negative, currency = _number_body(raw)
    if not body:
        raise ValueProblem("a number is required")
    if not _NUMBER.match(body):
        raise ValueProblem(f"{raw!r} is not an amount; use digits with an optional currency, "
                           "thousands separators, a decimal point or comma, and - or ( ) for "
                           "negatives")
    thousands = "," if decimal_separator == "." else "."
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        decimal_sep = "." if body.rfind(".") > body.rfind(",") else ","
        if decimal_sep != decimal_separator and body.count(decimal_sep) == 1:
            thousands = "," if decimal_sep == "." else "."
        else:
            decimal_sep = decimal_separator
    else:
        decimal_sep = decimal_separator
        only = "." if dots else ","
        count = dots or commas
        if count and only != decimal_separator:
            # a lone foreign separator: thousands when grouped by three, else a decimal mark
            if not _grouped(body, only):
                if count == 1:
                    raise ValueProblem(
                        f"{raw!r} uses {only!r} as a decimal separator but this file's decimal "
                        f"separator is {decimal_separator!r}")
                raise ValueProblem(f"{raw!r} has misplaced thousands separators")
        elif count > 1:
            raise ValueProblem(f"{raw!r} has more than one decimal separator")
    integer, _, fraction = body.partition(decimal_sep)
    if thousands in fraction or decimal_sep in fraction:
        raise ValueProblem(f"{raw!r} has a separator after the decimal separator")
    if thousands in integer:
        if not _grouped(integer, thousands):
            raise ValueProblem(f"{raw!r} has misplaced thousands separators")
        integer = integer.replace(thousands, "")
    try:
        value = Decimal(f"{integer or '0'}.{fraction or '0'}")
    except InvalidOperation:
        raise ValueProblem(f"{raw!r} is not an amount") from None
    if not fraction:
        value = value.quantize(Decimal(1))
    return (-value if negative else value), currency


def parse_int(raw: str) -> int:
    text = raw.strip()
    try:
        value = Decimal(text.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        raise ValueProblem(f"{raw!r} is not a whole number") from None
    if value != value.to_integral_value():
        raise ValueProblem(f"{raw!r} is not a whole number")
    return int(value)


TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "won", "x", "✓", "checked"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "", "unchecked"})


def parse_bool(raw: str) -> bool:
    """TRUE/FALSE, yes/no, 1/0 (any case); an empty cell is false."""
    text = raw.strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueProblem(f"{raw!r} is not true or false; use TRUE/FALSE, yes/no or 1/0")
