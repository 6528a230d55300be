"""The payout section of a plan: pay timing, advances, clawbacks, draws and guarantees (parsed
and validated from the plan's `payout:` mapping into frozen dataclasses).

The section, with every key (all optional; an empty or missing section pays every earning in the
period it is earned, with no draw, guarantee or clawback):

    payout:
      timing: on_collection          # on_booking (default) | on_invoice | on_collection
      advance:                       # large deals: part on booking, the rest later
        deals_from: 100000           # a line whose credited amount is at least this
        share: 50%                   # paid on booking (between 0% and 100%, both excluded)
        remainder: on_collection     # on_invoice | on_collection (default: on_collection)
      clawback:
        on: [cancellation, churn]    # the events that claw back (default: [cancellation])
        within_days: 90              # event at most this many days after booking
        method: pro_rata             # full (default) | pro_rata (by days of the window unserved)
        max_per_period: 2000         # at most this much recovered per period (optional)
        max_share_of_earnings: 50%   # at most this share of a period's earnings (optional)
      draw:
        kind: recoverable            # recoverable | non_recoverable
        amount: 3000                 # the minimum paid per period while the draw runs
        periods: 6                   # the first N periods of the assignment (default: all)
        recovery:
          max_share_of_earnings: 50% # of the earnings above the draw, per period (default 100%)
        forgive_at_year_end: true    # an unrecovered balance is written off at plan-year end
      guarantee:
        amount: 5000                 # minimum payout per period for a ramping hire
        periods: 3                   # the first N periods of the assignment

Amounts are written in the plan currency with at most two decimals, like every amount of the
plan; the run converts them at the rate of the period's first month: draw, guarantee and
`max_per_period` into the payee's currency, `deals_from` into the company currency (the currency
of credited amounts, which it is compared with). Shares are percents with a `%` sign (`"50%"`),
as everywhere in the plan language. Every problem is reported, not just the first:
`parse_payout_rules` returns the rules it could read together with the list of `PlanProblem`s
(path such as `payout.draw.amount`, the value as written, what would be accepted); the rules are
only meaningful when that list is empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, cast

from attain.engine.compensation.problems import PlanProblem

PayTiming = Literal["on_booking", "on_invoice", "on_collection"]
ClawbackEvent = Literal["cancellation", "churn"]
ClawbackMethod = Literal["full", "pro_rata"]
DrawKind = Literal["recoverable", "non_recoverable"]

TIMINGS: Final = ("on_booking", "on_invoice", "on_collection")
REMAINDER_TIMINGS: Final = ("on_invoice", "on_collection")
CLAWBACK_EVENTS: Final = ("cancellation", "churn")
CLAWBACK_METHODS: Final = ("full", "pro_rata")
DRAW_KINDS: Final = ("recoverable", "non_recoverable")
MAX_WINDOW_DAYS: Final = 3660  # ten years: longer windows are a typo, not a policy
MAX_PERIODS: Final = 120
MAX_AMOUNT: Final = Decimal("9999999999999.99")
ONE: Final = Decimal(1)


@dataclass(frozen=True, slots=True)
class Advance:
    """Lines of deals with a credited amount of at least `deals_from` pay `share` on booking and
    the rest on `remainder`."""

    deals_from: Decimal
    share: Decimal  # a fraction, 0 < share < 1
    remainder: PayTiming = "on_collection"


@dataclass(frozen=True, slots=True)
class Clawback:
    """Earnings already paid on a booking come back when one of `on` happens at most
    `within_days` days after booking: all of it (`full`) or the unserved part of the window
    (`pro_rata`: paid x (within_days - days served) / within_days). Recovered from the person's
    later earnings, at most `max_per_period` and `max_share_of_earnings` of them per period."""

    within_days: int
    on: tuple[ClawbackEvent, ...] = ("cancellation",)
    method: ClawbackMethod = "full"
    max_per_period: Decimal | None = None
    max_share_of_earnings: Decimal | None = None  # a fraction, 0 < share <= 1


@dataclass(frozen=True, slots=True)
class Draw:
    """A payment topping the period's net earnings up to `amount` while it runs (the first
    `periods` periods of the assignment, or every period). A recoverable draw is owed back:
    later earnings above the draw repay it, at most `max_recovery_share` of them per period; with
    `forgive_at_year_end` what is still owed at the end of the plan year is written off."""

    kind: DrawKind
    amount: Decimal
    periods: int | None = None
    max_recovery_share: Decimal = ONE
    forgive_at_year_end: bool = False

    @property
    def recoverable(self) -> bool:
        return self.kind == "recoverable"


@dataclass(frozen=True, slots=True)
class Guarantee:
    """A ramping hire is paid at least `amount` in each of the first `periods` periods of the
    assignment; the top-up is never owed back."""

    amount: Decimal
    periods: int


@dataclass(frozen=True, slots=True)
class PayoutRules:
    """How a plan's earnings turn into money paid (see the module docstring for the text)."""

    timing: PayTiming = "on_booking"
    advance: Advance | None = None
    clawback: Clawback | None = None
    draw: Draw | None = None
    guarantee: Guarantee | None = None

    def to_data(self) -> dict[str, Any]:
        """The canonical `payout:` mapping (defaults left out; amounts and shares as text, so
        YAML never turns them into floats). `parse_payout_rules(rules.to_data(), ...)` gives
        `rules` back."""
        data: dict[str, Any] = {}
        if self.timing != "on_booking":
            data["timing"] = self.timing
        if self.advance is not None:
            data["advance"] = {"deals_from": _money_text(self.advance.deals_from),
                               "share": percent_text(self.advance.share),
                               "remainder": self.advance.remainder}
        if self.clawback is not None:
            claw = self.clawback
            claw_data: dict[str, Any] = {"on": list(claw.on), "within_days": claw.within_days,
                                         "method": claw.method}
            if claw.max_per_period is not None:
                claw_data["max_per_period"] = _money_text(claw.max_per_period)
            if claw.max_share_of_earnings is not None:
                claw_data["max_share_of_earnings"] = percent_text(claw.max_share_of_earnings)
            data["clawback"] = claw_data
        if self.draw is not None:
            draw = self.draw
            draw_data: dict[str, Any] = {"kind": draw.kind, "amount": _money_text(draw.amount)}
            if draw.periods is not None:
                draw_data["periods"] = draw.periods
            if draw.recoverable:
                if draw.max_recovery_share != ONE:
                    draw_data["recovery"] = {
                        "max_share_of_earnings": percent_text(draw.max_recovery_share)}
                if draw.forgive_at_year_end:
                    draw_data["forgive_at_year_end"] = True
            data["draw"] = draw_data
        if self.guarantee is not None:
            data["guarantee"] = {"amount": _money_text(self.guarantee.amount),
                                 "periods": self.guarantee.periods}
        return data

    def describe(self) -> list[str]:
        """The rules in plain words, one sentence each (for the plan document and diffs)."""
        words = {"on_booking": "when the deal is booked", "on_invoice": "when it is invoiced",
                 "on_collection": "when the customer has paid"}
        lines = [f"Earnings on a deal are paid {words[self.timing]}; other earnings in the "
                 "period they are earned."]
        if self.advance is not None:
            adv = self.advance
            lines.append(
                f"Deals credited at {_money_text(adv.deals_from)} or more pay "
                f"{percent_text(adv.share)} on booking and the rest {words[adv.remainder]}.")
        if self.clawback is not None:
            claw = self.clawback
            events = " or ".join("the deal is cancelled" if e == "cancellation"
                                 else "the customer churns" for e in claw.on)
            how = ("in full" if claw.method == "full"
                   else f"for the part of the {claw.within_days} days not served")
            limits = []
            if claw.max_per_period is not None:
                limits.append(f"at most {_money_text(claw.max_per_period)}")
            if claw.max_share_of_earnings is not None:
                limits.append(f"at most {percent_text(claw.max_share_of_earnings)} of earnings")
            limit = f" ({' and '.join(limits)} per period)" if limits else ""
            lines.append(
                f"If {events} within {claw.within_days} days of booking, what was paid on it "
                f"is clawed back {how}, recovered from later earnings{limit}.")
        if self.draw is not None:
            draw = self.draw
            span = (f"for the first {draw.periods} period(s)" if draw.periods is not None
                    else "every period")
            if draw.recoverable:
                forgive = (" What is still owed at plan-year end is forgiven."
                           if draw.forgive_at_year_end else "")
                lines.append(
                    f"A recoverable draw tops pay up to {_money_text(draw.amount)} {span}; "
                    f"it is repaid from earnings above the draw, at most "
                    f"{percent_text(draw.max_recovery_share)} of them per period.{forgive}")
            else:
                lines.append(f"A non-recoverable draw tops pay up to "
                             f"{_money_text(draw.amount)} {span}; it is never owed back.")
        if self.guarantee is not None:
            lines.append(f"A new hire is paid at least {_money_text(self.guarantee.amount)} "
                         f"in each of the first {self.guarantee.periods} period(s).")
        return lines


# --- parsing ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Reader:
    """Collects problems while reading one mapping at `path`."""

    problems: list[PlanProblem] = field(default_factory=list)

    def problem(self, path: str, value: object, reason: str) -> None:
        self.problems.append(PlanProblem(path=path, value=_shown(value), reason=reason))

    def mapping(self, value: object, path: str, allowed: Sequence[str]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.problem(path, value, f"expected a mapping with the keys {', '.join(allowed)}")
            return None
        for key in value:
            if key not in allowed:
                self.problem(f"{path}.{key}", value[key],
                             f"unknown key {key!r}; accepted keys: {', '.join(allowed)}")
        return cast(Mapping[str, Any], value)

    def choice(self, data: Mapping[str, Any], key: str, path: str, choices: Sequence[str],
               default: str | None = None) -> str | None:
        if key not in data:
            if default is None:
                self.problem(f"{path}.{key}", "", f"required; one of {', '.join(choices)}")
            return default
        value = data[key]
        if not isinstance(value, str) or value not in choices:
            self.problem(f"{path}.{key}", value, f"expected one of {', '.join(choices)}")
            return default
        return value

    def money(self, data: Mapping[str, Any], key: str, path: str, *,
              required: bool) -> Decimal | None:
        if key not in data:
            if required:
                self.problem(f"{path}.{key}", "", "required; an amount above 0 with at most "
                             "two decimals, e.g. 3000 or 2500.50")
            return None
        value = data[key]
        amount = _decimal(value)
        if amount is None:
            self.problem(f"{path}.{key}", value, "expected an amount such as 3000 or 2500.50")
            return None
        if amount <= 0 or amount > MAX_AMOUNT:
            self.problem(f"{path}.{key}", value,
                         f"expected an amount above 0 and at most {MAX_AMOUNT:,}")
            return None
        if amount != amount.quantize(Decimal("0.01")):
            self.problem(f"{path}.{key}", value, "an amount has at most two decimals (cents)")
            return None
        return amount.quantize(Decimal("0.01"))

    def share(self, data: Mapping[str, Any], key: str, path: str, *, required: bool,
              allow_whole: bool) -> Decimal | None:
        upper = "100% (included)" if allow_whole else "100% (excluded)"
        if key not in data:
            if required:
                self.problem(f"{path}.{key}", "", f"required; a percentage above 0% and up to "
                             f"{upper}, e.g. 50%")
            return None
        value = data[key]
        fraction = parse_share(value)
        if fraction is None:
            self.problem(f"{path}.{key}", value,
                         'expected a percent with a % sign, like "50%" or "12.5%"')
            return None
        if fraction <= 0 or fraction > ONE or (fraction == ONE and not allow_whole):
            self.problem(f"{path}.{key}", value, f"expected above 0% and up to {upper}")
            return None
        if fraction != fraction.quantize(Decimal("0.000001")):
            self.problem(f"{path}.{key}", value, "at most four decimals of a percent")
            return None
        return fraction

    def count(self, data: Mapping[str, Any], key: str, path: str, *, required: bool,
              maximum: int, what: str) -> int | None:
        if key not in data:
            if required:
                self.problem(f"{path}.{key}", "", f"required; a whole number of {what} from 1 "
                             f"to {maximum}")
            return None
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
            self.problem(f"{path}.{key}", value,
                         f"expected a whole number of {what} from 1 to {maximum}")
            return None
        return value


PAYOUT_KEYS: Final = ("timing", "advance", "clawback", "draw", "guarantee")
ADVANCE_KEYS: Final = ("deals_from", "share", "remainder")
CLAWBACK_KEYS: Final = ("on", "within_days", "method", "max_per_period", "max_share_of_earnings")
DRAW_KEYS: Final = ("kind", "amount", "periods", "recovery", "forgive_at_year_end")
RECOVERY_KEYS: Final = ("max_share_of_earnings",)
GUARANTEE_KEYS: Final = ("amount", "periods")


def parse_payout_rules(data: Mapping[str, Any] | None, path: str = "payout"
                       ) -> tuple[PayoutRules, list[PlanProblem]]:
    """Read a plan's `payout:` mapping (None or empty: the defaults) at `path`.

    Returns the rules and every problem found; with problems, the rules hold the defaults where
    a value could not be read, so callers must refuse the plan when the list is not empty.

    >>> rules, problems = parse_payout_rules({"timing": "on_invoice",
    ...                                       "draw": {"kind": "recoverable", "amount": 1000}})
    >>> rules.timing, rules.draw.amount, problems
    ('on_invoice', Decimal('1000.00'), [])
    """
    reader = _Reader()
    if data is None:
        return PayoutRules(), []
    section = reader.mapping(data, path, PAYOUT_KEYS)
    if section is None:
        return PayoutRules(), reader.problems
    timing = cast(PayTiming, reader.choice(section, "timing", path, TIMINGS, "on_booking"))
    advance = (_advance(reader, section["advance"], f"{path}.advance",
                        section.get("timing", "on_booking"))
               if section.get("advance") is not None else None)
    clawback = (_clawback(reader, section["clawback"], f"{path}.clawback")
                if section.get("clawback") is not None else None)
    draw = (_draw(reader, section["draw"], f"{path}.draw")
            if section.get("draw") is not None else None)
    guarantee = (_guarantee(reader, section["guarantee"], f"{path}.guarantee")
                 if section.get("guarantee") is not None else None)
    rules = PayoutRules(timing=timing, advance=advance, clawback=clawback, draw=draw,
                        guarantee=guarantee)
    return rules, reader.problems


def _advance(reader: _Reader, value: object, path: str, timing: object) -> Advance | None:
    data = reader.mapping(value, path, ADVANCE_KEYS)
    if data is None:
        return None
    before = len(reader.problems)
    deals_from = reader.money(data, "deals_from", path, required=True)
    share = reader.share(data, "share", path, required=True, allow_whole=False)
    remainder = reader.choice(data, "remainder", path, REMAINDER_TIMINGS, "on_collection")
    if timing == "on_booking" and "remainder" not in data:
        reader.problem(path, "", "an advance pays part of a deal on booking before the rest; "
                       "with timing on_booking everything is paid on booking already — set "
                       "timing to on_invoice or on_collection, or name the remainder's timing")
    if len(reader.problems) > before or deals_from is None or share is None:
        return None
    return Advance(deals_from=deals_from, share=share,
                   remainder=cast(PayTiming, remainder))


def _clawback(reader: _Reader, value: object, path: str) -> Clawback | None:
    data = reader.mapping(value, path, CLAWBACK_KEYS)
    if data is None:
        return None
    before = len(reader.problems)
    events: tuple[ClawbackEvent, ...] = ("cancellation",)
    if "on" in data:
        raw = data["on"]
        items = [raw] if isinstance(raw, str) else raw
        if (not isinstance(items, list) or not items
                or any(not isinstance(item, str) or item not in CLAWBACK_EVENTS
                       for item in items)):
            reader.problem(f"{path}.on", raw, "expected a list of events from: "
                           f"{', '.join(CLAWBACK_EVENTS)}, e.g. [cancellation, churn]")
        elif len(set(items)) != len(items):
            reader.problem(f"{path}.on", raw, "each event may be listed once")
        else:
            events = tuple(cast(ClawbackEvent, item) for item in items)
    within = reader.count(data, "within_days", path, required=True, maximum=MAX_WINDOW_DAYS,
                          what="days")
    method = reader.choice(data, "method", path, CLAWBACK_METHODS, "full")
    cap = reader.money(data, "max_per_period", path, required=False)
    share = reader.share(data, "max_share_of_earnings", path, required=False, allow_whole=True)
    if len(reader.problems) > before or within is None:
        return None
    return Clawback(within_days=within, on=events, method=cast(ClawbackMethod, method),
                    max_per_period=cap, max_share_of_earnings=share)


def _draw(reader: _Reader, value: object, path: str) -> Draw | None:
    data = reader.mapping(value, path, DRAW_KEYS)
    if data is None:
        return None
    before = len(reader.problems)
    kind = reader.choice(data, "kind", path, DRAW_KINDS)
    amount = reader.money(data, "amount", path, required=True)
    periods = reader.count(data, "periods", path, required=False, maximum=MAX_PERIODS,
                           what="periods")
    recovery_share = ONE
    if data.get("recovery") is not None:
        if kind == "non_recoverable":
            reader.problem(f"{path}.recovery", data["recovery"],
                           "a non-recoverable draw is never repaid; remove `recovery` or make "
                           "the draw recoverable")
        else:
            recovery = reader.mapping(data["recovery"], f"{path}.recovery", RECOVERY_KEYS)
            if recovery is not None:
                share = reader.share(recovery, "max_share_of_earnings", f"{path}.recovery",
                                     required=True, allow_whole=True)
                recovery_share = share if share is not None else ONE
    forgive = False
    if "forgive_at_year_end" in data:
        raw = data["forgive_at_year_end"]
        if not isinstance(raw, bool):
            reader.problem(f"{path}.forgive_at_year_end", raw, "expected true or false")
        elif raw and kind == "non_recoverable":
            reader.problem(f"{path}.forgive_at_year_end", raw,
                           "only a recoverable draw leaves a balance to forgive")
        else:
            forgive = raw
    if len(reader.problems) > before or kind is None or amount is None:
        return None
    return Draw(kind=cast(DrawKind, kind), amount=amount, periods=periods,
                max_recovery_share=recovery_share, forgive_at_year_end=forgive)


def _guarantee(reader: _Reader, value: object, path: str) -> Guarantee | None:
    data = reader.mapping(value, path, GUARANTEE_KEYS)
    if data is None:
        return None
    before = len(reader.problems)
    amount = reader.money(data, "amount", path, required=True)
    periods = reader.count(data, "periods", path, required=True, maximum=MAX_PERIODS,
                           what="periods")
    if len(reader.problems) > before or amount is None or periods is None:
        return None
    return Guarantee(amount=amount, periods=periods)


# --- values -------------------------------------------------------------------------------------


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))  # what was written (YAML reads 0.1 as the float 0.1)
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def parse_share(value: object) -> Decimal | None:
    """A share written as a percent, as a fraction: `"50%"` → 0.5, `"12.5%"` → 0.125; None
    when the value is not a percent (a bare `50` or `0.5` is refused: no guessing whether 0.5
    means 50% or 0.5%; the plan language writes every percent with `%`)."""
    if not isinstance(value, str) or not value.strip().endswith("%"):
        return None
    number = _decimal(value.strip()[:-1])
    return None if number is None else number / 100


def percent_text(fraction: Decimal) -> str:
    """0.5 → "50%", 0.125 → "12.5%"."""
    text = format((fraction * 100).normalize(), "f")
    return f"{text}%"


def _money_text(amount: Decimal) -> str:
    return format(amount.quantize(Decimal("0.01")), "f")


def _shown(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping | list):
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return str(value)


# --- published schema ---------------------------------------------------------------------------

_AMOUNT: dict[str, Any] = {
    "description": "An amount in the plan currency, above 0, at most two decimals.",
    "oneOf": [{"type": "number", "exclusiveMinimum": 0},
              {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$"}],
}
_SHARE: dict[str, Any] = {
    "description": "A percent with a % sign, such as \"50%\" or \"12.5%\".",
    "type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?%$",
}
_PERIODS: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_PERIODS}

PAYOUT_JSON_SCHEMA: Final[dict[str, Any]] = {
    "title": "Payout rules",
    "description": "How earnings turn into money paid: timing, advances, clawbacks, draws, "
                   "guarantees.",
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {
        "timing": {"enum": list(TIMINGS),
                   "description": "When a deal's earnings become payable (default on_booking)."},
        "advance": {
            "type": "object", "additionalProperties": False,
            "required": ["deals_from", "share"],
            "properties": {
                "deals_from": {**_AMOUNT, "description": "Lines credited at least this amount."},
                "share": {**_SHARE, "description": "Share paid on booking (below 100%)."},
                "remainder": {"enum": list(REMAINDER_TIMINGS)},
            },
        },
        "clawback": {
            "type": "object", "additionalProperties": False,
            "required": ["within_days"],
            "properties": {
                "on": {"type": "array", "minItems": 1, "uniqueItems": True,
                       "items": {"enum": list(CLAWBACK_EVENTS)}},
                "within_days": {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_DAYS},
                "method": {"enum": list(CLAWBACK_METHODS)},
                "max_per_period": _AMOUNT,
                "max_share_of_earnings": _SHARE,
            },
        },
        "draw": {
            "type": "object", "additionalProperties": False,
            "required": ["kind", "amount"],
            "properties": {
                "kind": {"enum": list(DRAW_KINDS)},
                "amount": _AMOUNT,
                "periods": _PERIODS,
                "recovery": {
                    "type": "object", "additionalProperties": False,
                    "required": ["max_share_of_earnings"],
                    "properties": {"max_share_of_earnings": _SHARE},
                },
                "forgive_at_year_end": {"type": "boolean"},
            },
        },
        "guarantee": {
            "type": "object", "additionalProperties": False,
            "required": ["amount", "periods"],
            "properties": {"amount": _AMOUNT, "periods": _PERIODS},
        },
    },
}

__all__ = [
    "PAYOUT_JSON_SCHEMA", "Advance", "Clawback", "Draw", "Guarantee", "PayTiming", "PayoutRules",
    "parse_payout_rules", "parse_share", "percent_text",
]
