"""Pipeline analytics on a fixture small enough to compute by hand, on DuckDB and Spark.

Stages (pipeline "default"): 1 Prospecting (position 1), 2 Qualification (2), 3 Proposal (3),
4 Won (4, won), 5 Lost (5, lost). Periods: 1 = FY2026-Q1, 2 = FY2026-Q2, 3 = January 2026.
Scopes: person 7, person 8, team 100 = {7, 8}. EUR converts at 1.10 in January 2026.

    opp owner created     amount      stage history (day: from→to, expected close)      now
    1   7     2026-01-05  1000.00 USD 01-05 →1 (03-01), 01-15 1→2 (03-01),
                                      01-25 2→3 (03-15: a push), 02-04 3→4 (02-04)      won 02-04
    2   7     2026-01-10   100.00 EUR 01-10 →1 (02-15), 01-20 1→2 (02-15), 03-01 2→5    lost 03-01
    3   8     2026-02-01   no amount  02-01 →1 (03-31), 02-11 1→2 (05-31: a push)      open in 2
    4   —     2026-04-02   500.00 USD 04-02 →1                                          open in 1

Leads: L1 (7, Inbound) created 01-02, qualified 01-04, converted to opp 1 (won); L2 (7, Inbound)
created 01-03, never qualified; L3 (8, Partner) created 02-10, qualified 02-12.
The end of the data (as_of) is 2026-04-10.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from attain.engine.calculations.pipeline import (
    MissingOpportunityRateError,
    compute_pipeline_analytics,
)
from attain.engine.schemas import (
    PIPELINE_FACTS,
    PIPELINE_LEADS,
    PIPELINE_OPPORTUNITIES,
    PIPELINE_SCOPES,
    PIPELINE_STAGE_CHANGES,
    PIPELINE_STAGE_FACTS,
    PIPELINE_STAGES,
)
from tests.engine.conftest import periods_table, rates_table

D = date
Q1, Q2, JAN = 1, 2, 3
AS_OF = D(2026, 4, 10)


def table(logical, rows):
    return pa.Table.from_pylist(rows, schema=logical.schema)


def opportunity(oid, owner, created, amount, currency, stage, close, *, closed=False,
                won=False, segment="smb", source="Inbound", deal_type="new", reason="",
                product=""):
    return {"opportunity_id": oid, "owner_id": owner, "created_on": created,
            "close_date": close, "is_closed": closed, "is_won": won,
            "amount": None if amount is None else Decimal(amount), "currency": currency,
            "stage_id": stage, "segment": segment, "source": source, "deal_type": deal_type,
            "loss_reason": reason, "product": product}


def inputs():
    opportunities = table(PIPELINE_OPPORTUNITIES, [
        opportunity(1, 7, D(2026, 1, 5), "1000.00", "USD", 4, D(2026, 2, 4), closed=True,
                    won=True, product="Pro"),
        opportunity(2, 7, D(2026, 1, 10), "100.00", "EUR", 5, D(2026, 3, 1), closed=True,
                    source="Outbound", reason="Price"),
        opportunity(3, 8, D(2026, 2, 1), None, "USD", 2, D(2026, 5, 31), segment="mid",
                    deal_type="expansion"),
        opportunity(4, None, D(2026, 4, 2), "500.00", "USD", 1, D(2026, 6, 30), segment="",
                    source=""),
    ])
    stages = table(PIPELINE_STAGES, [
        {"stage_id": i, "pipeline": "default", "position": i, "is_won": i == 4,
         "is_lost": i == 5} for i in range(1, 6)])
    history = [  # change id, opp, from, to, day, expected close
        (1, 1, None, 1, D(2026, 1, 5), D(2026, 3, 1)),
        (2, 1, 1, 2, D(2026, 1, 15), D(2026, 3, 1)),
        (3, 1, 2, 3, D(2026, 1, 25), D(2026, 3, 15)),
        (4, 1, 3, 4, D(2026, 2, 4), D(2026, 2, 4)),
        (5, 2, None, 1, D(2026, 1, 10), D(2026, 2, 15)),
        (6, 2, 1, 2, D(2026, 1, 20), D(2026, 2, 15)),
        (7, 2, 2, 5, D(2026, 3, 1), None),
        (8, 3, None, 1, D(2026, 2, 1), D(2026, 3, 31)),
        (9, 3, 1, 2, D(2026, 2, 11), D(2026, 5, 31)),
        (10, 4, None, 1, D(2026, 4, 2), D(2026, 6, 30)),
    ]
    changes = table(PIPELINE_STAGE_CHANGES, [
        {"change_id": c, "opportunity_id": o, "from_stage_id": f, "to_stage_id": t,
         "changed_on": on, "changed_seq": c, "close_date": close}
        for c, o, f, t, on, close in history])
    leads = table(PIPELINE_LEADS, [
        {"lead_id": 1, "owner_id": 7, "source": "Inbound", "created_on": D(2026, 1, 2),
         "qualified_on": D(2026, 1, 4), "converted_on": D(2026, 1, 5), "opportunity_id": 1},
        {"lead_id": 2, "owner_id": 7, "source": "Inbound", "created_on": D(2026, 1, 3),
         "qualified_on": None, "converted_on": None, "opportunity_id": None},
        {"lead_id": 3, "owner_id": 8, "source": "Partner", "created_on": D(2026, 2, 10),
         "qualified_on": D(2026, 2, 12), "converted_on": None, "opportunity_id": None},
    ])
    scopes = table(PIPELINE_SCOPES, [
        {"scope_kind": "person", "scope_id": 7, "person_id": 7},
        {"scope_kind": "person", "scope_id": 8, "person_id": 8},
        {"scope_kind": "team", "scope_id": 100, "person_id": 7},
        {"scope_kind": "team", "scope_id": 100, "person_id": 8},
    ])
    periods = periods_table((Q1, "quarter", D(2026, 1, 1), D(2026, 4, 1)),
                            (Q2, "quarter", D(2026, 4, 1), D(2026, 7, 1)),
                            (JAN, "month", D(2026, 1, 1), D(2026, 2, 1)))
    rates = rates_table(("EUR", D(2026, 1, 1), "1.10000000"),
                        *[("USD", D(2026, m, 1), "1") for m in range(1, 7)])
    return {"opportunities": opportunities, "stages": stages, "changes": changes,
            "leads": leads, "scopes": scopes, "periods": periods, "rates": rates}


def by_key(result, key_columns):
    return {tuple(row[c] for c in key_columns): row for row in result.to_pylist()}


@pytest.fixture
def results(backend):
    return compute_pipeline_analytics(backend, as_of=AS_OF, **inputs())


def test_facts_count_created_closed_cycle_leads_and_pushes(results):
    facts = by_key(results.facts, ["scope_kind", "scope_id", "period_id", "slice_dim",
                                   "slice_value"])
    company_q1 = facts[("company", 0, Q1, "", "")]
    # created in Q1: opps 1, 2, 3 = 1000.00 + 100.00 x 1.10 + 0.00 = 1110.00
    assert (company_q1["created_count"], company_q1["created_amount"]) == (3, Decimal("1110.00"))
    # closed in Q1: opp 1 won (1000.00), opp 2 lost (110.00); cycle 2026-01-05 → 02-04 = 30 days
    assert (company_q1["won_count"], company_q1["won_amount"]) == (1, Decimal("1000.00"))
    assert (company_q1["lost_count"], company_q1["lost_amount"]) == (1, Decimal("110.00"))
    assert (company_q1["cycle_days_sum"], company_q1["cycle_days_median"]) == (30, Decimal("30.0"))
    # leads created in Q1: L1, L2, L3; qualified L1, L3; converted L1, which was won
    assert [company_q1[k] for k in ("leads_created", "leads_qualified", "leads_converted",
                                    "leads_won")] == [3, 2, 1, 1]
    # pushes in Q1: opp 1 on 01-25 (03-01 → 03-15) and opp 3 on 02-11 (03-31 → 05-31)
    assert (company_q1["slipped_count"], company_q1["push_count"]) == (2, 2)
    # Q2: opp 4 only (nobody's: company figures only)
    company_q2 = facts[("company", 0, Q2, "", "")]
    assert (company_q2["created_count"], company_q2["created_amount"]) == (1, Decimal("500.00"))
    assert ("team", 100, Q2, "", "") not in facts


def test_facts_per_person_team_month_and_slice(results):
    facts = by_key(results.facts, ["scope_kind", "scope_id", "period_id", "slice_dim",
                                   "slice_value"])
    ann = facts[("person", 7, Q1, "", "")]
    assert (ann["created_count"], ann["created_amount"], ann["won_count"], ann["lost_count"]
            ) == (2, Decimal("1110.00"), 1, 1)
    assert (ann["leads_created"], ann["leads_qualified"], ann["slipped_count"]) == (2, 1, 1)
    bob = facts[("person", 8, Q1, "", "")]
    assert (bob["created_count"], bob["created_amount"], bob["leads_created"],
            bob["leads_qualified"], bob["slipped_count"]) == (1, Decimal("0.00"), 1, 1, 1)
    team = facts[("team", 100, Q1, "", "")]
    assert (team["created_count"], team["created_amount"], team["leads_created"]) == (
        3, Decimal("1110.00"), 3)
    # January: opps 1 and 2 created (1110.00), leads L1 and L2, one push (opp 1 on 01-25)
    january = facts[("company", 0, JAN, "", "")]
    assert (january["created_count"], january["created_amount"], january["won_count"],
            january["leads_created"], january["push_count"]) == (2, Decimal("1110.00"), 0, 2, 1)
    # slices: smb = opps 1 and 2; mid = opp 3; Inbound = opps 1, 3 and leads L1, L2;
    # Partner has only a lead; product "Pro" = opp 1
    assert facts[("company", 0, Q1, "segment", "smb")]["created_count"] == 2
    assert facts[("company", 0, Q1, "segment", "mid")]["created_count"] == 1
    inbound = facts[("company", 0, Q1, "source", "Inbound")]
    assert (inbound["created_count"], inbound["leads_created"]) == (2, 2)
    partner = facts[("company", 0, Q1, "source", "Partner")]
    assert (partner["created_count"], partner["leads_created"], partner["leads_qualified"]
            ) == (0, 1, 1)
    pro = facts[("company", 0, Q1, "product", "Pro")]
    assert (pro["won_count"], pro["won_amount"]) == (1, Decimal("1000.00"))


def test_stage_facts_cohort_flow_and_time_in_stage(results):
    stages = by_key(results.stage_facts, ["scope_kind", "scope_id", "period_id", "slice_dim",
                                          "stage_id"])
    q1 = {s: stages[("company", 0, Q1, "", s)] for s in (1, 2, 3, 4)}
    # cohort (created in Q1: 1, 2, 3): reach 1 = won (all), 2 = position 2, 3 = position 2
    assert [q1[s]["cohort_reached"] for s in (1, 2, 3, 4)] == [3, 3, 1, 1]
    assert [q1[s]["cohort_open"] for s in (1, 2, 3, 4)] == [0, 1, 0, 0]  # opp 3 still in 2
    # flow in Q1: entered 1 by changes 1, 5, 8; 2 by 2, 6, 9; 3 by 3; 4 by 4
    assert [q1[s]["flow_entered"] for s in (1, 2, 3, 4)] == [3, 3, 1, 1]
    # out of 1: 2, 6, 9 advance; out of 2: 3 advances, 7 is lost; out of 3: 4 advances (won)
    assert [(q1[s]["flow_advanced"], q1[s]["flow_lost"]) for s in (1, 2, 3)] == [
        (3, 0), (1, 1), (1, 0)]
    # stays ended in Q1: stage 1: 10, 10, 10 days; stage 2: 10 (opp 1), 40 (opp 2, 01-20 →
    # 03-01; opp 3's stay is still open: censored); stage 3: 10
    assert [(q1[s]["stay_count"], q1[s]["stay_days_sum"], q1[s]["stay_days_median"])
            for s in (1, 2, 3)] == [(3, 30, Decimal("10.0")), (2, 50, Decimal("25.0")),
                                    (1, 10, Decimal("10.0"))]
    assert ("company", 0, Q1, "", 5) not in stages  # a lost stage is not a funnel step
    q2 = stages[("company", 0, Q2, "", 1)]
    assert (q2["cohort_reached"], q2["cohort_open"], q2["flow_entered"]) == (1, 1, 1)
    assert ("company", 0, JAN, "", 1) not in stages  # months get facts only


def test_flows_and_breakdowns(results):
    flows = {(r["from_stage_id"], r["to_stage_id"]): r["transitions"]
             for r in results.flows.to_pylist()
             if (r["scope_kind"], r["period_id"], r["slice_dim"]) == ("company", Q1, "")}
    assert flows == {(0, 1): 3, (1, 2): 3, (2, 3): 1, (3, 4): 1, (2, 5): 1}
    rows = by_key(results.breakdown, ["scope_kind", "scope_id", "period_id", "dimension",
                                      "value"])
    price = rows[("company", 0, Q1, "loss_reason", "Price")]
    assert (price["lost_count"], price["lost_amount"], price["won_count"]) == (
        1, Decimal("110.00"), 0)
    smb = rows[("company", 0, Q1, "segment", "smb")]
    assert (smb["won_count"], smb["won_amount"], smb["lost_count"]) == (1, Decimal("1000.00"), 1)
    small = rows[("company", 0, Q1, "deal_size", "< 10k")]
    assert (small["won_count"], small["lost_count"]) == (1, 1)
    assert rows[("company", 0, Q1, "cycle_length", "15-30 d")]["won_count"] == 1  # 30 days
    # open at 2026-04-10: opp 3 is 68 days old (0.00), opp 4 is 8 days old (500.00)
    assert rows[("company", 0, 0, "age", "61-90 d")]["open_count"] == 1
    assert rows[("company", 0, 0, "age", "0-30 d")]["open_amount"] == Decimal("500.00")
    assert ("person", 8, 0, "age", "61-90 d") in rows
    assert ("person", 7, 0, "age", "0-30 d") not in rows


def test_a_missing_rate_fails_naming_currency_and_month(backend):
    data = inputs()
    data["rates"] = rates_table(*[("USD", D(2026, m, 1), "1") for m in range(1, 7)])
    with pytest.raises(MissingOpportunityRateError, match=r"EUR in 2026-01 \(1 opportunity\)"):
        compute_pipeline_analytics(backend, as_of=AS_OF, **data)


def stage_row(kind, scope, stage, advanced, lost, stays, days):
    return {"scope_kind": kind, "scope_id": scope, "period_id": Q1, "slice_dim": "",
            "slice_value": "", "stage_id": stage, "cohort_reached": 0, "cohort_open": 0,
            "flow_entered": 0, "flow_advanced": advanced, "flow_lost": lost,
            "stay_count": stays, "stay_days_sum": days, "stay_days_median": None}


def lead_row(kind, scope, created, qualified):
    row = dict.fromkeys(PIPELINE_FACTS.schema.names, 0)
    row.update({"scope_kind": kind, "scope_id": scope, "period_id": Q1, "slice_dim": "",
                "slice_value": "", "created_amount": Decimal(0), "won_amount": Decimal(0),
                "lost_amount": Decimal(0), "cycle_days_median": None,
                "leads_created": created, "leads_qualified": qualified})
    return row


def test_bottlenecks_find_the_stage_furthest_from_the_benchmark_and_flag_leads(backend):
    from attain.engine.calculations.pipeline import bottlenecks

    stage_facts = table(PIPELINE_STAGE_FACTS, [
        # person 7: stage 1 converts 2 of 5 (0.4), 60 days over 5 stays (12.0);
        #           stage 2 4 of 5 (0.8), 10.0 days
        stage_row("person", 7, 1, 2, 3, 5, 60), stage_row("person", 7, 2, 4, 1, 5, 50),
        # team 100: stage 1 0.5 and 8.0 days; stage 2 0.8 and 10.0 days
        stage_row("team", 100, 1, 10, 10, 10, 80), stage_row("team", 100, 2, 8, 2, 10, 100),
        # company: stage 1 0.5 and 10.0 days; stage 2 0.8 and 10.0 days
        stage_row("company", 0, 1, 20, 20, 20, 200), stage_row("company", 0, 2, 16, 4, 20, 200),
    ])
    facts = table(PIPELINE_FACTS, [lead_row("person", 7, 20, 2), lead_row("team", 100, 40, 20),
                                   lead_row("company", 0, 40, 20)])
    scopes = table(PIPELINE_SCOPES, [{"scope_kind": "team", "scope_id": 100, "person_id": 7}])
    result = backend.execute(bottlenecks(backend.table("pipeline_stage_facts", stage_facts),
                                         backend.table("pipeline_facts", facts),
                                         backend.table("pipeline_scopes", scopes)))
    rows = by_key(result, ["scope_kind", "scope_id", "kind", "stage_id"])
    one = rows[("person", 7, "stage", 1)]
    # conversion gap (0.5 - 0.4) / 0.5 = 0.2; days gap (12 - 8) / 8 = 0.5; score 0.5: worst
    assert (one["conversion"], one["benchmark_conversion"], one["conversion_gap"]) == (
        Decimal("0.4000"), Decimal("0.5000"), Decimal("0.2000"))
    assert (one["days"], one["benchmark_days"], one["days_gap"], one["score"]) == (
        Decimal("12.0"), Decimal("8.0"), Decimal("0.5000"), Decimal("0.5000"))
    assert one["is_worst"] and (one["benchmark_kind"], one["benchmark_id"]) == ("team", 100)
    assert not rows[("person", 7, "stage", 2)]["is_worst"]  # both gaps 0
    # team vs company: stage 1 gaps 0 and (8 - 10) / 10 = -0.2 → score 0: nothing is worst
    team_one = rows[("team", 100, "stage", 1)]
    assert (team_one["days_gap"], team_one["score"], team_one["is_worst"]) == (
        Decimal("-0.2000"), Decimal("0.0000"), False)
    # leads: 2 of 20 qualify (0.1) against the team's 20 of 40 (0.5): below half → flagged
    leads = rows[("person", 7, "leads", 0)]
    assert (leads["conversion"], leads["benchmark_conversion"], leads["conversion_gap"],
            leads["volume"], leads["is_worst"]) == (
        Decimal("0.1000"), Decimal("0.5000"), Decimal("0.8000"), 20, True)
    assert rows[("team", 100, "leads", 0)]["is_worst"] is False  # 0.5 against 0.5

