"""The plan language: parsing, the published schema, canonical text, diffs, and every kind of
problem a plan definition can have (each named with path, value, reason and line)."""

from __future__ import annotations

import json
from decimal import Decimal

import jsonschema
import pytest

from attain.engine.compensation.examples import example_plan_texts
from attain.engine.compensation.plans import (
    Bonus,
    Commission,
    PlanDefinitionError,
    PlanProblem,
    TeamComponent,
    diff_plans,
    parse_plan,
)
from attain.engine.compensation.schemas import PLAN_JSON_SCHEMA_PATH, plan_json_schema_text

BASE = """\
plan: Test plan
currency: USD
period: quarter
components:
  - name: Commission
    kind: commission
    rate: "5%"
"""


def problems_of(text: str) -> list[PlanProblem]:
    with pytest.raises(PlanDefinitionError) as raised:
        parse_plan(text, "test.yaml")
    return list(raised.value.problems)


def test_shipped_schema_file_is_generated_from_the_one_source() -> None:
    assert PLAN_JSON_SCHEMA_PATH.read_text(encoding="utf-8") == plan_json_schema_text()
    jsonschema.Draft202012Validator.check_schema(json.loads(plan_json_schema_text()))


@pytest.mark.parametrize("name", sorted(example_plan_texts()))
def test_example_plans_parse_and_round_trip_through_canonical_text(name: str) -> None:
    plan = parse_plan(example_plan_texts()[name], name)
    assert parse_plan(plan.to_text(), name) == plan
    assert plan.to_text() == parse_plan(plan.to_text()).to_text()


def test_ae_example_reads_percents_and_amounts_exactly() -> None:
    plan = parse_plan(example_plan_texts()["ae-quota-plan-75-25.yaml"])
    commission = plan.component("Individual commission")
    team = plan.component("Team attainment")
    assert isinstance(commission, Commission) and isinstance(team, TeamComponent)
    assert commission.share_of_target_incentive == Decimal("0.75")
    assert team.share_of_target_incentive == Decimal("0.25")
    assert commission.tiers is not None
    assert [(b.lower, b.upper, b.multiplier) for b in commission.tiers.bands] == [
        (Decimal(0), Decimal(1), Decimal(1)), (Decimal(1), Decimal("1.25"), Decimal("1.5")),
        (Decimal("1.25"), None, Decimal(2))]
    assert commission.caps.per_line == Decimal(25000)
    assert plan.crediting.multi_year_percents == (Decimal(1), Decimal("0.5"), Decimal("0.25"))
    assert plan.payout.timing == "on_invoice"
    annual = plan.component("Annual overachievement bonus")
    assert isinstance(annual, Bonus) and annual.measurement == "plan_year"


def test_yaml_floats_are_read_as_the_written_decimal() -> None:
    plan = parse_plan(BASE + "    caps: {per_line: 0.1}\n")
    commission = plan.components[0]
    assert isinstance(commission, Commission)
    assert commission.caps.per_line == Decimal("0.1")


def test_diff_lists_field_level_changes_in_words() -> None:
    old = parse_plan(BASE)
    new = parse_plan(BASE.replace('"5%"', '"6%"') + "    threshold: \"50%\"\n")
    assert [str(change) for change in diff_plans(old, new)] == [
        'components[0] "Commission" rate: 5% → 6%',
        'components[0] "Commission" threshold: added 50%',
    ]
    assert diff_plans(old, old) == []


def test_yaml_syntax_error_names_line_and_column() -> None:
    [problem] = problems_of("plan: [unclosed\ncurrency: USD\n")
    assert problem.line == 2
    assert "not valid YAML, column" in problem.reason


def test_empty_text_is_a_problem() -> None:
    [problem] = problems_of("")
    assert "empty" in problem.reason


def test_schema_problems_are_all_collected_with_paths_values_and_lines() -> None:
    text = BASE.replace("currency: USD", "currency: usd").replace(
        "    rate: \"5%\"", "    rate: 0.05\n    colour: red") + "  - {name: X, kind: bogus}\n"
    problems = problems_of(text)
    assert [(p.path, p.value, p.line) for p in problems] == [
        ("currency", '"usd"', 2),
        ("components[0].rate", "0.05", 7),
        ("components[0].colour", "", 8),
        ("components[1].kind", '"bogus"', 9),
    ]
    assert problems[0].reason == "expected a three-letter ISO 4217 currency code like USD"
    assert problems[1].reason == 'expected a percent with a % sign, like "6%" or "12.5%"'
    assert problems[2].reason.startswith("unknown key 'colour'; accepted keys: caps, credits")
    assert problems[3].reason == "expected one of commission, team, bonus, spiff, mbo"


def test_missing_required_keys_are_named() -> None:
    problems = problems_of("plan: X\ncomponents:\n  - {kind: team}\n")
    assert [(p.path, p.reason.split(";")[0]) for p in problems] == [
        ("currency", "missing"), ("period", "missing"),
        ("components[0].name", "missing"),
        ("components[0].share_of_target_incentive", "missing"),
    ]


def test_duplicate_keys_are_reported() -> None:
    [problem] = problems_of(BASE + "    rate: \"6%\"\n")
    assert (problem.path, problem.line) == ("components[0].rate", 8)
    assert "twice" in problem.reason


TIERS = """\
    tiers:
      basis: amount
      mode: marginal
      bands:
"""


@pytest.mark.parametrize(("bands", "expected"), [
    (["{from: 100, to: 3000, rate: \"6%\"}", "{from: 3000, rate: \"8%\"}"],
     [("components[0].tiers.bands[0].from", "the first band must start at 0")]),
    (["{from: 0, to: 3000, rate: \"6%\"}", "{from: 2000, rate: \"8%\"}"],
     [("components[0].tiers.bands[1].from", "overlaps the band before")]),
    (["{from: 0, to: 3000, rate: \"6%\"}", "{from: 4000, rate: \"8%\"}"],
     [("components[0].tiers.bands[1].from", "leaves a gap after the band before")]),
    (["{from: 0, to: 3000, rate: \"6%\"}", "{from: 3000, to: 9000, rate: \"8%\"}"],
     [("components[0].tiers.bands[1].to", "the last band must be open-ended")]),
    (["{from: 0, rate: \"6%\", multiplier: 2}"],
     [("components[0].tiers.bands[0]", "give exactly one of rate")]),
    (["{from: \"0%\", rate: \"6%\"}"],
     [("components[0].tiers.bands[0].from", "tiers on amount need an amount")]),
    (["{from: 0, to: 0, rate: \"6%\"}", "{from: 0, rate: \"1%\"}"],
     [("components[0].tiers.bands[0].to", "must be above `from`")]),
])
def test_tier_problems(bands: list[str], expected: list[tuple[str, str]]) -> None:
    text = BASE + TIERS + "".join(f"        - {band}\n" for band in bands)
    problems = problems_of(text)
    assert [(p.path, p.reason[:len(reason)]) for p, (_, reason) in
            zip(problems, expected, strict=True)] == expected


def test_rates_that_apply_to_nothing_are_reported() -> None:
    text = BASE + """\
    where: {deal_type: [new]}
    rates:
      - {deal_type: renewal, rate: "2%"}
      - {product_family: Services, rate: "3%"}
      - {product_family: Services, segment: SMB, rate: "1%"}
      - {rate: "4%"}
"""
    problems = problems_of(text)
    assert [(p.path, p.reason.split(":")[0]) for p in problems] == [
        ("components[0].rates[0].deal_type", "applies to no credit"),
        ("components[0].rates[2]", "never applies"),
        ("components[0].rates[3]", "a rate rule needs product_family, deal_type or segment; "
                                   "a rate for every credit is the component's `rate`"),
    ]


def test_credit_kinds_the_crediting_never_produces_are_reported() -> None:
    text = BASE.replace("components:", "crediting: {splits: false}\ncomponents:") + \
        "    credits: [owner, overlay, roll_up]\n"
    problems = problems_of(text)
    assert [(p.path, p.reason) for p in problems] == [
        ("components[0].credits[1]", "applies to no credit: crediting.splits is false"),
        ("components[0].credits[2]", "applies to no credit: crediting.roll_up is not set"),
    ]


def test_component_semantics_problems() -> None:
    text = """\
plan: Bad
currency: USD
period: quarter
components:
  - {name: A, kind: commission}
  - {name: A, kind: team, share_of_target_incentive: "80%", caps: {per_line: 10}}
  - name: B
    kind: bonus
    step: [{at: "100%"}, {at: "90%", amount: 100}]
  - name: C
    kind: bonus
    linear: {from: {attainment: "100%", amount: 10}, to: {attainment: "90%", amount: 5}}
  - {name: D, kind: spiff, from: 2027-03-01, to: 2027-01-01, rate: "1%"}
  - {name: E, kind: spiff, source: manual, from: 2027-01-01, to: 2027-02-01, rate: "1%"}
  - {name: F, kind: mbo, max_amount: 10, share_of_target_incentive: "5%"}
  - {name: G, kind: commission, share_of_target_incentive: "30%"}
"""
    problems = problems_of(text)
    assert [(p.path, p.line) for p in problems] == [
        ("components", 4),
        ("components[0]", 5),
        ("components[1].caps.per_line", 6),
        ("components[1].name", 6),
        ("components[2].step[0]", 9),
        ("components[2].step[1].at", 9),
        ("components[3].linear.to.amount", 12),
        ("components[3].linear.to.attainment", 12),
        ("components[4].to", 13),
        ("components[4].where", 13),
        ("components[5].rate", 14),
        ("components[6]", 15),
    ]
    reasons = {p.path: p.reason for p in problems}
    assert reasons["components"] == ("the shares of target incentive add up to 110%; at most "
                                     "100% can be shared out")
    assert reasons["components[0]"].startswith("pays nothing")
    assert reasons["components[1].name"].startswith("components[0] has the same name")


def test_payout_section_problems_come_from_the_payout_rules() -> None:
    problems = problems_of(BASE + "payout:\n  timing: whenever\n")
    assert [(p.path, p.line) for p in problems] == [("payout.timing", 9)]


def test_error_message_lists_every_problem_with_source() -> None:
    with pytest.raises(PlanDefinitionError) as raised:
        parse_plan(BASE.replace("USD", "usd").replace("quarter", "week"), "ae.yaml")
    message = str(raised.value)
    assert message.startswith("ae.yaml: 2 problems in the plan definition:")
    assert 'currency = "usd" (line 2)' in message
    assert 'period = "week" (line 3): expected one of month, quarter, year' in message
