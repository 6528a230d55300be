"""Percentiles, medians and leaderboard ranks of a performance run, worked by hand on a small
organisation, on every backend.

    people   1 ann rep   2 bob rep   3 cat rep   4 mia manager (never a peer)   5 dan rep
    periods  11 Q1 2026 [1 Jan, 1 Apr), 12 Q2 2026 [1 Apr, 1 Jul)
    Q2 rows  ann team 100: attainment 50.0, bookings 1,500.50, win rate 50.0, deal 750.25,
                 cycle 20.0, created 3,000.00, coverage 3.80, won 2
             bob team 100: 125.0, 2,500.00, 100.0, 2,500.00, 10.0, 0.00, -, won 1
             cat team 200: 44.0, 440.00, -, -, -, 1,000.00, 1.50, won 0
             dan no team:  -, 440.00, -, -, -, 0.00, -, won 0
             mia team 100: 200.0, 9,999.00 … (a manager: left out of every rank)
    Q1 rows  ann team 100 bookings 100.00 won 1; bob team 200 0.00 won 0; cat team 200 900.00
             won 3 (dan has no Q1 row)
    stage conversion Q2: stage 7 ann 50.0, bob 100.0, cat 0.0, mia 80.0; stage 8 ann 25.0

Percentile = floor((100 x (2 x beats + ties) + n) / (2 x n)), ties counting the value itself.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa

from attain.engine.calculations.performance_ranks import (
    RANK_CONVERSIONS,
    RANK_PEOPLE,
    RANK_PERSON,
    compute_rankings,
    with_conversion_pct,
    with_ratios,
)
from tests.engine.conftest import periods_table

Q1, Q2 = 11, 12
ANN, BOB, CAT, MIA, DAN = 1, 2, 3, 4, 5
D = Decimal


def person_row(person_id: int, period_id: int, team_id: int | None, bookings: str,
               won: int, attainment: str | None = None, win_rate: str | None = None,
               deal: str | None = None, cycle: str | None = None, created: str = "0.00",
               coverage: str | None = None) -> dict[str, Any]:
    def dec(text: str | None) -> Decimal | None:
        return None if text is None else D(text)

    return {"person_id": person_id, "period_id": period_id, "team_id": team_id,
            "attainment_pct": dec(attainment), "bookings": D(bookings),
            "win_rate_pct": dec(win_rate), "avg_deal_size": dec(deal),
            "avg_cycle_days": dec(cycle), "pipeline_created": D(created),
            "coverage": dec(coverage), "won_count": won}


def rankings(backend: Any) -> dict[str, pa.Table]:
    person = pa.Table.from_pylist([
        person_row(ANN, Q2, 100, "1500.50", 2, "50.0", "50.0", "750.25", "20.0", "3000.00",
                   "3.80"),
        person_row(BOB, Q2, 100, "2500.00", 1, "125.0", "100.0", "2500.00", "10.0"),
        person_row(CAT, Q2, 200, "440.00", 0, "44.0", created="1000.00", coverage="1.50"),
        person_row(DAN, Q2, None, "440.00", 0),
        person_row(MIA, Q2, 100, "9999.00", 9, "200.0", "90.0", "1111.00", "1.0", "5.00",
                   "9.00"),
        person_row(ANN, Q1, 100, "100.00", 1),
        person_row(BOB, Q1, 200, "0.00", 0),
        person_row(CAT, Q1, 200, "900.00", 3),
    ], schema=RANK_PERSON.schema)
    conversions = pa.Table.from_pylist([
        {"person_id": p, "period_id": Q2, "stage_id": s, "conversion_pct": D(v)}
        for p, s, v in ((ANN, 7, "50.0"), (BOB, 7, "100.0"), (CAT, 7, "0.0"), (MIA, 7, "80.0"),
                        (ANN, 8, "25.0"))], schema=RANK_CONVERSIONS.schema)
    people = pa.Table.from_pylist([
        {"person_id": p, "role": r} for p, r in ((ANN, "rep"), (BOB, "rep"), (CAT, "rep"),
                                                 (MIA, "manager"), (DAN, "rep"))],
        schema=RANK_PEOPLE.schema)
    periods = periods_table((Q1, "quarter", date(2026, 1, 1), date(2026, 4, 1)),
                            (Q2, "quarter", date(2026, 4, 1), date(2026, 7, 1)))
    return compute_rankings(backend, person, conversions, people, periods)


def by_person(table: pa.Table, period_id: int) -> dict[int, dict[str, Any]]:
    return {r["person_id"]: r for r in table.to_pylist() if r["period_id"] == period_id}


def test_percentiles_company_wide_and_in_the_team(backend):
    ranks = by_person(rankings(backend)["person_ranks"], Q2)

    assert set(ranks) == {ANN, BOB, CAT, DAN}  # mia is a manager
    # bookings among 4 peers: bob beats 3 → (100 x 7 + 4) // 8 = 88; ann beats 2 → 504 // 8
    # = 63; cat and dan tie (2 ties) → 204 // 8 = 25
    assert [ranks[p]["pctl_bookings"] for p in (BOB, ANN, CAT, DAN)] == [88, 63, 25, 25]
    # team 100 (ann, bob): 302 // 4 = 75, 102 // 4 = 25; team 200 (cat alone) 101 // 2 = 50
    assert [ranks[p]["team_pctl_bookings"] for p in (BOB, ANN, CAT, DAN)] == [75, 25, 50, None]
    # attainment among 3 (dan has none): 503 // 6 = 83, 303 // 6 = 50, 103 // 6 = 17
    assert [ranks[p]["pctl_attainment_pct"] for p in (BOB, ANN, CAT, DAN)] == [83, 50, 17, None]
    # cycle: shorter is better — bob (10.0) beats ann (20.0): 302 // 4 = 75, 102 // 4 = 25
    assert (ranks[BOB]["pctl_avg_cycle_days"], ranks[ANN]["pctl_avg_cycle_days"]) == (75, 25)
    assert ranks[CAT]["pctl_avg_cycle_days"] is None


def test_leaderboard_ranks_share_places_and_move_against_the_previous_quarter(backend):
    ranks = by_person(rankings(backend)["person_ranks"], Q2)

    # won deals 2, 1, 0, 0 → 1, 2, 3, 3 (equal values share a rank)
    assert [ranks[p]["rank_won_count"] for p in (ANN, BOB, CAT, DAN)] == [1, 2, 3, 3]
    # bookings now bob, ann, cat = dan; Q1 cat 900.00, ann 100.00, bob 0.00; dan new
    assert [ranks[p]["rank_bookings"] for p in (BOB, ANN, CAT, DAN)] == [1, 2, 3, 3]
    assert [ranks[p]["prev_rank_bookings"] for p in (BOB, ANN, CAT, DAN)] == [3, 2, 1, None]
    # in the team: bob moved from team 200 to 100, so he has no previous place in team 100
    assert [ranks[p]["team_rank_bookings"] for p in (BOB, ANN, CAT, DAN)] == [1, 2, 1, None]
    assert [ranks[p]["team_prev_rank_bookings"] for p in (BOB, ANN, CAT, DAN)] == [
        None, 1, 1, None]
    # no value, no place: dan has no attainment
    assert ranks[DAN]["rank_attainment_pct"] is None
    assert by_person(rankings(backend)["person_ranks"], Q1)[CAT]["rank_bookings"] == 1


def test_medians_of_each_scope_and_measure(backend):
    rows = rankings(backend)["medians"].to_pylist()
    medians = {(r["period_id"], r["team_id"], r["measure"], r["stage_id"]): (r["median"],
                                                                            r["value_count"])
               for r in rows}

    # 440.00, 440.00, 1,500.50, 2,500.00 → (440.00 + 1,500.50) / 2 = 970.25
    assert medians[(Q2, None, "bookings", None)] == (D("970.25"), 4)
    assert medians[(Q2, 100, "bookings", None)] == (D("2000.25"), 2)
    assert medians[(Q2, 200, "bookings", None)] == (D("440.00"), 1)
    assert medians[(Q2, None, "attainment_pct", None)] == (D("50.00"), 3)
    # (750.25 + 2,500.00) / 2 = 1,625.125 → 1,625.12 (half to even)
    assert medians[(Q2, None, "avg_deal_size", None)] == (D("1625.12"), 2)
    assert medians[(Q2, None, "avg_cycle_days", None)] == (D("15.00"), 2)
    assert (Q2, None, "coverage", None) in medians and (Q2, None, "win_rate_pct", None) in medians
    # stage 7: 0.0, 50.0, 100.0 (mia's 80.0 is a manager's) → 50.0; team 100: 75.00
    assert medians[(Q2, None, "conversion", 7)] == (D("50.00"), 3)
    assert medians[(Q2, 100, "conversion", 7)] == (D("75.00"), 2)
    assert medians[(Q2, None, "conversion", 8)] == (D("25.00"), 1)
    assert not any(key[1] is None and key[2] == "bookings" and key[0] == Q2
                   and value[1] == 5 for key, value in medians.items())


def test_stage_conversion_percentiles(backend):
    rows = {(r["person_id"], r["stage_id"]): (r["pctl"], r["team_pctl"])
            for r in rankings(backend)["conversion_ranks"].to_pylist()}

    # stage 7 among ann 50.0, bob 100.0, cat 0.0: 50, 83, 17; team 100 25 and 75, cat alone 50
    assert rows == {(ANN, 7): (50, 25), (BOB, 7): (83, 75), (CAT, 7): (17, 50),
                    (ANN, 8): (50, 50)}


def test_ratios_follow_the_exact_rules():
    person = pa.table({
        "period_id": [Q2], "quota": pa.array([D("3000.00")], pa.decimal128(18, 2)),
        "bookings": pa.array([D("1500.50")], pa.decimal128(18, 2)),
        "open_pipeline": pa.array([D("5700.25")], pa.decimal128(18, 2)),
        "won_count": [2], "lost_count": [1],
        "won_amount": pa.array([D("1500.50")], pa.decimal128(18, 2)), "cycle_days_sum": [41]})
    periods = periods_table((Q2, "quarter", date(2026, 4, 1), date(2026, 7, 1)))

    row = with_ratios(person, periods, date(2026, 4, 30)).to_pylist()[0]

    # 1,500.50 / 3,000.00 = 50.0 %; 30 of 91 days → 3,000.00 x 30 / 91 = 989.01; pace
    # 1,500.50 / 989.01 = 151.7 %; coverage 5,700.25 / 1,499.50 = 3.80; 2 of 3 won = 66.7 %;
    # 1,500.50 / 2 = 750.25; 41 / 2 = 20.5 days
    assert {k: row[k] for k in ("attainment_pct", "expected_to_date", "pace_pct", "coverage",
                                "win_rate_pct", "avg_deal_size", "avg_cycle_days")} == {
        "attainment_pct": D("50.0"), "expected_to_date": D("989.01"), "pace_pct": D("151.7"),
        "coverage": D("3.80"), "win_rate_pct": D("66.7"), "avg_deal_size": D("750.25"),
        "avg_cycle_days": D("20.5")}
    conversions = with_conversion_pct(pa.table({"advanced": [1, 0], "entered": [3, 2]}))
    assert conversions.column("conversion_pct").to_pylist() == [D("33.3"), D("0.0")]
