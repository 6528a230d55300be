"""Compensation plan definitions: YAML text → validated, frozen `Plan`; canonical text; diffs.

A plan is structured text. `parse_plan(text)` reads it (YAML 1.1, exact decimals), checks it
against the published JSON Schema (`PLAN_JSON_SCHEMA`, shipped as `plan.schema.json`), then
checks its meaning (tiers that overlap or leave gaps, rates that apply to nothing, credit kinds
the crediting section never produces, shares of target incentive above 100 %, …). Every problem
is collected and raised together as `PlanDefinitionError(problems)`; each `PlanProblem` names the
path (`components[1].tiers.bands[2].from`), the value, what would be accepted and the line.
Schema problems are reported first and on their own: the meaning is only checked once the shape
is right.

Complete example (every section; the comments are part of valid plan text)::

    plan: AE quota plan FY2027            # the plan's name
    description: Account executives, 75 % individual / 25 % team
    currency: USD                         # amounts written in the plan (caps, bonuses) are USD
    period: quarter                       # month | quarter | year: the pay period
    plan_year_start_month: 1              # the plan year (caps, YTD, annual bonus) starts in Jan
    rounding: {mode: half_even}           # the one rounding point: each earning line, to cents
    proration: {method: days}             # mid-period start/leave/plan change: by days in force
    crediting:
      owner: true                         # the booking's owner gets 100 % credit…
      splits: true                        # …unless the opportunity has revenue splits (sum 100 %)
      roll_up: {levels: 2}                # managers up to 2 levels above get roll_up credit
      multi_year: {year_percents: ["100%", "50%", "25%"]}   # credit per contract year
      partner: {basis: net, uplift: "10%"}  # partner deals: net value + 10 %
    components:
      - name: Individual commission
        kind: commission
        credits: [owner, split]           # which credits count (owner, split, overlay, roll_up)
        measurement: period               # period | ytd (attainment measured year to date)
        rate: "5%"                        # base rate on credited amount
        rates:                            # overrides of the base rate, first match wins
          - {deal_type: renewal, rate: "2%"}
          - {product_family: Services, rate: "3%"}
        tiers:                            # accelerators / decelerators on attainment
          basis: attainment               # attainment (credited / quota) | amount (credited)
          mode: marginal                  # marginal: each slice at its band's rate;
                                          # retroactive: the reached band's rate on everything
          bands:
            - {from: "0%", to: "100%", multiplier: 1}
            - {from: "100%", to: "125%", rate: "6%"}
            - {from: "125%", rate: "7%"}  # the last band is open-ended
        threshold: "50%"                  # nothing is paid below 50 % attainment
        caps: {per_line: 20000, per_period: 60000, per_plan_year: 200000}
      - name: Team attainment
        kind: team                        # 25 % of target incentive x team attainment
        share_of_target_incentive: "25%"
        tiers:
          basis: attainment
          mode: retroactive
          bands:
            - {from: "0%", to: "100%", multiplier: 1}
            - {from: "100%", multiplier: "1.5"}
        caps: {per_period: 15000}
      - name: Quarterly quota bonus
        kind: bonus
        on: individual                    # individual | team (a team-goal bonus)
        measurement: period               # period | ytd | plan_year (annual bonus)
        step: [{at: "100%", amount: 2000}, {at: "120%", amount: 4000}]   # highest step reached
      - name: Annual overachievement bonus
        kind: bonus
        measurement: plan_year            # paid in the period that ends the plan year
        linear:                           # a line between two points: nothing below `from`,
          from: {attainment: "100%", amount: 0}   # the `to` amount above `to`
          to: {attainment: "150%", amount: 10000}
      - name: Security SPIFF Q1
        kind: spiff
        from: 2027-01-01                  # half-open window [from, to) on the booking date
        to: 2027-04-01
        where: {product_family: [Security], deal_type: [new]}
        amount_per_deal: 500              # or rate: "2%"
      - name: Objectives
        kind: mbo                         # amounts entered by managers (manual lines)
        max_amount: 5000
    payout:                               # pay timing, advances, clawbacks, draws, guarantees:
      timing: on_collection               # see attain.engine.compensation.payout_rules
      clawback: {on: [cancellation], within_days: 90, method: pro_rata}

Values: percents are strings with `%` (`"6%"`); amounts are numbers or numeric strings in the
plan currency, read exactly; dates are `YYYY-MM-DD`. Decisions where the issue is silent:

- `rates` rules need at least one of `product_family`, `deal_type`, `segment`; the first matching
  rule wins, else the base `rate`, else `share_of_target_incentive` (base rate = share x target
  incentive ÷ quota of the period). A tier band gives either an absolute `rate` or a
  `multiplier` of the line's base rate (accelerator > 1, decelerator < 1).
- Tier bands start at 0, follow each other without gap or overlap (`from` of a band = `to` of the
  one before) and the last band is open-ended. Attainment tiers use percents, amount tiers amounts.
- `threshold` is on attainment: below it the component pays nothing for the period.
- A team component pays share x target incentive for the period x team attainment (x the tier
  multiplier), so 75/25 plans put `share_of_target_incentive: "75%"` on the commission.
- Caps are in the plan currency: `per_line` (commission, spiff), `per_period`, `per_plan_year`.

`Plan.to_text()` writes the canonical text (fixed key order, defaults spelt out, percents as
`"6%"`); `parse_plan(plan.to_text()) == plan`. `diff_plans(old, new)` lists field-level changes
in words (`components[0] "Individual commission" rate: 5% → 6%`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

import jsonschema
import yaml

from attain.engine.compensation.payouts import PayoutRules, parse_payout_rules
from attain.engine.compensation.problems import PlanDefinitionError, PlanProblem
from attain.engine.compensation.schemas import (
    AMOUNT_PATTERN,
    DATE_PATTERN,
    NON_NEGATIVE_AMOUNT_PATTERN,
    PERCENT_PATTERN,
    PLAN_JSON_SCHEMA,
)

HUNDRED = Decimal(100)
ZERO = Decimal(0)
ONE = Decimal(1)

Measurement = Literal["period", "ytd"]
BonusMeasurement = Literal["period", "ytd", "plan_year"]
TierBasis = Literal["attainment", "amount"]
TierMode = Literal["marginal", "retroactive"]
CreditKind = Literal["owner", "split", "overlay", "roll_up"]


# --- the plan as frozen dataclasses -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Where:
    """Which credits a component counts; an empty tuple / None means any."""

    product_families: tuple[str, ...] = ()
    deal_types: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    partner: bool | None = None

    @property
    def is_any(self) -> bool:
        return not (self.product_families or self.deal_types or self.segments
                    or self.partner is not None)


@dataclass(frozen=True, slots=True)
class RateRule:
    """`rate` (a fraction: 0.03 is 3 %) for credits matching every given dimension."""

    rate: Decimal
    product_family: str | None = None
    deal_type: str | None = None
    segment: str | None = None


@dataclass(frozen=True, slots=True)
class Band:
    """One tier band [lower, upper): attainment as a fraction (1 = 100 %) or an amount."""

    lower: Decimal
    upper: Decimal | None
    rate: Decimal | None = None
    multiplier: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Tiers:
    basis: TierBasis
    mode: TierMode
    bands: tuple[Band, ...]


@dataclass(frozen=True, slots=True)
class Caps:
    """Maximum amounts in the plan currency; None: no cap."""

    per_line: Decimal | None = None
    per_period: Decimal | None = None
    per_plan_year: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Commission:
    name: str
    description: str = ""
    credits: tuple[CreditKind, ...] = ("owner", "split")
    measurement: Measurement = "period"
    where: Where = field(default_factory=Where)
    rate: Decimal | None = None
    share_of_target_incentive: Decimal | None = None
    rates: tuple[RateRule, ...] = ()
    tiers: Tiers | None = None
    threshold: Decimal | None = None
    caps: Caps = field(default_factory=Caps)
    kind: Literal["commission"] = "commission"


@dataclass(frozen=True, slots=True)
class TeamComponent:
    name: str
    share_of_target_incentive: Decimal
    description: str = ""
    measurement: Measurement = "period"
    tiers: Tiers | None = None
    threshold: Decimal | None = None
    caps: Caps = field(default_factory=Caps)
    kind: Literal["team"] = "team"


@dataclass(frozen=True, slots=True)
class BonusStep:
    at: Decimal  # attainment fraction
    amount: Decimal | None = None
    share_of_target_incentive: Decimal | None = None


@dataclass(frozen=True, slots=True)
class LinearPoint:
    attainment: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Bonus:
    name: str
    description: str = ""
    on: Literal["individual", "team"] = "individual"
    measurement: BonusMeasurement = "period"
    steps: tuple[BonusStep, ...] = ()
    linear: tuple[LinearPoint, LinearPoint] | None = None
    kind: Literal["bonus"] = "bonus"


@dataclass(frozen=True, slots=True)
class Spiff:
    name: str
    starts_on: dt.date
    ends_on: dt.date  # excluded
    description: str = ""
    source: Literal["bookings", "manual"] = "bookings"
    credits: tuple[CreditKind, ...] = ("owner", "split")
    where: Where = field(default_factory=Where)
    amount_per_deal: Decimal | None = None
    rate: Decimal | None = None
    caps: Caps = field(default_factory=Caps)
    kind: Literal["spiff"] = "spiff"


@dataclass(frozen=True, slots=True)
class Mbo:
    name: str
    description: str = ""
    max_amount: Decimal | None = None
    share_of_target_incentive: Decimal | None = None
    kind: Literal["mbo"] = "mbo"


Component = Commission | TeamComponent | Bonus | Spiff | Mbo


@dataclass(frozen=True, slots=True)
class Crediting:
    owner: bool = True
    splits: bool = True
    roll_up_levels: int = 0  # 0: no manager roll-up credit
    multi_year_percents: tuple[Decimal, ...] = ()  # fractions per contract year; (): 100 % once
    partner_basis: Literal["net", "gross"] = "gross"
    partner_uplift: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    currency: str
    period: Literal["month", "quarter", "year"]
    components: tuple[Component, ...]
    payout: PayoutRules = field(default_factory=PayoutRules)  # payouts.py (comp-payouts)
    description: str = ""
    plan_year_start_month: int = 1
    rounding: Literal["half_even", "half_up"] = "half_even"
    proration: Literal["days", "none"] = "days"
    crediting: Crediting = field(default_factory=Crediting)

    def component(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(name)

    def to_data(self) -> dict[str, Any]:
        """The canonical plain-data form (what `to_text` writes)."""
        return _plan_data(self)

    def to_text(self) -> str:
        """Canonical YAML: fixed key order, defaults spelt out; parses back to an equal plan."""
        return yaml.dump(self.to_data(), Dumper=_CanonicalDumper, sort_keys=False,
                         allow_unicode=True, width=100, default_flow_style=False)


# --- reading YAML exactly, with line numbers ---------------------------------------------------

class _PlanLoader(yaml.SafeLoader):
    """SafeLoader that reads floats as exact `Decimal` and leaves dates as text."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(cast(yaml.ScalarNode, node))).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:  # .inf, .nan
        return Decimal("NaN")


_PlanLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
# Dates stay text (checked by the schema), and only true/false are booleans: YAML 1.1 would read
# the key `on:` (bonus.on, clawback.on) and words like yes/no/off as booleans.
_PlanLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool"}]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PlanLoader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                  re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                  list("tTfF"))


class _CanonicalDumper(yaml.SafeDumper):
    """Writes with the loader's resolvers, so `on:` and dates are not needlessly quoted."""


_CanonicalDumper.yaml_implicit_resolvers = _PlanLoader.yaml_implicit_resolvers


def _path(parts: Sequence[str | int]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _lines(node: yaml.Node, parts: tuple[str | int, ...], lines: dict[str, int],
           problems: list[PlanProblem]) -> None:
    lines.setdefault(_path(parts), node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*parts, key)
            if key in seen:
                problems.append(PlanProblem(_path(child), "", "this key appears twice; "
                                            "write each key once", key_node.start_mark.line + 1))
            seen.add(key)
            lines[_path(child)] = key_node.start_mark.line + 1
            _lines(value_node, child, lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*parts, index), lines, problems)


def _line_of(lines: Mapping[str, int], path: str) -> int | None:
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""


def _load(text: str, source: str) -> tuple[Any, dict[str, int], list[PlanProblem]]:
    loader = _PlanLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PlanDefinitionError([PlanProblem("", "", "the plan is empty; it needs at "
                                                   "least plan, currency, period and "
                                                   "components", 1)], source)
        lines: dict[str, int] = {}
        problems: list[PlanProblem] = []
        _lines(node, (), lines, problems)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        column = f", column {mark.column + 1}" if mark else ""
        raise PlanDefinitionError([PlanProblem(
            "", "", f"not valid YAML{column}: {error.problem or error.context}", line,
        )], source) from error
    finally:
        loader.dispose()
    return data, lines, problems


# --- JSON Schema problems in words ------------------------------------------------------------

def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list):
        return "[…]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


_PATTERN_WORDS = {
    PERCENT_PATTERN: 'a percent with a % sign, like "6%" or "12.5%"',
    AMOUNT_PATTERN: 'an amount like 3000 or "2500.50"',
    NON_NEGATIVE_AMOUNT_PATTERN: 'an amount of zero or more, like 3000 or "2500.50"',
    DATE_PATTERN: "a date written YYYY-MM-DD",
    "^[A-Z]{3}$": "a three-letter ISO 4217 currency code like USD",
}


def _expected(schema: Mapping[str, Any]) -> str:
    if "pattern" in schema:
        return _PATTERN_WORDS.get(schema["pattern"], f"text matching {schema['pattern']}")
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    for union in ("oneOf", "anyOf"):
        if union in schema:
            return " or ".join(_expected(option) for option in schema[union])
    if schema.get("type") == "number":
        minimum = schema.get("minimum")
        return "a number" + (f" of at least {minimum}" if minimum is not None else "")
    if "type" in schema:
        return {"object": "a mapping of keys to values", "array": "a list",
                "string": "text", "integer": "a whole number",
                "boolean": "true or false"}.get(str(schema["type"]), str(schema["type"]))
    return "a valid value"


def _schema_problems(data: Any, lines: Mapping[str, int]) -> list[PlanProblem]:
    validator = jsonschema.Draft202012Validator(PLAN_JSON_SCHEMA)
    problems: list[PlanProblem] = []
    for error in validator.iter_errors(data):
        parts = list(error.absolute_path)
        where = _path(parts)
        kind = error.validator
        if kind == "additionalProperties":
            accepted = sorted(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - set(accepted)):
                path = _path([*parts, key])
                problems.append(PlanProblem(path, "", f"unknown key {key!r}; accepted keys: "
                                            f"{', '.join(accepted)}", _line_of(lines, path)))
            continue
        if kind == "required":
            missing = [key for key in error.validator_value if key not in error.instance]
            for key in missing:
                path = _path([*parts, key])
                expected = _expected(error.schema.get("properties", {}).get(key, {}))
                detail = "" if expected == "a valid value" else f" ({expected})"
                problems.append(PlanProblem(path, "", f"missing; required here{detail}",
                                            _line_of(lines, where)))
            continue
        if kind in {"pattern", "enum", "type", "oneOf", "anyOf"}:
            reason = f"expected {_expected(error.schema)}"
        elif kind == "minItems":
            reason = f"needs at least {error.validator_value} item(s)"
        elif kind == "maxItems":
            reason = f"allows at most {error.validator_value} item(s)"
        elif kind == "uniqueItems":
            reason = "lists the same value twice"
        elif kind in {"minimum", "maximum"}:
            word = "at least" if kind == "minimum" else "at most"
            reason = f"must be {word} {error.validator_value}"
        elif kind in {"minLength", "maxLength"}:
            word = "at least" if kind == "minLength" else "at most"
            reason = f"must be {word} {error.validator_value} character(s) long"
        else:
            reason = error.message
        problems.append(PlanProblem(where, _shown(error.instance), reason,
                                    _line_of(lines, where)))
    # a key required by two subschemas (a component's base and its kind) is reported once,
    # with the most specific wording
    unique: dict[tuple[str, str, str], PlanProblem] = {}
    for problem in problems:
        kind = problem.reason.split(";")[0].split(" (")[0]
        key = (problem.path, problem.value, kind)
        if key not in unique or len(problem.reason) > len(unique[key].reason):
            unique[key] = problem
    return sorted(unique.values(), key=lambda p: (p.line or 0, p.path))


# --- schema-valid data → dataclasses, with the semantic checks ---------------------------------

def percent(text: str) -> Decimal:
    """"6%" → Decimal("0.06")."""
    return Decimal(text.rstrip("%")) / HUNDRED


def amount(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def percent_text(fraction: Decimal) -> str:
    """Decimal("0.06") → "6%"."""
    return f"{_plain(fraction * HUNDRED)}%"


def _plain(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def _bound(text: Any, basis: str) -> tuple[Decimal, bool]:
    """A band bound as a Decimal, and whether it was written the way `basis` needs."""
    if isinstance(text, str) and text.endswith("%"):
        return percent(text), basis == "attainment"
    return amount(text), basis == "amount"


class _Checker:
    def __init__(self, lines: Mapping[str, int]) -> None:
        self.lines = lines
        self.problems: list[PlanProblem] = []

    def problem(self, path: str, value: Any, reason: str) -> None:
        shown = "" if value is None else _shown(value)
        self.problems.append(PlanProblem(path, shown, reason, _line_of(self.lines, path)))

    # components ----------------------------------------------------------------------------
    def where(self, data: Mapping[str, Any] | None) -> Where:
        data = data or {}
        return Where(tuple(data.get("product_family", ())), tuple(data.get("deal_type", ())),
                     tuple(data.get("segment", ())), data.get("partner"))

    def caps(self, data: Mapping[str, Any] | None, path: str, lines_allowed: bool) -> Caps:
        data = data or {}
        if "per_line" in data and not lines_allowed:
            self.problem(f"{path}.per_line", data["per_line"], "a per-line cap applies only to "
                         "components paid per booking (commission, spiff); use per_period")
        values = {key: amount(data[key]) if key in data else None
                  for key in ("per_line", "per_period", "per_plan_year")}
        for key, value in values.items():
            if value is not None and value <= 0:
                self.problem(f"{path}.{key}", data[key], "a cap must be more than 0 "
                             "(leave the component out to pay nothing)")
        return Caps(**values)

    def tiers(self, data: Mapping[str, Any] | None, path: str, team: bool) -> Tiers | None:
        if data is None:
            return None
        basis = cast(TierBasis, data["basis"])
        bands: list[Band] = []
        previous_upper: Decimal | None = ZERO
        written = data["bands"]
        for index, band in enumerate(written):
            here = f"{path}.bands[{index}]"
            lower, lower_ok = _bound(band["from"], basis)
            upper, upper_ok = _bound(band["to"], basis) if "to" in band else (None, True)
            unit = ('a percent like "100%"' if basis == "attainment"
                    else "an amount like 3000")
            if not lower_ok:
                self.problem(f"{here}.from", band["from"], f"tiers on {basis} need {unit}")
            if not upper_ok:
                self.problem(f"{here}.to", band["to"], f"tiers on {basis} need {unit}")
            if index == 0 and lower != 0:
                self.problem(f"{here}.from", band["from"], "the first band must start at 0 "
                             f"({'0%' if basis == 'attainment' else '0'}), or credits below it "
                             "are paid by no band")
            elif index > 0 and previous_upper is not None and lower != previous_upper:
                gap = "leaves a gap after" if lower > previous_upper else "overlaps"
                self.problem(f"{here}.from", band["from"], f"{gap} the band before, which ends "
                             f"at {_shown(written[index - 1].get('to'))}; start this band "
                             "where the previous one ends")
            if upper is not None and upper <= lower:
                self.problem(f"{here}.to", band["to"], "must be above `from`")
            if upper is None and index < len(written) - 1:
                self.problem(f"{here}.to", None, "missing: only the last band may be "
                             "open-ended")
            if upper is not None and index == len(written) - 1:
                self.problem(f"{here}.to", band["to"], "the last band must be open-ended (no "
                             "`to`), or credits above it are paid by no band; use caps to "
                             "limit pay")
            rate = percent(band["rate"]) if "rate" in band else None
            multiplier = amount(band["multiplier"]) if "multiplier" in band else None
            if team and rate is not None:
                self.problem(f"{here}.rate", band["rate"], "a team component pays a "
                             "multiplier of its target incentive share; use multiplier")
            elif (rate is None) == (multiplier is None):
                self.problem(here, band, "give exactly one of rate (an absolute rate) or "
                             "multiplier (of the base rate)")
            if multiplier is not None and multiplier < 0:
                self.problem(f"{here}.multiplier", band["multiplier"], "must be 0 or more")
            if rate is not None and rate < 0:
                self.problem(f"{here}.rate", band["rate"], "must be 0% or more")
            bands.append(Band(lower, upper, rate, multiplier))
            previous_upper = upper
        return Tiers(basis, cast(TierMode, data["mode"]), tuple(bands))

    def rate_rules(self, data: Sequence[Mapping[str, Any]], path: str,
                   where: Where) -> tuple[RateRule, ...]:
        rules: list[RateRule] = []
        for index, rule_data in enumerate(data):
            here = f"{path}[{index}]"
            rule = RateRule(percent(rule_data["rate"]), rule_data.get("product_family"),
                            rule_data.get("deal_type"), rule_data.get("segment"))
            if rule.product_family is rule.deal_type is rule.segment is None:
                self.problem(here, rule_data, "a rate rule needs product_family, deal_type or "
                             "segment; a rate for every credit is the component's `rate`")
            for earlier_index, earlier in enumerate(rules):
                if all(getattr(earlier, key) is None or getattr(earlier, key) ==
                       getattr(rule, key) for key in ("product_family", "deal_type",
                                                      "segment")):
                    self.problem(here, rule_data, f"never applies: rule {path}"
                                 f"[{earlier_index}] matches every credit this one does, and "
                                 "the first match wins; put the narrower rule first")
                    break
            for key, allowed in (("product_family", where.product_families),
                                 ("deal_type", where.deal_types),
                                 ("segment", where.segments)):
                value = getattr(rule, key)
                if value is not None and allowed and value not in allowed:
                    self.problem(f"{here}.{key}", value, "applies to no credit: the component "
                                 f"only counts {key} {', '.join(allowed)}")
            rules.append(rule)
        return tuple(rules)

    def credits(self, data: Mapping[str, Any], path: str,
                crediting: Crediting) -> tuple[CreditKind, ...]:
        produced = {"owner": crediting.owner, "split": crediting.splits,
                    "overlay": crediting.splits, "roll_up": crediting.roll_up_levels > 0}
        if "credits" not in data:  # default: the owner's and revenue-split credit, if produced
            defaults: tuple[CreditKind, ...] = ("owner", "split")
            return tuple(kind for kind in defaults if produced[kind]) or ("roll_up",)
        kinds = tuple(cast(list[CreditKind], data["credits"]))
        for index, kind in enumerate(kinds):
            if not produced[kind]:
                setting = {"owner": "crediting.owner is false",
                           "split": "crediting.splits is false",
                           "overlay": "crediting.splits is false",
                           "roll_up": "crediting.roll_up is not set"}[kind]
                self.problem(f"{path}.credits[{index}]", kind,
                             f"applies to no credit: {setting}")
        return kinds

    def commission(self, data: Mapping[str, Any], path: str, crediting: Crediting) -> Commission:
        where = self.where(data.get("where"))
        tiers = self.tiers(data.get("tiers"), f"{path}.tiers", team=False)
        rate = percent(data["rate"]) if "rate" in data else None
        share = (percent(data["share_of_target_incentive"])
                 if "share_of_target_incentive" in data else None)
        rules = self.rate_rules(data.get("rates", ()), f"{path}.rates", where)
        has_base = rate is not None or share is not None
        if rate is not None and share is not None:
            self.problem(f"{path}.share_of_target_incentive", data["share_of_target_incentive"],
                         "give either rate or share_of_target_incentive as the base rate")
        if tiers is None and not has_base and not rules:
            self.problem(path, None, "pays nothing: give a rate, rates, "
                         "share_of_target_incentive or tiers with rates")
        if tiers is not None and not has_base and not rules and any(
                band.multiplier is not None for band in tiers.bands):
            self.problem(f"{path}.tiers", None, "bands with a multiplier need a base rate: "
                         "give rate, rates or share_of_target_incentive")
        if rules and not has_base and tiers is None:
            self.problem(f"{path}.rate", None, "missing: credits no rate rule matches would "
                         "be paid nothing; give a base rate (it may be \"0%\")")
        threshold = percent(data["threshold"]) if "threshold" in data else None
        if threshold is not None and threshold < 0:
            self.problem(f"{path}.threshold", data["threshold"], "must be 0% or more")
        if rate is not None and rate < 0:
            self.problem(f"{path}.rate", data["rate"], "must be 0% or more")
        return Commission(
            name=data["name"], description=data.get("description", ""),
            credits=self.credits(data, path, crediting),
            measurement=cast(Measurement, data.get("measurement", "period")), where=where,
            rate=rate, share_of_target_incentive=share, rates=rules, tiers=tiers,
            threshold=threshold, caps=self.caps(data.get("caps"), f"{path}.caps", True),
        )

    def team(self, data: Mapping[str, Any], path: str) -> TeamComponent:
        threshold = percent(data["threshold"]) if "threshold" in data else None
        tiers = self.tiers(data.get("tiers"), f"{path}.tiers", team=True)
        if tiers is not None and tiers.basis != "attainment":
            self.problem(f"{path}.tiers.basis", tiers.basis, "a team component is measured "
                         "on team attainment; use basis: attainment")
        return TeamComponent(
            name=data["name"], description=data.get("description", ""),
            share_of_target_incentive=percent(data["share_of_target_incentive"]),
            measurement=cast(Measurement, data.get("measurement", "period")),
            tiers=tiers, threshold=threshold,
            caps=self.caps(data.get("caps"), f"{path}.caps", False),
        )

    def bonus(self, data: Mapping[str, Any], path: str) -> Bonus:
        steps: list[BonusStep] = []
        for index, step in enumerate(data.get("step", ())):
            here = f"{path}.step[{index}]"
            step_amount = amount(step["amount"]) if "amount" in step else None
            share = (percent(step["share_of_target_incentive"])
                     if "share_of_target_incentive" in step else None)
            if (step_amount is None) == (share is None):
                self.problem(here, step, "give exactly one of amount or "
                             "share_of_target_incentive")
            at = percent(step["at"])
            if steps and at <= steps[-1].at:
                self.problem(f"{here}.at", step["at"], "steps must rise: each `at` above the "
                             "one before")
            steps.append(BonusStep(at, step_amount, share))
        linear = None
        if "linear" in data:
            start, end = data["linear"]["from"], data["linear"]["to"]
            linear = (LinearPoint(percent(start["attainment"]), amount(start["amount"])),
                      LinearPoint(percent(end["attainment"]), amount(end["amount"])))
            if linear[1].attainment <= linear[0].attainment:
                self.problem(f"{path}.linear.to.attainment", end["attainment"],
                             "must be above linear.from.attainment")
            if linear[1].amount < linear[0].amount:
                self.problem(f"{path}.linear.to.amount", end["amount"], "must be at least "
                             "linear.from.amount (a bonus does not fall as attainment rises)")
        if (not steps) == (linear is None):
            self.problem(path, None, "give exactly one of step (amounts at attainment steps) "
                         "or linear (a line between two points)")
        return Bonus(name=data["name"], description=data.get("description", ""),
                     on=data.get("on", "individual"),
                     measurement=cast(BonusMeasurement, data.get("measurement", "period")),
                     steps=tuple(steps), linear=linear)

    def spiff(self, data: Mapping[str, Any], path: str, crediting: Crediting) -> Spiff:
        starts_on, ends_on = self.date(data["from"], f"{path}.from"), self.date(
            data["to"], f"{path}.to")
        if ends_on <= starts_on:
            self.problem(f"{path}.to", data["to"], "must be after `from` (the window is "
                         "[from, to))")
        source = data.get("source", "bookings")
        per_deal = amount(data["amount_per_deal"]) if "amount_per_deal" in data else None
        rate = percent(data["rate"]) if "rate" in data else None
        if source == "bookings":
            if (per_deal is None) == (rate is None):
                self.problem(path, None, "give exactly one of amount_per_deal or rate")
            if "where" not in data:
                self.problem(f"{path}.where", None, "missing: a SPIFF on bookings targets "
                             "some credits (product_family, deal_type, segment or partner)")
        else:
            for key in ("amount_per_deal", "rate", "where", "credits"):
                if key in data:
                    self.problem(f"{path}.{key}", data[key], "a manual SPIFF is paid from "
                                 "amounts entered by managers; remove this key")
        return Spiff(name=data["name"], description=data.get("description", ""),
                     starts_on=starts_on, ends_on=ends_on,
                     source=cast(Literal["bookings", "manual"], source),
                     credits=self.credits(data, path, crediting),
                     where=self.where(data.get("where")), amount_per_deal=per_deal, rate=rate,
                     caps=self.caps(data.get("caps"), f"{path}.caps", True))

    def mbo(self, data: Mapping[str, Any], path: str) -> Mbo:
        max_amount = amount(data["max_amount"]) if "max_amount" in data else None
        share = (percent(data["share_of_target_incentive"])
                 if "share_of_target_incentive" in data else None)
        if max_amount is not None and share is not None:
            self.problem(path, None, "give at most one of max_amount or "
                         "share_of_target_incentive (the most a manager may enter)")
        return Mbo(data["name"], data.get("description", ""), max_amount, share)

    def date(self, text: str, path: str) -> dt.date:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.problem(path, text, "not a calendar date (YYYY-MM-DD)")
            return dt.date.min

    # the plan --------------------------------------------------------------------------------
    def crediting(self, data: Mapping[str, Any]) -> Crediting:
        roll_up = data.get("roll_up")
        multi_year = tuple(percent(p) for p in data.get("multi_year", {}).get("year_percents",
                                                                             ()))
        for index, share in enumerate(multi_year):
            if not ZERO <= share <= ONE:
                self.problem(f"crediting.multi_year.year_percents[{index}]",
                             percent_text(share), "must be between 0% and 100%")
        partner = data.get("partner", {})
        uplift = percent(partner["uplift"]) if "uplift" in partner else ZERO
        if uplift < 0:
            self.problem("crediting.partner.uplift", partner["uplift"], "must be 0% or more")
        if not data.get("owner", True) and not data.get("splits", True) and roll_up is None:
            self.problem("crediting", data, "credits nobody: enable owner, splits or roll_up")
        return Crediting(owner=data.get("owner", True), splits=data.get("splits", True),
                         roll_up_levels=int(roll_up["levels"]) if roll_up else 0,
                         multi_year_percents=multi_year,
                         partner_basis=partner.get("basis", "gross"), partner_uplift=uplift)

    def plan(self, data: Mapping[str, Any], source: str) -> Plan:
        crediting = self.crediting(data.get("crediting", {}))
        components: list[Component] = []
        names: dict[str, int] = {}
        shares = ZERO
        for index, item in enumerate(data["components"]):
            path = f"components[{index}]"
            if item["name"] in names:
                self.problem(f"{path}.name", item["name"], f"components[{names[item['name']]}]"
                             " has the same name; names must be unique (lines and manual "
                             "entries refer to components by name)")
            names.setdefault(item["name"], index)
            kind = item["kind"]
            component: Component
            if kind == "commission":
                component = self.commission(item, path, crediting)
            elif kind == "team":
                component = self.team(item, path)
            elif kind == "bonus":
                component = self.bonus(item, path)
            elif kind == "spiff":
                component = self.spiff(item, path, crediting)
            else:
                component = self.mbo(item, path)
            if isinstance(component, Commission | TeamComponent) and (
                    component.share_of_target_incentive is not None):
                shares += component.share_of_target_incentive
            components.append(component)
        if shares > ONE:
            self.problem("components", None, f"the shares of target incentive add up to "
                         f"{percent_text(shares)}; at most 100% can be shared out")
        payout_data = data.get("payout", {})
        payout, payout_problems = parse_payout_rules(payout_data, "payout")
        for problem in payout_problems:
            line = problem.line if problem.line is not None else _line_of(self.lines,
                                                                          problem.path)
            self.problems.append(PlanProblem(problem.path, problem.value, problem.reason, line))
        return Plan(
            name=data["plan"], description=data.get("description", ""),
            currency=data["currency"], period=data["period"],
            plan_year_start_month=int(data.get("plan_year_start_month", 1)),
            rounding=data.get("rounding", {}).get("mode", "half_even"),
            proration=data.get("proration", {}).get("method", "days"),
            crediting=crediting, components=tuple(components), payout=payout,
        )


def parse_plan(text: str, source: str = "plan") -> Plan:
    """Read, check and freeze a plan definition; raise `PlanDefinitionError` listing every
    problem (`source` names the text in messages, e.g. a file name or "plan version 12")."""
    data, lines, problems = _load(text, source)
    problems += _schema_problems(data, lines)
    if problems:
        raise PlanDefinitionError(problems, source)
    checker = _Checker(lines)
    plan = checker.plan(data, source)
    if checker.problems:
        raise PlanDefinitionError(sorted(checker.problems, key=lambda p: (p.line or 0, p.path)),
                                  source)
    return plan


# --- canonical data -----------------------------------------------------------------------------

def _amount_data(value: Decimal) -> str:
    return _plain(value)


def _where_data(where: Where) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if where.product_families:
        data["product_family"] = list(where.product_families)
    if where.deal_types:
        data["deal_type"] = list(where.deal_types)
    if where.segments:
        data["segment"] = list(where.segments)
    if where.partner is not None:
        data["partner"] = where.partner
    return data


def _caps_data(caps: Caps) -> dict[str, Any]:
    return {key: _amount_data(value) for key in ("per_line", "per_period", "per_plan_year")
            if (value := getattr(caps, key)) is not None}


def _tiers_data(tiers: Tiers) -> dict[str, Any]:
    def bound(value: Decimal) -> str:
        return percent_text(value) if tiers.basis == "attainment" else _amount_data(value)

    bands = []
    for band in tiers.bands:
        item: dict[str, Any] = {"from": bound(band.lower)}
        if band.upper is not None:
            item["to"] = bound(band.upper)
        if band.rate is not None:
            item["rate"] = percent_text(band.rate)
        if band.multiplier is not None:
            item["multiplier"] = _amount_data(band.multiplier)
        bands.append(item)
    return {"basis": tiers.basis, "mode": tiers.mode, "bands": bands}


def _optional(data: dict[str, Any], key: str, value: Any,
              convert: Callable[[Any], Any] = lambda v: v) -> None:
    if value is not None and value != "" and value != {} and value != ():
        data[key] = convert(value)


def _component_data(component: Component) -> dict[str, Any]:
    data: dict[str, Any] = {"name": component.name, "kind": component.kind}
    _optional(data, "description", component.description)
    if isinstance(component, Commission):
        data["credits"] = list(component.credits)
        data["measurement"] = component.measurement
        _optional(data, "where", _where_data(component.where))
        _optional(data, "rate", component.rate, percent_text)
        _optional(data, "share_of_target_incentive", component.share_of_target_incentive,
                  percent_text)
        if component.rates:
            data["rates"] = [{**{key: value for key in ("product_family", "deal_type",
                                                         "segment")
                                 if (value := getattr(rule, key)) is not None},
                              "rate": percent_text(rule.rate)} for rule in component.rates]
        _optional(data, "tiers", component.tiers, _tiers_data)
        _optional(data, "threshold", component.threshold, percent_text)
        _optional(data, "caps", _caps_data(component.caps))
    elif isinstance(component, TeamComponent):
        data["measurement"] = component.measurement
        data["share_of_target_incentive"] = percent_text(component.share_of_target_incentive)
        _optional(data, "tiers", component.tiers, _tiers_data)
        _optional(data, "threshold", component.threshold, percent_text)
        _optional(data, "caps", _caps_data(component.caps))
    elif isinstance(component, Bonus):
        data["on"] = component.on
        data["measurement"] = component.measurement
        if component.steps:
            data["step"] = [{"at": percent_text(step.at),
                             **({"amount": _amount_data(step.amount)}
                                if step.amount is not None else
                                {"share_of_target_incentive": percent_text(
                                    cast(Decimal, step.share_of_target_incentive))})}
                            for step in component.steps]
        if component.linear is not None:
            start, end = component.linear
            data["linear"] = {
                "from": {"attainment": percent_text(start.attainment),
                         "amount": _amount_data(start.amount)},
                "to": {"attainment": percent_text(end.attainment),
                       "amount": _amount_data(end.amount)}}
    elif isinstance(component, Spiff):
        data["source"] = component.source
        data["from"] = component.starts_on.isoformat()
        data["to"] = component.ends_on.isoformat()
        if component.source == "bookings":
            data["credits"] = list(component.credits)
            _optional(data, "where", _where_data(component.where))
            _optional(data, "amount_per_deal", component.amount_per_deal, _amount_data)
            _optional(data, "rate", component.rate, percent_text)
        _optional(data, "caps", _caps_data(component.caps))
    else:
        _optional(data, "max_amount", component.max_amount, _amount_data)
        _optional(data, "share_of_target_incentive", component.share_of_target_incentive,
                  percent_text)
    return data


def _plan_data(plan: Plan) -> dict[str, Any]:
    data: dict[str, Any] = {"plan": plan.name}
    _optional(data, "description", plan.description)
    data |= {"currency": plan.currency, "period": plan.period,
             "plan_year_start_month": plan.plan_year_start_month,
             "rounding": {"mode": plan.rounding}, "proration": {"method": plan.proration}}
    crediting: dict[str, Any] = {"owner": plan.crediting.owner,
                                 "splits": plan.crediting.splits}
    if plan.crediting.roll_up_levels:
        crediting["roll_up"] = {"levels": plan.crediting.roll_up_levels}
    if plan.crediting.multi_year_percents:
        crediting["multi_year"] = {"year_percents": [
            percent_text(p) for p in plan.crediting.multi_year_percents]}
    if plan.crediting.partner_basis != "gross" or plan.crediting.partner_uplift:
        crediting["partner"] = {"basis": plan.crediting.partner_basis,
                                "uplift": percent_text(plan.crediting.partner_uplift)}
    data["crediting"] = crediting
    data["components"] = [_component_data(component) for component in plan.components]
    payout = plan.payout.to_data()
    if payout:
        data["payout"] = payout
    return data


# --- diffs ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PlanChange:
    """One field that differs: `old`/`new` are the canonical texts ("" when absent)."""

    path: str
    label: str
    old: str
    new: str

    def __str__(self) -> str:
        if not self.old:
            return f"{self.label}: added {self.new}"
        if not self.new:
            return f"{self.label}: removed (was {self.old})"
        return f"{self.label}: {self.old} → {self.new}"


def _flatten(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{path}[{index}]")
    elif isinstance(value, list):
        yield path, "[" + ", ".join(str(v) for v in value) + "]"
    elif isinstance(value, bool):
        yield path, "true" if value else "false"
    else:
        yield path, str(value)


_COMPONENT_PATH = re.compile(r"^components\[(\d+)\]")


def diff_plans(old: Plan, new: Plan) -> list[PlanChange]:
    """Field-level changes from `old` to `new`, in canonical field order; components are
    compared by position and labelled with their name, e.g.
    `components[0] "Individual commission" rate: 5% → 6%`."""
    before = dict(_flatten(old.to_data(), ""))
    after = dict(_flatten(new.to_data(), ""))
    order = list(after) + [path for path in before if path not in after]

    def label(path: str) -> str:
        match = _COMPONENT_PATH.match(path)
        if not match:
            return path
        index = int(match.group(1))
        named = new.components if index < len(new.components) else old.components
        rest = path[match.end():].lstrip(".")
        return f'{match.group(0)} "{named[index].name}" {rest}'.rstrip()

    return [PlanChange(path, label(path), before.get(path, ""), after.get(path, ""))
            for path in order if before.get(path, "") != after.get(path, "")]


__all__ = [
    "PLAN_JSON_SCHEMA", "Band", "Bonus", "BonusStep", "Caps", "Commission", "Component",
    "Crediting", "LinearPoint", "Mbo", "Plan", "PlanChange", "PlanDefinitionError",
    "PlanProblem", "RateRule", "Spiff", "TeamComponent", "Tiers", "Where", "diff_plans",
    "parse_plan", "percent", "percent_text",
]
