"""The payout section of a plan: reading, every validation problem, the published schema."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from attain.engine.compensation.payouts import (
    PAYOUT_JSON_SCHEMA,
    Advance,
    Clawback,
    Draw,
    Guarantee,
    PayoutRules,
    parse_payout_rules,
)
from attain.engine.compensation.plans import PlanDefinitionError, parse_plan
from attain.engine.compensation.problems import PlanProblem

FULL: dict[str, Any] = {
    "timing": "on_collection",
    "advance": {"deals_from": 100000, "share": "50%", "remainder": "on_invoice"},
    "clawback": {"on": ["cancellation", "churn"], "within_days": 90, "method": "pro_rata",
                 "max_per_period": "2000", "max_share_of_earnings": "25%"},
    "draw": {"kind": "recoverable", "amount": 3000, "periods": 6,
             "recovery": {"max_share_of_earnings": "50%"}, "forgive_at_year_end": True},
    "guarantee": {"amount": Decimal("5000.50"), "periods": 3},
}


def problems_of(data: Any) -> list[tuple[str, str, str]]:
    _, problems = parse_payout_rules(data, "payout")
    return [(p.path, p.value, p.reason) for p in problems]


def test_every_rule_is_read_exactly() -> None:
    rules, problems = parse_payout_rules(FULL, "payout")

    assert problems == []
    assert rules == PayoutRules(
        timing="on_collection",
        advance=Advance(deals_from=Decimal("100000.00"), share=Decimal("0.5"),
                        remainder="on_invoice"),
        clawback=Clawback(within_days=90, on=("cancellation", "churn"), method="pro_rata",
                          max_per_period=Decimal("2000.00"),
                          max_share_of_earnings=Decimal("0.25")),
        draw=Draw(kind="recoverable", amount=Decimal("3000.00"), periods=6,
                  max_recovery_share=Decimal("0.5"), forgive_at_year_end=True),
        guarantee=Guarantee(amount=Decimal("5000.50"), periods=3),
    )


def test_missing_or_empty_section_pays_on_booking_with_nothing_else() -> None:
    assert parse_payout_rules(None, "payout") == (PayoutRules(), [])
    assert parse_payout_rules({}, "payout") == (PayoutRules(), [])
    assert PayoutRules().timing == "on_booking"


def test_defaults_of_each_rule() -> None:
    rules, problems = parse_payout_rules({
        "timing": "on_invoice",
        "advance": {"deals_from": 50000, "share": "40%"},
        "clawback": {"within_days": 30},
        "draw": {"kind": "non_recoverable", "amount": 1000},
    }, "payout")

    assert problems == []
    assert rules.advance == Advance(Decimal("50000.00"), Decimal("0.4"), "on_collection")
    assert rules.clawback == Clawback(within_days=30, on=("cancellation",), method="full")
    assert rules.draw == Draw(kind="non_recoverable", amount=Decimal("1000.00"), periods=None,
                              max_recovery_share=Decimal(1), forgive_at_year_end=False)


def test_canonical_data_reads_back_to_the_same_rules() -> None:
    rules, _ = parse_payout_rules(FULL, "payout")

    assert rules.to_data()["advance"] == {"deals_from": "100000.00", "share": "50%",
                                          "remainder": "on_invoice"}
    assert parse_payout_rules(rules.to_data(), "payout") == (rules, [])
    assert PayoutRules().to_data() == {}


def test_rules_in_plain_words() -> None:
    rules, _ = parse_payout_rules(FULL, "payout")

    assert rules.describe() == [
        "Earnings on a deal are paid when the customer has paid; other earnings in the period "
        "they are earned.",
        "Deals credited at 100000.00 or more pay 50% on booking and the rest when it is "
        "invoiced.",
        "If the deal is cancelled or the customer churns within 90 days of booking, what was "
        "paid on it is clawed back for the part of the 90 days not served, recovered from later "
        "earnings (at most 2000.00 and at most 25% of earnings per period).",
        "A recoverable draw tops pay up to 3000.00 for the first 6 period(s); it is repaid from "
        "earnings above the draw, at most 50% of them per period. What is still owed at "
        "plan-year end is forgiven.",
        "A new hire is paid at least 5000.50 in each of the first 3 period(s).",
    ]


# --- every validation problem: path, value as written, reason -----------------------------


@pytest.mark.parametrize(("data", "expected"), [
    ("weekly", [("payout", "weekly", "expected a mapping with the keys timing, advance, "
                 "clawback, draw, guarantee")]),
    ({"timing": "weekly"},
     [("payout.timing", "weekly", "expected one of on_booking, on_invoice, on_collection")]),
    ({"bonus": 1},
     [("payout.bonus", "1", "unknown key 'bonus'; accepted keys: timing, advance, clawback, "
       "draw, guarantee")]),
    ({"timing": "on_invoice", "advance": {"share": "50%"}},
     [("payout.advance.deals_from", "", "required; an amount above 0 with at most two "
       "decimals, e.g. 3000 or 2500.50")]),
    ({"timing": "on_invoice", "advance": {"deals_from": 1000, "share": "100%"}},
     [("payout.advance.share", "100%", "expected above 0% and up to 100% (excluded)")]),
    ({"timing": "on_invoice", "advance": {"deals_from": 1000, "share": "0.5"}},
     [("payout.advance.share", "0.5", 'expected a percent with a % sign, like "50%" or '
       '"12.5%"')]),
    ({"timing": "on_invoice", "advance": {"deals_from": 1000, "share": "50%",
                                          "remainder": "on_booking"}},
     [("payout.advance.remainder", "on_booking", "expected one of on_invoice, "
       "on_collection")]),
    ({"advance": {"deals_from": 1000, "share": "50%"}},
     [("payout.advance", "", "an advance pays part of a deal on booking before the rest; "
       "with timing on_booking everything is paid on booking already — set timing to "
       "on_invoice or on_collection, or name the remainder's timing")]),
    ({"clawback": {"within_days": 0}},
     [("payout.clawback.within_days", "0", "expected a whole number of days from 1 to 3660")]),
    ({"clawback": {}},
     [("payout.clawback.within_days", "", "required; a whole number of days from 1 to "
       "3660")]),
    ({"clawback": {"within_days": 90, "on": ["refund"]}},
     [("payout.clawback.on", "['refund']", "expected a list of events from: cancellation, "
       "churn, e.g. [cancellation, churn]")]),
    ({"clawback": {"within_days": 90, "on": ["churn", "churn"]}},
     [("payout.clawback.on", "['churn', 'churn']", "each event may be listed once")]),
    ({"clawback": {"within_days": 90, "method": "partial"}},
     [("payout.clawback.method", "partial", "expected one of full, pro_rata")]),
    ({"clawback": {"within_days": 90, "max_per_period": -5}},
     [("payout.clawback.max_per_period", "-5", "expected an amount above 0 and at most "
       "9,999,999,999,999.99")]),
    ({"clawback": {"within_days": 90, "max_share_of_earnings": "120%"}},
     [("payout.clawback.max_share_of_earnings", "120%", "expected above 0% and up to 100% "
       "(included)")]),
    ({"draw": {"amount": 1000}},
     [("payout.draw.kind", "", "required; one of recoverable, non_recoverable")]),
    ({"draw": {"kind": "recoverable", "amount": "12.345"}},
     [("payout.draw.amount", "12.345", "an amount has at most two decimals (cents)")]),
    ({"draw": {"kind": "recoverable", "amount": "lots"}},
     [("payout.draw.amount", "lots", "expected an amount such as 3000 or 2500.50")]),
    ({"draw": {"kind": "recoverable", "amount": 1000, "periods": 1.5}},
     [("payout.draw.periods", "1.5", "expected a whole number of periods from 1 to 120")]),
    ({"draw": {"kind": "non_recoverable", "amount": 1000,
               "recovery": {"max_share_of_earnings": "50%"}}},
     [("payout.draw.recovery", "{'max_share_of_earnings': '50%'}", "a non-recoverable draw "
       "is never repaid; remove `recovery` or make the draw recoverable")]),
    ({"draw": {"kind": "non_recoverable", "amount": 1000, "forgive_at_year_end": True}},
     [("payout.draw.forgive_at_year_end", "true", "only a recoverable draw leaves a balance "
       "to forgive")]),
    ({"draw": {"kind": "recoverable", "amount": 1000, "forgive_at_year_end": "yes"}},
     [("payout.draw.forgive_at_year_end", "yes", "expected true or false")]),
    ({"draw": {"kind": "recoverable", "amount": 1000, "recovery": {}}},
     [("payout.draw.recovery.max_share_of_earnings", "", "required; a percentage above 0% "
       "and up to 100% (included), e.g. 50%")]),
    ({"guarantee": {"amount": 5000}},
     [("payout.guarantee.periods", "", "required; a whole number of periods from 1 to 120")]),
    ({"guarantee": {"amount": 0, "periods": 200}},
     [("payout.guarantee.amount", "0", "expected an amount above 0 and at most "
       "9,999,999,999,999.99"),
      ("payout.guarantee.periods", "200", "expected a whole number of periods from 1 to "
       "120")]),
])
def test_each_problem_names_path_value_and_what_is_accepted(
        data: Any, expected: list[tuple[str, str, str]]) -> None:
    assert problems_of(data) == expected


def test_all_problems_are_reported_together() -> None:
    found = problems_of({"timing": "weekly", "draw": {"kind": "x", "amount": -1},
                         "guarantee": {"periods": 0}})

    assert [path for path, _, _ in found] == [
        "payout.timing", "payout.draw.kind", "payout.draw.amount", "payout.guarantee.amount",
        "payout.guarantee.periods"]


def test_problems_are_plan_problems_at_the_given_path() -> None:
    _, problems = parse_payout_rules({"timing": "daily"}, "plans[2].payout")

    assert problems == [PlanProblem("plans[2].payout.timing", "daily",
                                    "expected one of on_booking, on_invoice, on_collection")]


# --- the published schema and the plan language ---------------------------------------------


def test_json_schema_fragment_is_valid_and_agrees_with_the_reader() -> None:
    jsonschema.Draft202012Validator.check_schema(PAYOUT_JSON_SCHEMA)
    validator = jsonschema.Draft202012Validator(PAYOUT_JSON_SCHEMA)

    assert list(validator.iter_errors({**FULL, "guarantee": {"amount": "5000.50",
                                                             "periods": 3}})) == []
    assert [e.message for e in validator.iter_errors({"timing": "weekly"})] == [
        "'weekly' is not one of ['on_booking', 'on_invoice', 'on_collection']"]
    assert [e.json_path for e in validator.iter_errors(
        {"draw": {"kind": "recoverable", "amount": 1, "recovery": {
            "max_share_of_earnings": 0.5}}})] == ["$.draw.recovery.max_share_of_earnings"]


PLAN_HEAD = """\
plan: Payout test plan
currency: USD
period: month
components:
  - name: Commission
    kind: commission
    rate: "5%"
"""


def test_payout_section_of_a_plan_text() -> None:
    plan = parse_plan(PLAN_HEAD + """\
payout:
  timing: on_collection
  advance: {deals_from: 100000, share: "50%"}
  clawback: {on: [cancellation, churn], within_days: 90, method: pro_rata}
  draw: {kind: recoverable, amount: 3000, periods: 6, recovery: {max_share_of_earnings: "50%"}}
  guarantee: {amount: 5000, periods: 3}
""")

    assert plan.payout.timing == "on_collection"
    assert plan.payout.clawback == Clawback(within_days=90, on=("cancellation", "churn"),
                                            method="pro_rata")
    assert plan.payout.draw is not None and plan.payout.draw.periods == 6
    assert parse_plan(plan.to_text()) == plan


def test_semantic_payout_problem_in_a_plan_text_names_its_line() -> None:
    with pytest.raises(PlanDefinitionError) as caught:
        parse_plan(PLAN_HEAD + """\
payout:
  draw:
    kind: non_recoverable
    amount: 1000
    forgive_at_year_end: true
""")

    assert [(p.path, p.value, p.line) for p in caught.value.problems] == [
        ("payout.draw.forgive_at_year_end", "true", 12)]
