"""Intermediate steps of a run (`Backend.materialise`) and the exact product helpers the
compensation run uses, on every backend."""

import json
from decimal import ROUND_HALF_UP, Decimal

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attain.engine.backends import connect
from attain.engine.backends.base import Backend
from attain.engine.compensation.calculation import FACTOR, WORK, _fmul, _mul
from attain.engine.schemas import LogicalTable, register_logical_tables

PAIRS = LogicalTable("test_engine_step_pairs", pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("amount", pa.decimal128(26, 12)),
    pa.field("factor", pa.decimal128(20, 12)),
]), key=("id",))
register_logical_tables(PAIRS)

Q12 = Decimal("0.000000000001")


def exact(amount: Decimal, factor: Decimal) -> Decimal:
    """The product to 12 decimals, half away from zero (what the backends' decimal casts do)."""
    return (amount * factor).quantize(Q12, ROUND_HALF_UP)


def pairs(*rows: tuple[int, str | None, str | None]) -> pa.Table:
    return pa.table({
        "id": pa.array([r[0] for r in rows], pa.int64()),
        "amount": pa.array([None if r[1] is None else Decimal(r[1]) for r in rows],
                           pa.decimal128(26, 12)),
        "factor": pa.array([None if r[2] is None else Decimal(r[2]) for r in rows],
                           pa.decimal128(20, 12)),
    })


ROWS = ((1, "1234.56", "1"), (2, "1234.56", "1.083412345678"), (3, "-0.000000000005", "0.5"),
        (4, "99.99", "0"), (5, None, "1"), (6, "10", None), (7, "0.000000000001", "1.000000000001"))


def products(backend: Backend, table: pa.Table) -> dict[int, tuple[Decimal, Decimal]]:
    bound = backend.table(PAIRS.name, table)
    step = backend.materialise("test_engine_step_products", bound.select(
        "id", product=_mul(bound.amount, bound.factor),
        squared=_fmul(bound.factor, bound.factor)))
    out = backend.execute(step.filter(step.id > 0).order_by("id"))
    return {r["id"]: (r["product"], r["squared"]) for r in out.to_pylist()}


def test_a_materialised_step_keeps_its_declared_types_and_values(backend):
    table = pairs(*ROWS)
    bound = backend.table(PAIRS.name, table)
    expr = bound.select("id", product=_mul(bound.amount, bound.factor))
    step = backend.materialise("test_engine_step_products", expr)

    assert step.schema() == expr.schema()
    assert dict(step.schema().items())["product"] == WORK
    read = backend.execute(step.order_by("id"))
    assert read.schema.field("product").type == pa.decimal128(26, 12)
    assert read.column("id").to_pylist() == [r[0] for r in ROWS]


def test_products_are_exact_to_12_decimals_and_a_factor_of_one_changes_nothing(backend):
    got = products(backend, pairs(*ROWS))

    # by hand: 1234.56 x 1.083412345678 = 1337.537545480231|68 -> rounds up at 12 decimals
    assert got[2][0] == Decimal("1337.537545480232")
    assert got[2][0] == exact(Decimal("1234.56"), Decimal("1.083412345678"))
    assert got[1][0] == Decimal("1234.560000000000")  # factor exactly 1: the amount itself
    assert got[3][0] == Decimal("-0.000000000003")  # -0.0000000000025 half away from zero
    assert got[4][0] == Decimal(0)
    assert got[5][0] is None and got[6][0] is None  # null in, null out (never 1 by default)
    assert got[7][0] == Decimal("0.000000000001")  # 1.000000000001e-12 rounds to 1e-12
    assert got[1][1] == Decimal(1) and got[6][1] is None
    assert got[7][1] == Decimal("1.000000000002")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(
    st.decimals(min_value=Decimal("-1000000000"), max_value=Decimal("1000000000"), places=2),
    st.one_of(st.just(Decimal(1)), st.decimals(min_value=Decimal("-100"),
                                                max_value=Decimal("100"), places=12))),
    min_size=1, max_size=20))
def test_products_match_decimal_arithmetic_whatever_the_factor(values):
    table = pairs(*[(i + 1, str(a), str(f)) for i, (a, f) in enumerate(values)])
    with connect("duckdb") as backend:
        got = products(backend, table)
    for i, (amount, factor) in enumerate(values):
        assert got[i + 1][0] == exact(amount, factor), (amount, factor)
        assert got[i + 1][1] == exact(factor, factor), factor


def test_the_fast_path_is_typed_like_the_product():
    amount = ibis.literal(Decimal("2.5"), type=WORK)
    one = ibis.literal(Decimal(1), type=FACTOR)
    assert _mul(amount, one).type() == WORK
    assert _fmul(one, one).type() == FACTOR


# --- builders remembered by their arguments (attain.engine.memo) --------------------------------

def test_a_remembered_builder_reuses_its_expression_for_equal_arguments_only():
    from datetime import date

    from attain.engine.memo import forget, remembered

    calls = []

    @remembered
    def after(table, day, factor, note=None):
        calls.append(day)
        return table.filter(table.amount > factor).mutate(day=ibis.literal(day))

    forget()
    schema = ibis.Schema.from_pyarrow(PAIRS.schema)
    first = ibis.table(schema, name="pairs")
    again = ibis.table(schema, name="pairs")  # another object, the same table
    other = ibis.table(schema, name="other_pairs")

    built = after(first, date(2027, 4, 1), Decimal(1))
    assert after(again, date(2027, 4, 1), Decimal(1)) is built
    assert len(calls) == 1
    assert after(other, date(2027, 4, 1), Decimal(1)) is not built
    assert after(first, date(2027, 4, 2), Decimal(1)) is not built
    assert after(first, date(2027, 4, 1), 1) is not built  # 1 is not Decimal(1) here
    assert len(calls) == 4
    after(first, date(2027, 4, 1), Decimal(1), note=["a list"])  # no key: built each time
    after(first, date(2027, 4, 1), Decimal(1), note=["a list"])
    assert len(calls) == 6


def test_runs_of_the_same_shape_read_their_own_data():
    """Two runs in one process with the same tables and plan but other amounts: the second
    reuses the first's expressions and reads its own rows (6 % of 1,000 then of 2,500)."""
    from datetime import date

    from attain.engine.compensation.calculation import compute_compensation
    from attain.engine.compensation.plans import parse_plan
    from tests.engine.compensation_factories import Q1, assignment, booking, tables

    plan = parse_plan("plan: Test\ncurrency: USD\nperiod: quarter\ncomponents:\n"
                      "  - {name: Commission, kind: commission, rate: \"6%\"}\n")
    paid = []
    for amount in ("1000", "2500"):
        data = tables([booking(1, 7, amount, date(2027, 2, 1))], [assignment(1, 7)])
        with connect("duckdb") as backend:
            result = compute_compensation(backend, data, {1: plan}, *Q1, date(2027, 3, 31),
                                          with_payouts=False)
        paid.append(result.earning_lines.column("amount").to_pylist())
    assert paid == [[Decimal("60.00")], [Decimal("150.00")]]


def test_batches_hand_over_the_rows_in_order_with_their_declared_types(backend):
    """250 rows read 100 at a time: every row once, in the expression's order, each batch typed
    as the expression declares (the product's scale, not the backend's)."""
    table = pairs(*[(i, f"{i}.5", "2") for i in range(1, 251)])
    bound = backend.table(PAIRS.name, table)
    expr = bound.select("id", product=_mul(bound.amount, bound.factor)).order_by(
        ibis.desc("id"))
    batches = list(backend.batches(expr, rows=100))

    assert all(0 < b.num_rows <= 100 for b in batches) and len(batches) >= 3
    assert {b.schema for b in batches} == {expr.schema().to_pyarrow()}
    read = pa.Table.from_batches(batches)
    assert read.column("id").to_pylist() == list(range(250, 0, -1))
    assert read.column("product").to_pylist()[:2] == [Decimal("501.000000000000"),
                                                      Decimal("499.000000000000")]


def three_payees(mode: str = "marginal") -> tuple:
    """A plan with tiers in `mode` (6 % to 3,000, 8 % above; paid parts clawed back on a
    cancellation within 90 days, so they stay in the closing ledger) and 24 bookings of three
    payees."""
    from datetime import date

    from attain.engine.compensation.plans import parse_plan
    from tests.engine.compensation_factories import assignment, booking, tables

    plan = parse_plan(
        "plan: Test\ncurrency: USD\nperiod: quarter\ncomponents:\n"
        "  - name: Commission\n    kind: commission\n    tiers:\n      basis: amount\n"
        f"      mode: {mode}\n      bands:\n"
        "        - {from: \"0\", to: \"3000\", rate: \"6%\"}\n"
        "        - {from: \"3000\", rate: \"8%\"}\n"
        "payout:\n  clawback: {within_days: 90}\n")
    data = tables([booking(n, 7 + n % 3, f"{1000 + 37 * n}.25", date(2027, 1, 1 + n))
                   for n in range(1, 25)], [assignment(1, 7), assignment(2, 8),
                                            assignment(3, 9)])
    return plan, data


def test_a_run_handed_to_a_sink_gives_what_it_returns_whole(backend):
    """The same run twice: once returning its tables, once handing the credits, earning lines,
    payout lines and closing ledger to a sink. The sink gets exactly the returned rows, in the
    same order, and the streamed run returns those four tables empty (the rest as before)."""
    from datetime import date

    from attain.engine.compensation.calculation import compute_compensation
    from tests.engine.compensation_factories import Q1

    plan, data = three_payees()
    whole = compute_compensation(backend, data, {1: plan}, *Q1, date(2027, 3, 31))
    handed: dict[str, list[pa.RecordBatch]] = {}
    streamed = compute_compensation(backend, data, {1: plan}, *Q1, date(2027, 3, 31),
                                    sink=lambda name, batch: handed.setdefault(
                                        name, []).append(batch))

    assert sorted(handed) == ["credits", "earning_lines", "ledger", "payout_lines"]
    for name in handed:
        expected = getattr(whole, name)
        got = pa.Table.from_batches(handed[name], schema=expected.schema)
        assert expected.num_rows > 0
        assert got.equals(expected), name
        assert getattr(streamed, name).num_rows == 0
        assert getattr(streamed, name).schema == expected.schema
    assert streamed.payouts.equals(whole.payouts)
    assert streamed.balances.equals(whole.balances)
    assert streamed.measures.equals(whole.measures)
    assert sum(whole.earning_lines.column("amount").to_pylist()) == sum(
        whole.payouts.column("earned").to_pylist())


@pytest.mark.parametrize("mode", ["marginal", "retroactive"])
def test_lines_computed_a_group_of_assignments_at_a_time_are_the_lines_of_one_pass(
        backend, monkeypatch, mode):
    """The same run with every assignment's credit lines computed together and with groups of
    at most 3 counted credits (so each of the three payees, 8 credits each, is a group of its
    own): the same credits, lines, payouts and payout lines, in the same order. With
    retroactive tiers each group also gives its payees' true-ups.

    Payee 7's true-up, by hand: bookings 3, 6, …, 24 of 1,000 + 37 n + 0.25 credit 11,998.00
    (8,000 + 37 x 108 + 2), past 3,000, so band 2 (8 %) applies to all: 959.84. Paid on the
    lines, each at the band reached after it: 66.68 + 73.34 (6 %; 66.675 and 73.335 rounded
    half to even) + 106.66 + 115.54 + 124.42 + 133.30 + 142.18 + 151.06 (8 %) = 913.18.
    True-up 959.84 - 913.18 = 46.66."""
    from datetime import date

    from attain.engine.compensation import calculation
    from attain.engine.compensation.calculation import compute_compensation
    from tests.engine.compensation_factories import Q1

    plan, data = three_payees(mode)
    whole = compute_compensation(backend, data, {1: plan}, *Q1, date(2027, 3, 31))
    appended: list[str] = []
    original = backend.append
    monkeypatch.setattr(backend, "append", lambda name, previous, expr: (
        appended.append(name), original(name, previous, expr))[1])
    monkeypatch.setattr(calculation, "LINE_GROUP_ROWS", 3)
    grouped = compute_compensation(backend, data, {1: plan}, *Q1, date(2027, 3, 31))

    assert appended == ["comp_work_credit_lines"] * 2  # three groups: one made, two appended
    for name in ("credits", "earning_lines", "payouts", "payout_lines", "measures",
                 "balances", "ledger"):
        assert getattr(grouped, name).equals(getattr(whole, name)), name
    true_ups = [r for r in grouped.earning_lines.to_pylist() if r["line_kind"] == "true_up"]
    if mode == "marginal":
        assert grouped.earning_lines.num_rows == 24 and not true_ups
    else:
        assert grouped.earning_lines.num_rows == 27 and len(true_ups) == 3
        (seven,) = [r for r in true_ups if r["person_id"] == 7]
        assert seven["amount"] == Decimal("46.66")
        assert seven["measure_value"] == Decimal("11998")
        assert json.loads(seven["trace"])[:3] == [
            "Retroactive tiers: 11998.00 credited this period reached band 2 (3000.00 and "
            "above)", "Every credit of the period at band 2's rate: 959.84",
            "Already paid on them: 913.18"]
