"""Forecast accuracy measures and hierarchical reconciliation, on hand-computed examples.

These calculations are numpy (no Ibis table, no engine backend), so the tests take no
`backend` fixture."""

from __future__ import annotations

import numpy as np
import pytest

from attain.engine.forecasting.metrics import bias, coverage, mase, seasonal_scale, smape, wape
from attain.engine.forecasting.reconcile import (
    Structure,
    anchor_to_total,
    reconciliation_matrix,
    shrunk_covariance,
)

COMPANY = Structure.from_members({"company": ["a", "b"], "a": ["a"], "b": ["b"]})


def test_metrics_match_the_worked_example():
    actual, forecast = np.array([100.0, 200.0]), np.array([110.0, 170.0])
    # errors -10, 30: MASE = 20 / 20; sMAPE = (20/210 + 60/370) / 2; WAPE = 40 / 300;
    # bias = (10 - 30) / 300
    assert mase(actual, forecast, 20.0) == pytest.approx(1.0)
    assert smape(actual, forecast) == pytest.approx((20 / 210 + 60 / 370) / 2)
    assert wape(actual, forecast) == pytest.approx(40 / 300)
    assert bias(actual, forecast) == pytest.approx(-20 / 300)
    assert coverage(actual, np.array([90.0, 180.0]), np.array([120.0, 190.0])) == 0.5


def test_seasonal_scale_is_the_in_sample_seasonal_naive_error():
    # lag 2: |3-1| and |4-2| → 2; shorter than a season + 1: lag 1
    assert seasonal_scale(np.array([1.0, 2.0, 3.0, 4.0]), 2) == 2.0
    assert seasonal_scale(np.array([1.0, 4.0]), 12) == 3.0
    assert seasonal_scale(np.array([5.0, 5.0, 5.0]), 1) == 5.0  # constant: the level


def test_structure_from_members_builds_the_summing_matrix():
    assert COMPANY.bottom_ids == ("a", "b")
    assert COMPANY.summing.tolist() == [[1, 1], [1, 0], [0, 1]]


def test_ols_reconciliation_matches_the_worked_example():
    # SᵀS = [[2, 1], [1, 2]], Sᵀy = (150, 140): bottoms ((300-140)/3, (280-150)/3)
    matrix, used = reconciliation_matrix(COMPANY, "ols")
    reconciled = matrix @ np.array([100.0, 50.0, 40.0])
    assert used == "ols"
    assert reconciled == pytest.approx([96.6667, 53.3333, 43.3333], abs=1e-4)


def test_bottom_up_keeps_the_parts_and_sums_them():
    matrix, _ = reconciliation_matrix(COMPANY, "bottom_up")
    assert (matrix @ np.array([100.0, 50.0, 40.0])).tolist() == [90.0, 50.0, 40.0]


def test_mint_shrink_output_adds_up_and_trusts_the_accurate_series_more():
    rng = np.random.default_rng(3)
    # the company forecast has been 10x more accurate than the parts' forecasts
    errors = np.vstack([rng.normal(0, 1, 40), rng.normal(0, 10, 40), rng.normal(0, 10, 40)])
    matrix, used = reconciliation_matrix(COMPANY, "mint_shrink", errors)
    reconciled = matrix @ np.array([100.0, 50.0, 40.0])
    assert used == "mint_shrink"
    assert reconciled[0] == pytest.approx(reconciled[1] + reconciled[2])
    assert abs(reconciled[0] - 100.0) < 1.0  # the accurate company forecast barely moves


def test_mint_shrink_without_errors_falls_back_to_structural_weights():
    _, used = reconciliation_matrix(COMPANY, "mint_shrink", None)
    assert used == "wls_struct"


def test_shrinkage_keeps_variances_and_shrinks_correlations():
    errors = np.array([[1.0, -1.0, 2.0, -2.0], [1.0, -1.0, 2.0, -2.1]])
    shrunk, lam = shrunk_covariance(errors)
    assert 0.0 <= lam <= 1.0
    assert np.diag(shrunk) == pytest.approx(np.mean(errors**2, axis=1))


def test_anchor_to_total_moves_parts_in_proportion_to_variance():
    # gap 10, shares 3/4 and 1/4 → 60 + 7.5, 30 + 2.5
    moved = anchor_to_total(np.array([[60.0], [30.0]]), np.array([100.0]), np.array([3.0, 1.0]))
    assert moved.ravel().tolist() == [67.5, 32.5]


def test_two_stage_reconciliation_of_a_tree_by_hand():
    from attain.engine.forecasting.reconcile import two_stage

    structure = Structure.from_members({
        "company": ["a1", "a2", "b1"], "a": ["a1", "a2"], "b": ["b1"],
        "a1": ["a1"], "a2": ["a2"], "b1": ["b1"]})
    base = np.array([[100.0], [50.0], [40.0], [20.0], [20.0], [40.0]])
    apply, used = two_stage(structure, "ols")
    # stage 1 (company = a + b, OLS): a 53.33, b 43.33, company 96.67 (module docstring);
    # stage 2: a1 and a2 share 53.33 - 40 = 13.33 equally (26.67 each); b1 = b = 43.33
    assert used == "two_stage_ols"
    assert apply(base)[:, 0] == pytest.approx(
        [290 / 3, 160 / 3, 130 / 3, 80 / 3, 80 / 3, 130 / 3])
    # with backtest errors, a1 (errors 3, -3: variance 9) takes 9 / (9 + 1) of a's gap
    errors = np.array([[1.0, -1.0]] * 3 + [[3.0, -3.0], [1.0, -1.0], [2.0, -2.0]])
    moved = two_stage(structure, "ols", errors)[0](base)[:, 0]
    assert moved[3] == pytest.approx(20 + 0.9 * 40 / 3)
    assert moved[3] + moved[4] == pytest.approx(moved[1])
    assert moved[1] + moved[2] == pytest.approx(moved[0])


def test_a_large_hierarchy_is_reconciled_in_two_stages():
    from attain.engine.forecasting.timeseries import ForecastConfig, forecast_set

    rng = np.random.default_rng(3)
    people = {f"p{i}": 100 + rng.normal(0, 10, 30) for i in range(6)}
    teams = {"t0": sum(people[f"p{i}"] for i in range(3)),
             "t1": sum(people[f"p{i}"] for i in range(3, 6))}
    histories = {"company": teams["t0"] + teams["t1"], **teams, **people}
    structure = Structure.from_members({
        "company": list(people), "t0": ["p0", "p1", "p2"], "t1": ["p3", "p4", "p5"],
        **{p: [p] for p in people}})
    config = ForecastConfig(horizon=3, season_length=4, candidates=("seasonal_naive", "theta"),
                            ensemble_size=1, reconcile_limit=5)
    result = forecast_set(histories, structure, config)
    by_id = result.by_id()
    assert result.reconciliation == "two_stage_mint_shrink"
    assert by_id["t0"].point == pytest.approx(sum(by_id[f"p{i}"].point for i in range(3)))
    assert by_id["company"].point == pytest.approx(by_id["t0"].point + by_id["t1"].point)
