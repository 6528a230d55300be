"""Top-down quota allocation: splitting a team number into personal quotas, to the cent.

Methods (the weight w_i of each member i; the shares are T x w_i / sum(w)):

- **even**: w_i = 1, everyone gets T / n.
- **last_share** ("by last period's share"): w_i = the member's credited bookings in the period of
  the same kind just before (from the latest performance run). Members who booked nothing get 0;
  when nobody booked anything the allocation is refused (use `even`).
- **capacity** ("by capacity, with ramp for new hires"): w_i = sum over the calendar months m
  overlapping the period of  employed_days(i, m ∩ P) / days(P) x ramp(i, m),  where
  ramp(i, m) = min(1, (k + 1) / (R_i + 1)) for the k-th month after the hire month (k = 0 in the
  hire month) and R_i = `Person.ramp_months` (ramp 1 when R_i = 0 or the hire date is unknown).
  A veteran employed all quarter has capacity 1; a hire with R = 2 starting on the first day of a
  quarter has (1/3 + 2/3 + 3/3) / 3 = 2/3 (taking months of equal length; days are exact).
- **manual**: amounts given per member; they must add up to T exactly.

Rounding (the remainder rule): each exact share is cut down to whole cents; the cents left over,
r = T - sum(cut shares) (0 <= r < n cents), go one each to the members with the largest cut-off
fractions (largest remainder method), ties broken by the order members are given in (the caller
sorts by name, then id). So the shares always add up to T to the cent, and no share is more than a
cent away from its exact value. Example: 100.00 even over 3 → 33.34, 33.33, 33.33.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

from attain.core.money import CENT
from attain.core.periods import add_months


@dataclass(frozen=True, slots=True)
class Member:
    """Who shares a team number: `hired_on`/`left_on` bound employment ([hired, left))."""

    person_id: int
    name: str
    hired_on: date | None = None
    left_on: date | None = None
    ramp_months: int = 0


def split_to_cents(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """`total` split in proportion to `weights`, each share in cents, adding up to `total` exactly
    (largest remainder; ties to the earlier weight).

    >>> split_to_cents(Decimal("100.00"), [Decimal(1)] * 3)
    [Decimal('33.34'), Decimal('33.33'), Decimal('33.33')]
    """
    weight_sum = sum(weights, Decimal(0))
    if weight_sum <= 0:
        raise ValueError("the weights add up to zero")
    exact = [total * w / weight_sum for w in weights]
    cut = [share.quantize(CENT, rounding=ROUND_DOWN) for share in exact]
    left_over = int((total - sum(cut, Decimal(0))) / CENT)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - cut[i]), i))
    for i in order[:left_over]:
        cut[i] += CENT
    return cut


def _ramp_fraction(member: Member, month: date) -> Fraction:
    if member.ramp_months <= 0 or member.hired_on is None:
        return Fraction(1)
    k = (month.year - member.hired_on.year) * 12 + month.month - member.hired_on.month
    if k < 0:
        return Fraction(0)
    return min(Fraction(1), Fraction(k + 1, member.ramp_months + 1))


def ramp_factor(member: Member, month: date) -> Decimal:
    """min(1, (k + 1) / (R + 1)) in the k-th month after the hire month (k = 0: hire month)."""
    ramp = _ramp_fraction(member, month)
    return Decimal(ramp.numerator) / Decimal(ramp.denominator)


def capacity(member: Member, start: date, end: date) -> Decimal:
    """The member's capacity in [start, end): employed days per month x ramp, over the period's
    days (1 for a ramped veteran employed throughout)."""
    total_days = (end - start).days
    weight = Fraction(0)  # exact until the one division at the end
    month = date(start.year, start.month, 1)
    while month < end:
        piece_start, piece_end = max(month, start), min(add_months(month, 1), end)
        employed_from = max(piece_start, member.hired_on or piece_start)
        employed_to = min(piece_end, member.left_on or piece_end)
        days = max(0, (employed_to - employed_from).days)
        if days:
            weight += days * _ramp_fraction(member, month)
        month = add_months(month, 1)
    return Decimal(weight.numerator) / Decimal(weight.denominator * total_days)
