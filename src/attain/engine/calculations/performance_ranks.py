"""The ratios of a performance run's per-person rows and what the rep comparison and the
leaderboards rank them by: each rep's percentile per measure, the medians, the leaderboard ranks
and the rank each rep held in the previous period — company-wide and within the rep's team.

Definitions (one period P at a time; a *peer* is a person whose role is "rep" and who has a row
in P; a peer's team is the team of their reporting line on P's reference day):

- **Ratios** (`with_ratios`, exact `Decimal`, see `performance.py`): attainment, expected to
  date, pace, coverage, and for people and teams win rate, average deal size and cycle.
- **Scopes**: the company (every peer) and each team (its peers). A value that is empty (no
  quota for attainment, nothing won for the average deal size …) takes no part in its measure.
- **Percentile** of a value among the `n` values of its scope and measure: the share it beats
  plus half the share it ties (itself included), in whole percent, half up:
  `floor((100 x (2 x beats + ties) + n) ÷ (2 x n))`; "beats" counts smaller values, or larger
  ones for the cycle length (shorter is better). Worked example: bookings 1,500.50, 2,500.00,
  440.00 → 2,500.00 beats 2 and ties 1: (100 x 5 + 3) ÷ 6 = 83 (83.8 floored); 440.00 → 17.
- **Median**: the middle value, or the mean of the two middle ones rounded to cents half to
  even (440.00, 1,500.50, 2,500.00 → 1,500.50; 1,500.50 and 2,500.00 → 2,000.25).
- **Leaderboard rank** (`LEADERBOARD_METRICS`, larger first): competition ranking, equal values
  share a rank ("1224"): 1 + the number of larger values in the scope. **Previous rank**: the
  rank in the period of the same kind that ends where P starts, in the same scope (for a team:
  only when the rep was in the same team then); empty for a rep without a value then.
- **Stage conversion** (quarters and years): each peer's conversion out of each stage is ranked
  among the peers' conversions out of the same stage, and has a median per stage.

Everything is computed by the backend with integer and exact decimal arithmetic, so DuckDB and
Spark give the same digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from attain.engine.backends.base import Backend
from attain.engine.calculations import performance as perf
from attain.engine.decimals import round_half_even
from attain.engine.schemas import MONEY, PERIODS, LogicalTable, register_logical_tables

# (measure, larger is better) of the comparison, in its column order
COMPARED: tuple[tuple[str, bool], ...] = (
    ("attainment_pct", True), ("bookings", True), ("win_rate_pct", True),
    ("avg_deal_size", True), ("avg_cycle_days", False), ("pipeline_created", True),
    ("coverage", True),
)
LEADERBOARD_METRICS: tuple[str, ...] = ("bookings", "attainment_pct", "won_count",
                                        "win_rate_pct", "avg_deal_size", "pipeline_created")
CONVERSION = "conversion"
PEER_ROLE = "rep"
VALUE = dt.Decimal(30, 2)
MEDIAN = pa.decimal128(20, 2)
PCT = pa.decimal128(18, 1)
RATIO = pa.decimal128(18, 2)

PERSON_RATIOS = pa.schema([
    pa.field("attainment_pct", PCT), pa.field("expected_to_date", MONEY),
    pa.field("pace_pct", PCT), pa.field("coverage", RATIO),
    pa.field("win_rate_pct", PCT), pa.field("avg_deal_size", MONEY),
    pa.field("avg_cycle_days", PCT),
])
PERSON_RANKS = pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("period_id", pa.int64(), nullable=False),
    *[pa.field(f"{scope}pctl_{key}", pa.int64()) for scope in ("", "team_")
      for key, _ in COMPARED],
    *[pa.field(f"{scope}{kind}_{key}", pa.int64()) for scope in ("", "team_")
      for kind in ("rank", "prev_rank") for key in LEADERBOARD_METRICS],
])
CONVERSION_RANKS = pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("stage_id", pa.int64(), nullable=False),
    pa.field("pctl", pa.int64()),
    pa.field("team_pctl", pa.int64()),
])
MEDIANS = pa.schema([
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("team_id", pa.int64()),  # null: the company
    pa.field("measure", pa.string(), nullable=False),
    pa.field("stage_id", pa.int64()),  # the stage of a conversion median, else null
    pa.field("median", MEDIAN, nullable=False),
    pa.field("value_count", pa.int64(), nullable=False),  # how many values the median is of
])
RANK_PERSON = LogicalTable("rank_person", pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("team_id", pa.int64()),
    pa.field("attainment_pct", PCT), pa.field("bookings", MONEY, nullable=False),
    pa.field("win_rate_pct", PCT), pa.field("avg_deal_size", MONEY),
    pa.field("avg_cycle_days", PCT), pa.field("pipeline_created", MONEY, nullable=False),
    pa.field("coverage", RATIO), pa.field("won_count", pa.int64(), nullable=False),
]), key=("person_id", "period_id"))
RANK_CONVERSIONS = LogicalTable("rank_conversions", pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("stage_id", pa.int64(), nullable=False),
    pa.field("conversion_pct", PCT),
]), key=("person_id", "period_id", "stage_id"))
RANK_PEOPLE = LogicalTable("rank_people", pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("role", pa.string(), nullable=False),
]), key=("person_id",))
register_logical_tables(RANK_PERSON, RANK_CONVERSIONS, RANK_PEOPLE)
RESULT_SCHEMAS: Mapping[str, pa.Schema] = {
    "person_ranks": PERSON_RANKS, "conversion_ranks": CONVERSION_RANKS, "medians": MEDIANS,
}


# --- exact ratios of the stored sums -------------------------------------------------------------


def with_ratios(table: pa.Table, periods: pa.Table, as_of: date) -> pa.Table:
    """`table` (person, team or manager rows of a performance run) plus its ratios: attainment,
    expected to date, pace and coverage; with `won_count` in `table` also win rate, average
    deal size and average cycle (the functions of `performance.py`, exactly)."""
    spans = dict(zip(periods.column("period_id").to_pylist(),
                     zip(periods.column("start").to_pylist(),
                         periods.column("end").to_pylist(), strict=True), strict=True))
    quota = table.column("quota").to_pylist()
    bookings = table.column("bookings").to_pylist()
    open_pipeline = table.column("open_pipeline").to_pylist()
    expected = [perf.expected_to_date(q, spans[p][0], spans[p][1], as_of)
                for q, p in zip(quota, table.column("period_id").to_pylist(), strict=True)]
    columns: dict[str, list[Any]] = {
        "attainment_pct": [perf.ratio_pct(b, q) for b, q in zip(bookings, quota, strict=True)],
        "expected_to_date": expected,
        "pace_pct": [perf.ratio_pct(b, e) for b, e in zip(bookings, expected, strict=True)],
        "coverage": [perf.coverage_ratio(o, q, b)
                     for o, q, b in zip(open_pipeline, quota, bookings, strict=True)],
    }
    if "won_count" in table.column_names:
        won = table.column("won_count").to_pylist()
        lost = table.column("lost_count").to_pylist()
        columns |= {
            "win_rate_pct": [perf.ratio_pct(w, w + n) for w, n in zip(won, lost, strict=True)],
            "avg_deal_size": [perf.average(a, w) for a, w in zip(
                table.column("won_amount").to_pylist(), won, strict=True)],
            "avg_cycle_days": [perf.average(d, w, Decimal("0.1")) for d, w in zip(
                table.column("cycle_days_sum").to_pylist(), won, strict=True)],
        }
    for name, values in columns.items():
        table = table.append_column(PERSON_RATIOS.field(name), pa.array(
            values, PERSON_RATIOS.field(name).type))
    return table


def with_conversion_pct(table: pa.Table) -> pa.Table:
    """Stage conversion rows plus `conversion_pct` = advanced ÷ entered in percent (one decimal,
    half up)."""
    values = [perf.ratio_pct(a, e) for a, e in zip(
        table.column("advanced").to_pylist(), table.column("entered").to_pylist(), strict=True)]
    return table.append_column(pa.field("conversion_pct", PCT), pa.array(values, PCT))


# --- ranks, percentiles and medians ---------------------------------------------------------------


def _int(value: int) -> ir.IntegerScalar:
    return ibis.literal(value, type=dt.int64)


def _values(person: ir.Table, conversions: ir.Table, people: ir.Table) -> ir.Table:
    """person_id, period_id, team_id, measure, stage_id (0 unless a conversion), value: every
    non-empty value of a peer, one row each."""
    reps = people.filter(people.role == PEER_ROLE).select("person_id")
    peers = person.semi_join(reps, "person_id")
    parts = []
    for key in dict.fromkeys([*(k for k, _ in COMPARED), *LEADERBOARD_METRICS]):
        present = peers.filter(peers[key].notnull())
        parts.append(present.select(
            person_id=present.person_id.cast(dt.int64), period_id=present.period_id.cast(dt.int64),
            team_id=present.team_id.cast(dt.int64), measure=ibis.literal(key, type=dt.string),
            stage_id=_int(0), value=present[key].cast(VALUE)))
    placed = peers.select(peer_id="person_id", peer_period_id="period_id", team_id="team_id")
    converted = conversions.filter(conversions.conversion_pct.notnull())
    converted = converted.join(placed, [converted.person_id == placed.peer_id,
                                        converted.period_id == placed.peer_period_id])
    parts.append(converted.select(
        person_id=converted.person_id.cast(dt.int64),
        period_id=converted.period_id.cast(dt.int64), team_id=converted.team_id.cast(dt.int64),
        measure=ibis.literal(CONVERSION, type=dt.string),
        stage_id=converted.stage_id.cast(dt.int64), value=converted.conversion_pct.cast(VALUE)))
    return ibis.union(*parts, distinct=False)


def _ranked(values: ir.Table, scope: list[str]) -> ir.Table:
    """`values` plus, within its scope, measure and stage: `below` / `above` (how many values are
    smaller / larger), `n` (how many values), `position` (0-based, ascending), `pctl` and
    `place` (the competition rank, larger first)."""
    group = [*scope, "measure", "stage_id"]
    ranked = values.mutate(
        below=ibis.rank().over(ibis.window(group_by=group, order_by=values.value)),
        above=ibis.rank().over(ibis.window(group_by=group, order_by=ibis.desc(values.value))),
        n=values.value.count().over(ibis.window(group_by=group)),
        position=ibis.row_number().over(ibis.window(group_by=group,
                                                    order_by=[values.value, values.person_id])),
    )
    lower_is_better = [key for key, better_larger in COMPARED if not better_larger]
    beats = ibis.ifelse(ranked.measure.isin(lower_is_better), ranked.above, ranked.below)
    ties = ranked.n - ranked.below - ranked.above
    return ranked.mutate(
        pctl=((beats * 2 + ties) * 100 + ranked.n) // (ranked.n * 2),
        place=ranked.above + 1,
    )


def _medians(ranked: ir.Table, scope: list[str]) -> ir.Table:
    middle = ranked.filter((ranked.position == (ranked.n - 1) // 2)
                           | (ranked.position == ranked.n // 2))
    sums = middle.group_by([*scope, "measure", "stage_id"]).aggregate(
        low=middle.value.min(), high=middle.value.max(), count=middle.n.max())
    half = ibis.literal(Decimal("0.5"), type=dt.Decimal(2, 1))
    # the mean of two values of cents has at most three decimals: widen first, so no backend
    # rounds the product to the operands' scale
    both = (sums.low + sums.high).cast(dt.Decimal(28, 3))
    return sums.mutate(median=round_half_even(both * half, 2, precision=20))


def _pivot(ranked: ir.Table, prefix: str) -> ir.Table:
    """One row per person and period: `{prefix}pctl_<measure>` and `{prefix}rank_<metric>`."""
    plain = ranked.filter(ranked.measure != CONVERSION)
    columns = {
        **{f"{prefix}pctl_{key}": plain.pctl.max(where=plain.measure == key)
           for key, _ in COMPARED},
        **{f"{prefix}rank_{key}": plain.place.max(where=plain.measure == key)
           for key in LEADERBOARD_METRICS},
    }
    return plain.group_by(["person_id", "period_id"]).aggregate(**columns)


def rankings(person: ir.Table, conversions: ir.Table, people: ir.Table, periods: ir.Table
             ) -> dict[str, ir.Table]:
    """The expressions of `RESULT_SCHEMAS` (see the module docstring). `person` holds the
    person rows of a run with their ratios, `conversions` the stage conversions with
    `conversion_pct`."""
    values = _values(person, conversions, people)
    company = _ranked(values, ["period_id"])
    in_team = values.filter(values.team_id.notnull())
    team = _ranked(in_team, ["period_id", "team_id"])

    peers = person.semi_join(people.filter(people.role == PEER_ROLE), "person_id")
    base = peers.select(person_id=peers.person_id.cast(dt.int64),
                        period_id=peers.period_id.cast(dt.int64),
                        team_id=peers.team_id.cast(dt.int64))
    current = periods.select(now_id="period_id", now_kind="kind", now_start="start")
    before = periods.select(before_id="period_id", before_kind="kind", before_end="end")
    previous = current.join(before, [current.now_kind == before.before_kind,
                                     current.now_start == before.before_end]).select(
        "now_id", "before_id")
    places = base.left_join(_pivot(company, ""), ["person_id", "period_id"]).select(
        base, *[f"pctl_{k}" for k, _ in COMPARED], *[f"rank_{k}" for k in LEADERBOARD_METRICS])
    places = places.left_join(_pivot(team, "team_"), ["person_id", "period_id"]).select(
        places, *[f"team_pctl_{k}" for k, _ in COMPARED],
        *[f"team_rank_{k}" for k in LEADERBOARD_METRICS])
    places = places.left_join(previous, places.period_id == previous.now_id).select(
        places, previous.before_id)
    earlier = places.select(
        earlier_person_id="person_id", earlier_period_id="period_id", earlier_team_id="team_id",
        **{f"earlier_{scope}rank_{k}": f"{scope}rank_{k}" for scope in ("", "team_")
           for k in LEADERBOARD_METRICS})
    joined = places.left_join(earlier, [places.person_id == earlier.earlier_person_id,
                                        places.before_id == earlier.earlier_period_id])
    same_team = joined.team_id == joined.earlier_team_id
    person_ranks = joined.select(
        "person_id", "period_id",
        *[f"{scope}pctl_{k}" for scope in ("", "team_") for k, _ in COMPARED],
        *[f"rank_{k}" for k in LEADERBOARD_METRICS],
        **{f"prev_rank_{k}": joined[f"earlier_rank_{k}"] for k in LEADERBOARD_METRICS},
        **{f"team_rank_{k}": joined[f"team_rank_{k}"] for k in LEADERBOARD_METRICS},
        **{f"team_prev_rank_{k}": ibis.ifelse(same_team, joined[f"earlier_team_rank_{k}"],
                                              ibis.null(dt.int64))
           for k in LEADERBOARD_METRICS},
    ).order_by(["person_id", "period_id"])

    stage_company = company.filter(company.measure == CONVERSION).select(
        "person_id", "period_id", "stage_id", "pctl")
    stage_team = team.filter(team.measure == CONVERSION).select(
        "person_id", "period_id", "stage_id", team_pctl="pctl")
    conversion_ranks = stage_company.left_join(
        stage_team, ["person_id", "period_id", "stage_id"]).select(
        stage_company, stage_team.team_pctl).order_by(["person_id", "period_id", "stage_id"])

    company_medians = _medians(company, ["period_id"])
    team_medians = _medians(team, ["period_id", "team_id"])
    columns = ("period_id", "team_id", "measure", "stage_id", "median", "value_count")
    medians = ibis.union(
        company_medians.select(
            "period_id", team_id=ibis.null(dt.int64), measure="measure",
            stage_id=ibis.ifelse(company_medians.stage_id == 0, ibis.null(dt.int64),
                                 company_medians.stage_id),
            median="median", value_count=company_medians["count"].cast(dt.int64)).select(*columns),
        team_medians.select(
            "period_id", "team_id", "measure",
            stage_id=ibis.ifelse(team_medians.stage_id == 0, ibis.null(dt.int64),
                                 team_medians.stage_id),
            median="median", value_count=team_medians["count"].cast(dt.int64)).select(*columns),
        distinct=False,
    ).order_by(["period_id", "team_id", "measure", "stage_id"])
    return {"person_ranks": person_ranks, "conversion_ranks": conversion_ranks,
            "medians": medians}


def compute_rankings(backend: Backend, person: pa.Table, conversions: pa.Table,
                     people: pa.Table, periods: pa.Table) -> dict[str, pa.Table]:
    """Run `rankings` on `backend`: `person` and `conversions` are a run's person rows and stage
    conversions with their ratios (`with_ratios`, `with_conversion_pct`), `people` the logical
    `perf_people`, `periods` the run's periods."""
    expressions = rankings(backend.table(RANK_PERSON.name, person),
                           backend.table(RANK_CONVERSIONS.name, conversions),
                           backend.table(RANK_PEOPLE.name, people),
                           backend.table(PERIODS.name, periods))
    return {name: backend.execute(expr).select(RESULT_SCHEMAS[name].names)
            .cast(RESULT_SCHEMAS[name]) for name, expr in expressions.items()}


__all__ = [
    "COMPARED",
    "LEADERBOARD_METRICS",
    "compute_rankings",
    "rankings",
    "with_conversion_pct",
    "with_ratios",
]
