"""Engine errors, with structured detail so the page, the API and the CLI can each show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


class EngineError(Exception):
    """A calculation refused its inputs; the message says what to fix."""


class SchemaError(EngineError, ValueError):
    """An input table does not fit its logical schema; names the table and the column."""

    def __init__(self, message: str, *, table: str, column: str = "") -> None:
        super().__init__(message)
        self.table = table
        self.column = column


@dataclass(frozen=True, slots=True)
class MissingRate:
    currency: str
    month_start: date
    booking_count: int

    def __str__(self) -> str:
        plural = "" if self.booking_count == 1 else "s"
        return f"{self.currency} in {self.month_start:%Y-%m} ({self.booking_count} booking{plural})"


class MissingExchangeRateError(EngineError):
    """Bookings in a currency and month that has no exchange rate: the run fails, rather than
    leaving those bookings out of every total."""

    def __init__(self, missing: list[MissingRate]) -> None:
        self.missing = missing
        shown = "; ".join(str(m) for m in missing[:10])
        more = f"; and {len(missing) - 10} more" if len(missing) > 10 else ""
        super().__init__(
            f"No exchange rate for {shown}{more}. Add a rate for each currency and month that "
            "has bookings (the company currency at 1)."
        )


class DuplicateKeyError(EngineError):
    """A table holds two rows for one key (e.g. two rates for EUR in one month)."""

    def __init__(self, table: str, key: tuple[str, ...], example: dict[str, object],
                 count: int) -> None:
        self.table = table
        self.key = key
        self.example = example
        shown = ", ".join(f"{k}={v}" for k, v in example.items())
        super().__init__(
            f"Table {table!r} has {count} rows for {shown}; each "
            f"({', '.join(key)}) may appear once."
        )
