"""The compensation run on hand-computed worked examples (arithmetic in each docstring).

Every test takes the `backend` fixture (DuckDB; Spark with `-m spark`)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from attain.engine.backends import Backend
from attain.engine.compensation.calculation import (
    CompensationInputError,
    compute_compensation,
)
from attain.engine.compensation.examples import example_plan_texts
from attain.engine.compensation.plans import Plan, parse_plan
from attain.engine.errors import MissingExchangeRateError
from tests.engine.compensation_factories import (
    Q1,
    Q2,
    assignment,
    booking,
    lines_of,
    quota,
    tables,
    usd_rates,
)

D = Decimal
AS_OF = date(2027, 3, 31)


def plan_text(components: str, head: str = "") -> Plan:
    return parse_plan("plan: Test\ncurrency: USD\nperiod: quarter\n" + head
                      + "components:\n" + components)


def run(backend: Backend, data: dict, plan: Plan, period: tuple[date, date] = Q1,
        as_of: date = AS_OF):
    """The earnings part of the run (the payout run has its own tests)."""
    return compute_compensation(backend, data, {1: plan}, *period, as_of, with_payouts=False)


def total(result_lines, person: int = 7) -> Decimal:
    return sum((r["amount"] for r in result_lines.to_pylist() if r["person_id"] == person),
               D(0))


MARGINAL_ON_AMOUNT = """\
  - name: Commission
    kind: commission
    tiers:
      basis: amount
      mode: marginal
      bands:
        - {from: 0, to: 3000, rate: "6%"}
        - {from: 3000, to: 8000, rate: "8%"}
        - {from: 8000, rate: "10%"}
"""


def test_marginal_tiers_on_amount_issue_example(backend: Backend) -> None:
    """Sales 9,000: 3,000 x 6% + 5,000 x 8% + 1,000 x 10% = 180 + 400 + 100 = 680."""
    data = tables([booking(1, 7, "9000", date(2027, 2, 1))], [assignment(1, 7)])
    result = run(backend, data, plan_text(MARGINAL_ON_AMOUNT))
    assert lines_of(result.earning_lines) == [(7, "Commission", "commission", 1, D("680.00"))]
    [line] = result.earning_lines.to_pylist()
    assert line["tier"] == 3
    trace = json.loads(line["trace"])
    assert trace[0] == "Booking 1 of 2027-02-01: 9000.00 USD (Core, new, SMB)"
    assert trace[1] == "Credit rule: owner of the booking: 100.00%"
    assert trace[4] == ("Tiers (marginal on amount): 3000.00 in band 1 at 6.00% = 180.00; "
                        "5000.00 in band 2 at 8.00% = 400.00; 1000.00 in band 3 at 10.00% = "
                        "100.00")
    assert trace[-1] == "Amount: 680.00 USD"


QUOTA_TIERS = """\
  - name: Commission
    kind: commission
    tiers:
      basis: attainment
      mode: {mode}
      bands:
        - {{from: "0%", to: "100%", rate: "5%"}}
        - {{from: "100%", to: "125%", rate: "6%"}}
        - {{from: "125%", rate: "7%"}}
"""
THREE_DEALS = [booking(1, 7, "60000", date(2027, 1, 10)),
               booking(2, 7, "50000", date(2027, 2, 10)),
               booking(3, 7, "40000", date(2027, 3, 10))]


def test_marginal_tiers_on_attainment_split_lines_in_booking_order(backend: Backend) -> None:
    """Quota 100,000; 150,000 booked as 60k, 50k, 40k.
    Deal 1: cum 0→60k, all in band 1: 60,000 x 5% = 3,000.
    Deal 2: cum 60k→110k: 40,000 x 5% + 10,000 x 6% = 2,000 + 600 = 2,600.
    Deal 3: cum 110k→150k: 15,000 x 6% + 25,000 x 7% = 900 + 1,750 = 2,650.
    Total 8,250 (the issue's example: 5,000 + 1,500 + 1,750)."""
    data = tables(THREE_DEALS, [assignment(1, 7)], quotas=[quota(1, 7, 1, "100000")])
    result = run(backend, data, plan_text(QUOTA_TIERS.format(mode="marginal")))
    assert lines_of(result.earning_lines) == [
        (7, "Commission", "commission", 1, D("3000.00")),
        (7, "Commission", "commission", 2, D("2600.00")),
        (7, "Commission", "commission", 3, D("2650.00")),
    ]
    assert total(result.earning_lines) == D("8250.00")
    measures = {(r["component"], r["measure"]): r["value"] for r in result.measures.to_pylist()}
    assert measures[("Commission", "attainment")] == D("1.5")


def test_large_amounts_on_attainment_and_amount_tiers(backend: Backend) -> None:
    """The marginal example at a VP's scale. Quota 100,000,000; one credit of 150,000,000:
    100M x 5% + 25M x 6% + 25M x 7% = 5,000,000 + 1,500,000 + 1,750,000 = 8,250,000; the
    line's attainment after it is 150%. On amount tiers with a bound of 200,000,000 (1% below,
    2% above), a credit of 250,000,000 pays 2,000,000 + 1,000,000 = 3,000,000. A measure or
    bound above 100 million used to overflow the 8 integer digits of a rate."""
    data = tables([booking(1, 7, "150000000", date(2027, 2, 1))], [assignment(1, 7)],
                  quotas=[quota(1, 7, 1, "100000000")])
    result = run(backend, data, plan_text(QUOTA_TIERS.format(mode="marginal")))
    [line] = result.earning_lines.to_pylist()
    assert (line["amount"], line["tier"], line["measure_value"]) == (
        D("8250000.00"), 3, D("1.5"))
    assert json.loads(line["trace"])[3] == "Attainment after this credit (this period): 150.00%"

    on_amount = plan_text('  - name: C\n    kind: commission\n    tiers:\n'
                          '      basis: amount\n      mode: marginal\n      bands:\n'
                          '        - {from: 0, to: 200000000, rate: "1%"}\n'
                          '        - {from: 200000000, rate: "2%"}\n')
    data = tables([booking(1, 7, "250000000", date(2027, 2, 1))], [assignment(1, 7)])
    [line] = run(backend, data, on_amount).earning_lines.to_pylist()
    assert (line["amount"], line["tier"]) == (D("3000000.00"), 2)


def test_retroactive_tiers_pay_the_reached_rate_with_an_explicit_true_up(
        backend: Backend) -> None:
    """Each line pays the band reached after it: 60k x 5% = 3,000 (cum 60%),
    50k x 6% = 3,000 (cum 110%), 40k x 7% = 2,800 (cum 150%) → 8,800.
    At the end 150% is in band 3: 150,000 x 7% = 10,500 → true-up 10,500 - 8,800 = 1,700.
    Retroactive (10,500) ≥ marginal (8,250) for increasing rates."""
    data = tables(THREE_DEALS, [assignment(1, 7)], quotas=[quota(1, 7, 1, "100000")])
    result = run(backend, data, plan_text(QUOTA_TIERS.format(mode="retroactive")))
    assert lines_of(result.earning_lines) == [
        (7, "Commission", "commission", 1, D("3000.00")),
        (7, "Commission", "commission", 2, D("3000.00")),
        (7, "Commission", "commission", 3, D("2800.00")),
        (7, "Commission", "true_up", None, D("1700.00")),
    ]
    assert total(result.earning_lines) == D("10500.00")


def test_threshold_not_reached_pays_nothing_and_says_why(backend: Backend) -> None:
    """Quota 100,000, threshold 50%; 40,000 credited = 40% → the line pays 0."""
    data = tables([booking(1, 7, "40000", date(2027, 1, 10))], [assignment(1, 7)],
                  quotas=[quota(1, 7, 1, "100000")])
    plan = plan_text('  - {name: Commission, kind: commission, rate: "5%", threshold: "50%"}\n')
    result = run(backend, data, plan)
    assert lines_of(result.earning_lines) == [(7, "Commission", "commission", 1, D("0.00"))]
    trace = json.loads(result.earning_lines.to_pylist()[0]["trace"])
    assert trace[5] == "attainment 40% is below the threshold 50%: nothing is paid"


def test_75_25_individual_and_team_split(backend: Backend) -> None:
    """Target incentive 40,000 a year → 10,000 for the quarter.
    Individual (75%): rate = 0.75 x 10,000 / quota 100,000 = 7.5%; 80,000 credited → 6,000.
    Team (25%): team 5 = person 7 (80,000) + person 8 (320,000) = 400,000 of team quota
    500,000 = 80% → 0.25 x 10,000 x 0.8 = 2,000. Total 8,000."""
    plan = parse_plan(example_plan_texts()["ae-quota-plan-75-25.yaml"])
    lines = [{"person_id": p, "manager_id": None, "team_id": 5,
              "valid_from": date(2026, 1, 1), "valid_to": None} for p in (7, 8)]
    data = tables([booking(1, 7, "80000", date(2027, 2, 1), product_family="Platform"),
                   booking(2, 8, "320000", date(2027, 2, 2))],
                  [assignment(1, 7, team_id=5)],
                  quotas=[quota(1, 7, 1, "100000"), quota(2, 5, 1, "500000", holder="team")],
                  lines=lines)
    result = run(backend, data, plan)
    by_component = {}
    for r in result.earning_lines.to_pylist():
        by_component[r["component"]] = by_component.get(r["component"], D(0)) + r["amount"]
    assert by_component == {"Individual commission": D("6000.00"),
                            "Team attainment": D("2000.00"),
                            "Quarterly quota bonus": D("0.00")}
    team_line = next(r for r in result.earning_lines.to_pylist() if r["line_kind"] == "team")
    assert team_line["measure_value"] == D("0.8")


def test_caps_per_line_and_per_period_are_exact_cap_lines(backend: Backend) -> None:
    """10% on 30,000 and 5,000: line 1 = 3,000 capped per line at 2,000; line 2 = 500.
    Period total 2,500 above the period cap 2,200 → cap line -300."""
    data = tables([booking(1, 7, "30000", date(2027, 1, 10)),
                   booking(2, 7, "5000", date(2027, 1, 11))], [assignment(1, 7)])
    plan = plan_text('  - {name: C, kind: commission, rate: "10%", '
                     'caps: {per_line: 2000, per_period: 2200}}\n')
    result = run(backend, data, plan)
    assert lines_of(result.earning_lines) == [
        (7, "C", "commission", 1, D("2000.00")),
        (7, "C", "commission", 2, D("500.00")),
        (7, "C", "cap", None, D("-300.00")),
    ]


def test_plan_year_cap_counts_earlier_periods(backend: Backend) -> None:
    """Year cap 10,000; 8,500 earned in Q1; Q2 earns 10% x 20,000 = 2,000 → room 1,500,
    cap line -500."""
    data = tables([booking(1, 7, "20000", date(2027, 4, 10))], [assignment(1, 7)],
                  prior=[{"person_id": 7, "component": "C", "period_start": Q1[0],
                          "amount": "8500", "currency": "USD"}])
    plan = plan_text('  - {name: C, kind: commission, rate: "10%", '
                     'caps: {per_plan_year: 10000}}\n')
    result = run(backend, data, plan, Q2, date(2027, 6, 30))
    assert lines_of(result.earning_lines) == [
        (7, "C", "commission", 1, D("2000.00")), (7, "C", "cap", None, D("-500.00"))]


def test_splits_overlay_and_roll_up_credit(backend: Backend) -> None:
    """Opportunity 1 (10,000): revenue splits 60% to 7, 40% to 8; overlay 100% to 9 (an
    SE); manager 20 manages 7 and 8 → roll-up 60% + 40% = 100%. Rate 10% on all credits:
    7 → 600, 8 → 400, 9 → 1,000, 20 → 1,000. The owner (7) gets no owner credit."""
    splits = [{"opportunity_id": 1, "person_id": 7, "percent": "60", "kind": "revenue"},
              {"opportunity_id": 1, "person_id": 8, "percent": "40", "kind": "revenue"},
              {"opportunity_id": 1, "person_id": 9, "percent": "100", "kind": "overlay"}]
    lines = [{"person_id": p, "manager_id": 20, "team_id": None,
              "valid_from": date(2026, 1, 1), "valid_to": None} for p in (7, 8)]
    data = tables([booking(1, 7, "10000", date(2027, 1, 10))],
                  [assignment(i, p) for i, p in enumerate((7, 8, 9, 20), start=1)],
                  splits=splits, lines=lines)
    plan = plan_text('  - {name: C, kind: commission, rate: "10%", '
                     'credits: [owner, split, overlay, roll_up]}\n',
                     head="crediting: {roll_up: {levels: 1}}\n")
    result = run(backend, data, plan)
    assert [(r["person_id"], r["credit_kind"], r["percent"], r["credited_amount"])
            for r in result.credits.to_pylist()] == [
        (7, "split", D("60"), D("6000.00")), (8, "split", D("40"), D("4000.00")),
        (9, "overlay", D("100"), D("10000.00")), (20, "roll_up", D("100"), D("10000.00"))]
    assert [(p, a) for p, _, _, _, a in lines_of(result.earning_lines)] == [
        (7, D("600.00")), (8, D("400.00")), (9, D("1000.00")), (20, D("1000.00"))]


def test_partner_net_uplift_and_multi_year_crediting(backend: Backend) -> None:
    """Partner deal: amount 10,000, net 8,000, uplift 10% → credit 8,000 x 1.1 = 8,800.
    3-year deal of annual value 10,000 at 100%/50%/25% → 10,000 x 1.75 = 17,500.
    Rate 10% → 880 and 1,750."""
    data = tables([booking(1, 7, "10000", date(2027, 1, 10), is_partner=True,
                           net_amount="8000"),
                   booking(2, 7, "10000", date(2027, 1, 11), contract_years=3)],
                  [assignment(1, 7)])
    plan = plan_text('  - {name: C, kind: commission, rate: "10%"}\n',
                     head='crediting:\n  multi_year: {year_percents: ["100%", "50%", "25%"]}\n'
                          '  partner: {basis: net, uplift: "10%"}\n')
    result = run(backend, data, plan)
    assert [r["credited_amount"] for r in result.credits.to_pylist()] == [
        D("8800.00"), D("17500.00")]
    assert [a for *_, a in lines_of(result.earning_lines)] == [D("880.00"), D("1750.00")]


def test_rates_by_deal_type_and_family_first_match_wins(backend: Backend) -> None:
    """Base 5%; renewal 2%; family Services 3%. Renewal of Services matches the renewal rule
    first: 1,000 x 2% = 20; new Services: 1,000 x 3% = 30; new Core: 1,000 x 5% = 50."""
    data = tables([booking(1, 7, "1000", date(2027, 1, 10), deal_type="renewal",
                           product_family="Services"),
                   booking(2, 7, "1000", date(2027, 1, 11), product_family="Services"),
                   booking(3, 7, "1000", date(2027, 1, 12))], [assignment(1, 7)])
    plan = plan_text('  - name: C\n    kind: commission\n    rate: "5%"\n    rates:\n'
                     '      - {deal_type: renewal, rate: "2%"}\n'
                     '      - {product_family: Services, rate: "3%"}\n')
    result = run(backend, data, plan)
    assert [a for *_, a in lines_of(result.earning_lines)] == [
        D("20.00"), D("30.00"), D("50.00")]


def test_conversion_to_the_payee_currency_at_the_period_rate(backend: Backend) -> None:
    """Company currency USD; EUR = 1.25 USD in January (the period's first month).
    A 11,000 USD booking at 10% = 1,100 USD = 1,100 / 1.25 = 880 EUR."""
    rates = usd_rates(("EUR", date(2027, 1, 1), "1.25"), ("EUR", date(2027, 2, 1), "1.5"))
    data = tables([booking(1, 7, "11000", date(2027, 2, 10))],
                  [assignment(1, 7, currency="EUR")], rates=rates)
    result = run(backend, data, plan_text('  - {name: C, kind: commission, rate: "10%"}\n'))
    assert [(r["amount"], r["currency"]) for r in result.earning_lines.to_pylist()] == [
        (D("880.00"), "EUR")]


def test_bonus_step_and_linear(backend: Backend) -> None:
    """Quota 100,000, 110,000 credited = 110%.
    Step bonus: 100% → 1,000, 120% → 3,000: 110% reaches the first step → 1,000.
    Linear 100% → 0 to 150% → 5,000: 10 / 50 x 5,000 = 1,000."""
    data = tables([booking(1, 7, "110000", date(2027, 1, 10))], [assignment(1, 7)],
                  quotas=[quota(1, 7, 1, "100000")])
    plan = plan_text(
        '  - {name: C, kind: commission, rate: "0%"}\n'
        '  - {name: Step, kind: bonus, step: [{at: "100%", amount: 1000}, '
        '{at: "120%", amount: 3000}]}\n'
        '  - name: Linear\n    kind: bonus\n    linear: {from: {attainment: "100%", amount: 0},'
        ' to: {attainment: "150%", amount: 5000}}\n')
    result = run(backend, data, plan)
    assert lines_of(result.earning_lines) == [
        (7, "C", "commission", 1, D("0.00")),
        (7, "Step", "bonus", None, D("1000.00")),
        (7, "Linear", "bonus", None, D("1000.00")),
    ]


def test_spiff_in_window_and_capped_mbo(backend: Backend) -> None:
    """SPIFF 500 per new Security deal booked in February: deal 1 (Jan) no, deal 2 (Feb) yes.
    MBO entered 1,200 with max 1,000 → line 1,200 and cap -200. A manual line for an unknown
    component is an adjustment."""
    data = tables([booking(1, 7, "1000", date(2027, 1, 10), product_family="Security"),
                   booking(2, 7, "1000", date(2027, 2, 10), product_family="Security")],
                  [assignment(1, 7)],
                  manual=[{"manual_line_id": 1, "person_id": 7, "component": "Goals",
                           "earned_on": date(2027, 3, 1), "amount": "1200",
                           "currency": "USD", "reason": "Q1 goals", "entered_by_id": 20},
                          {"manual_line_id": 2, "person_id": 7, "component": "Fix",
                           "earned_on": date(2027, 3, 2), "amount": "-50",
                           "currency": "USD", "reason": "double count", "entered_by_id": 20}])
    plan = plan_text(
        '  - {name: S, kind: spiff, from: 2027-02-01, to: 2027-03-01, '
        'where: {product_family: [Security]}, amount_per_deal: 500}\n'
        '  - {name: Goals, kind: mbo, max_amount: 1000}\n')
    result = run(backend, data, plan)
    assert lines_of(result.earning_lines) == [
        (7, "S", "spiff", 2, D("500.00")),
        (7, "Goals", "mbo", None, D("1200.00")),
        (7, "Goals", "cap", None, D("-200.00")),
        (7, "Fix", "manual_adjustment", None, D("-50.00")),
    ]


def test_ytd_measurement_marginal_against_the_annual_quota(backend: Backend) -> None:
    """Annual quota 400,000; accelerator (10%) only above 100% YTD, 5% below.
    Q1 credited 350,000; the Q2 run pays Q2's deal of 100,000 from cum 350k to 450k:
    50,000 x 5% + 50,000 x 10% = 2,500 + 5,000 = 7,500."""
    data = tables([booking(1, 7, "350000", date(2027, 2, 1)),
                   booking(2, 7, "100000", date(2027, 5, 1))], [assignment(1, 7)],
                  quotas=[quota(1, 7, 10, "400000")])
    plan = plan_text(
        '  - name: C\n    kind: commission\n    measurement: ytd\n    tiers:\n'
        '      basis: attainment\n      mode: marginal\n      bands:\n'
        '        - {from: "0%", to: "100%", rate: "5%"}\n'
        '        - {from: "100%", rate: "10%"}\n')
    result = run(backend, data, plan, Q2, date(2027, 6, 30))
    assert lines_of(result.earning_lines) == [(7, "C", "commission", 2, D("7500.00"))]


def test_proration_for_a_mid_period_start(backend: Backend) -> None:
    """Q1 has 90 days; an assignment from 2027-02-15 is in force 45 days (Feb 15 to Mar 31).
    Target 40,000/yr → 10,000 x 45/90 = 5,000; team share 100% at team attainment 100% =
    5,000."""
    lines = [{"person_id": 7, "manager_id": None, "team_id": 5,
              "valid_from": date(2026, 1, 1), "valid_to": None}]
    data = tables([booking(1, 7, "1000", date(2027, 3, 1))],
                  [assignment(1, 7, valid_from=date(2027, 2, 15))],
                  quotas=[quota(2, 5, 1, "1000", holder="team")], lines=lines)
    plan = plan_text('  - {name: Team, kind: team, share_of_target_incentive: "100%"}\n')
    result = run(backend, data, plan)
    assert lines_of(result.earning_lines) == [(7, "Team", "team", None, D("5000.00"))]


def test_same_inputs_give_identical_output(backend: Backend) -> None:
    data = tables(THREE_DEALS, [assignment(1, 7)], quotas=[quota(1, 7, 1, "100000")])
    plan = plan_text(QUOTA_TIERS.format(mode="retroactive"))
    first, second = run(backend, data, plan), run(backend, data, plan)
    assert first.earning_lines.equals(second.earning_lines)
    assert first.credits.equals(second.credits)
    assert first.measures.equals(second.measures)


def test_input_problems_are_all_reported(backend: Backend) -> None:
    splits = [{"opportunity_id": 1, "person_id": 7, "percent": "60", "kind": "revenue"},
              {"opportunity_id": 1, "person_id": 8, "percent": "30", "kind": "revenue"}]
    data = tables([booking(1, 7, "1000", date(2027, 1, 10))],
                  [assignment(1, 7), assignment(2, 7, valid_from=date(2027, 3, 1)),
                   assignment(3, 8, plan_version_id=9)], splits=splits)
    with pytest.raises(CompensationInputError) as raised:
        run(backend, data, plan_text('  - {name: C, kind: commission, rate: "1%"}\n'))
    assert raised.value.problems == (
        "assignment 3 uses plan version 9, which was not given to the run",
        "person 7 has assignments 1 and 2 for overlapping dates; end one before the other "
        "starts",
        "opportunity 1: revenue splits add up to 90%, not 100% (declare extra credit as "
        "overlay)",
    )


def test_missing_exchange_rate_fails_the_run(backend: Backend) -> None:
    data = tables([booking(1, 7, "1000", date(2027, 1, 10), currency="GBP")],
                  [assignment(1, 7)])
    with pytest.raises(MissingExchangeRateError) as raised:
        run(backend, data, plan_text('  - {name: C, kind: commission, rate: "1%"}\n'))
    assert "GBP in 2027-01 (1 booking)" in str(raised.value)


def test_payouts_follow_from_the_earning_lines(backend: Backend) -> None:
    """The run hands its lines to the payout run: 9,000 at the issue's marginal tiers = 680
    earned and, paid on booking with nothing owed, 680 paid."""
    data = tables([booking(1, 7, "9000", date(2027, 2, 1))], [assignment(1, 7)])
    result = compute_compensation(backend, data, {1: plan_text(MARGINAL_ON_AMOUNT)}, *Q1, AS_OF)
    [payout] = result.payouts.to_pylist()
    assert (payout["person_id"], payout["earned"], payout["payout"]) == (
        7, D("680.00"), D("680.00"))


def test_ytd_retroactive_true_up_counts_what_earlier_periods_paid(backend: Backend) -> None:
    """Annual quota 400,000; retroactive 5% below 100% YTD, 8% from 100%.
    Q1: 350,000 (87.5%, band 1) was paid 350,000 x 5% = 17,500.
    Q2: deal of 100,000 takes YTD to 450,000 (112.5%, band 2): line 100,000 x 8% = 8,000;
    true-up = 450,000 x 8% - 17,500 - 8,000 = 36,000 - 25,500 = 10,500.
    Year to date 17,500 + 8,000 + 10,500 = 36,000 = everything at 8%."""
    data = tables([booking(1, 7, "350000", date(2027, 2, 1)),
                   booking(2, 7, "100000", date(2027, 5, 1))], [assignment(1, 7)],
                  quotas=[quota(1, 7, 10, "400000")])
    plan = plan_text(
        '  - name: C\n    kind: commission\n    measurement: ytd\n    tiers:\n'
        '      basis: attainment\n      mode: retroactive\n      bands:\n'
        '        - {from: "0%", to: "100%", rate: "5%"}\n'
        '        - {from: "100%", rate: "8%"}\n')
    result = run(backend, data, plan, Q2, date(2027, 6, 30))
    assert lines_of(result.earning_lines) == [
        (7, "C", "commission", 2, D("8000.00")), (7, "C", "true_up", None, D("10500.00"))]


def test_plan_year_bonus_pays_only_in_the_period_ending_the_plan_year(
        backend: Backend) -> None:
    """A plan_year bonus has no line in Q1 (the plan year ends 2028-01-01)."""
    data = tables([booking(1, 7, "500000", date(2027, 1, 10))], [assignment(1, 7)],
                  quotas=[quota(1, 7, 10, "400000")])
    plan = plan_text('  - {name: C, kind: commission, rate: "0%"}\n'
                     '  - {name: Annual, kind: bonus, measurement: plan_year, '
                     'step: [{at: "100%", amount: 5000}]}\n')
    result = run(backend, data, plan)
    assert [r["component"] for r in result.earning_lines.to_pylist()] == ["C"]


def test_a_return_walks_back_down_the_marginal_bands(backend: Backend) -> None:
    """9,000 then a -2,000 credit note: the return takes cum 9,000 → 7,000:
    -1,000 in band 3 at 10% = -100 and -1,000 in band 2 at 8% = -80 → -180.
    680 - 180 = 500 = pay on 7,000 (3,000 x 6% + 4,000 x 8% = 180 + 320)."""
    data = tables([booking(1, 7, "9000", date(2027, 2, 1)),
                   booking(2, 7, "-2000", date(2027, 2, 2))], [assignment(1, 7)])
    result = run(backend, data, plan_text(MARGINAL_ON_AMOUNT))
    assert lines_of(result.earning_lines) == [
        (7, "Commission", "commission", 1, D("680.00")),
        (7, "Commission", "commission", 2, D("-180.00"))]


def test_manager_overlay_example_plan_rolls_credit_up_the_hierarchy(backend: Backend) -> None:
    """manager-overlay-plan.yaml: manager 20 over reps 7 and 8 (roll-up, 2 levels).
    Annual quota 400,000, target incentive 80,000; YTD rate from the 60% share:
    0.6 x 80,000 / 400,000 = 12%. Q1 roll-up credit 150,000 + 100,000 = 250,000 = 62.5%
    (above the 50% threshold, band 1, multiplier 1): 18,000 + 12,000 = 30,000; the true-up
    is 250,000 x 12% - 30,000 = 0. No team quota: the team component and the team-goal bonus
    pay 0 and say why."""
    plan = parse_plan(example_plan_texts()["manager-overlay-plan.yaml"])
    lines = [{"person_id": p, "manager_id": 20, "team_id": None,
              "valid_from": date(2026, 1, 1), "valid_to": None} for p in (7, 8)]
    data = tables([booking(1, 7, "150000", date(2027, 1, 10)),
                   booking(2, 8, "100000", date(2027, 2, 10))],
                  [assignment(1, 20, target_incentive="80000")],
                  quotas=[quota(1, 20, 10, "400000")], lines=lines)
    result = run(backend, data, plan)
    assert lines_of(result.earning_lines) == [
        (20, "Roll-up commission", "commission", 1, D("18000.00")),
        (20, "Roll-up commission", "commission", 2, D("12000.00")),
        (20, "Roll-up commission", "true_up", None, D("0.00")),
        (20, "Team attainment", "team", None, D("0.00")),
        (20, "Team goal bonus", "bonus", None, D("0.00")),
    ]
    team = json.loads(result.earning_lines.to_pylist()[3]["trace"])
    assert "no team quota for the period: nothing is paid on attainment" in team


def test_plan_change_mid_period_splits_credits_by_assignment(backend: Backend) -> None:
    """Assignment 1 (plan 1, 5%) until 2027-02-15, assignment 2 (plan 2, 10%) from then on.
    10,000 booked on Jan 10 → 500 under assignment 1; 10,000 on Mar 1 → 1,000 under 2."""
    data = tables([booking(1, 7, "10000", date(2027, 1, 10)),
                   booking(2, 7, "10000", date(2027, 3, 1))],
                  [assignment(1, 7, valid_to=date(2027, 2, 15)),
                   assignment(2, 7, plan_version_id=2, valid_from=date(2027, 2, 15))])
    plans = {1: plan_text('  - {name: C, kind: commission, rate: "5%"}\n'),
             2: plan_text('  - {name: C, kind: commission, rate: "10%"}\n')}
    result = compute_compensation(backend, data, plans, *Q1, AS_OF, with_payouts=False)
    assert [(r["assignment_id"], r["plan_version_id"], r["booking_id"], r["amount"])
            for r in result.earning_lines.to_pylist()] == [
        (1, 1, 1, D("500.00")), (2, 2, 2, D("1000.00"))]


def test_manager_without_a_quota_gets_lines_that_say_why_they_pay_nothing(
        backend: Backend) -> None:
    """manager-overlay-plan.yaml for a manager with no personal quota (the demo has such
    managers): the roll-up commission is measured on attainment, so there is no attainment, no
    band and no rate: each roll-up line pays 0 (150,000 x 0 = 0), the true-up 0 - 0 - 0 = 0,
    and every line still carries a readable trace saying no band applies and why."""
    plan = parse_plan(example_plan_texts()["manager-overlay-plan.yaml"])
    lines = [{"person_id": 7, "manager_id": 20, "team_id": None,
              "valid_from": date(2026, 1, 1), "valid_to": None}]
    data = tables([booking(1, 7, "150000", date(2027, 1, 10))],
                  [assignment(1, 20, target_incentive="80000")], lines=lines)
    result = compute_compensation(backend, data, {1: plan}, *Q1, AS_OF)
    assert lines_of(result.earning_lines)[:1] == [
        (20, "Roll-up commission", "commission", 1, D("0.00"))]
    first = json.loads(result.earning_lines.to_pylist()[0]["trace"])
    assert first[4] == ("Tiers (retroactive on attainment): no band applies (no quota, so no "
                        "attainment to place this credit on)")
    assert first[5] == "no quota for the period: nothing is paid on attainment"
    assert all(r["trace"] for r in result.earning_lines.to_pylist())
    [payout] = result.payouts.to_pylist()
    assert (payout["person_id"], payout["payout"]) == (20, D("0.00"))


def test_the_run_carries_the_payout_result_and_the_opening_state(backend: Backend) -> None:
    """One call from credits to payouts: a prior-period adjustment given in `tables` is paid
    and the payout result (lines, payouts, closing balances and ledger) comes back whole.
    9,000 at the issue's marginal tiers = 680 earned, paid on booking; + 45.50 correction of
    a closed period = 725.50 paid. Nothing is owed or deferred: no balance, no ledger row
    (the paid part's clawback window is not open: the plan has no clawback)."""
    from attain.engine.compensation.payouts import COMP_PAYOUT_ADJUSTMENTS

    data = tables([booking(1, 7, "9000", date(2027, 2, 1))], [assignment(1, 7)])
    data["comp_payout_adjustments"] = pa.Table.from_pylist([{
        "adjustment_key": "1:Commission:commission:99:owner|r2", "person_id": 7,
        "period_start": date(2026, 10, 1), "component": "Commission", "booking_id": 99,
        "kind": "commission", "change": "changed", "before_amount": D("100.00"),
        "after_amount": D("145.50"), "amount": D("45.50"), "currency": "USD",
        "reason": "late booking date fix"}], schema=COMP_PAYOUT_ADJUSTMENTS.schema)
    result = compute_compensation(backend, data, {1: plan_text(MARGINAL_ON_AMOUNT)}, *Q1, AS_OF)
    [payout] = result.payouts.to_pylist()
    assert (payout["earned"], payout["adjustments"], payout["payout"]) == (
        D("680.00"), D("45.50"), D("725.50"))
    assert sorted((r["kind"], r["amount"]) for r in result.payout_lines.to_pylist()) == [
        ("adjustment", D("45.50")), ("payable", D("680.00"))]
    assert (result.balances.num_rows, result.ledger.num_rows) == (0, 0)
