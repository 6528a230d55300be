"""Money: an exact Decimal amount with its ISO 4217 currency, and the one rounding rule."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
# 15 significant digits: exact on SQLite too, which hands decimals back through a double
# (up to 9,999,999,999,999.99 — ADR 0004).
MONEY_DIGITS = 15
MONEY_PLACES = 2
RATE_DIGITS = 15
RATE_PLACES = 8


def round_money(value: Decimal) -> Decimal:
    """Round to cents with banker's rounding, the single rounding point for stored amounts.

    >>> round_money(Decimal("2.345")), round_money(Decimal("2.355"))
    (Decimal('2.34'), Decimal('2.36'))
    """
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money amount must be Decimal, got {type(self.amount).__name__}")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"Currency must be a 3-letter ISO 4217 code, got {self.currency!r}")

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"Cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount:,.2f} {self.currency}"
