"""The default statistical method on synthetic series: fallbacks with their reasons, a
reconciled hierarchy that adds up, intervals around the point, decimals out.

numpy/statsforecast calculations (no Ibis, no engine backend): no `backend` fixture."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from attain.engine.forecasting.reconcile import Structure
from attain.engine.forecasting.timeseries import (
    ForecastConfig,
    backtest_design,
    classify,
    forecast_set,
    to_cents,
)

CONFIG = ForecastConfig(horizon=6, season_length=12)


def seasonal(level: float, seed: int, months: int = 36) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    return level * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, level * 0.05, months)


def test_backtest_design_leaves_two_seasons_before_the_first_origin():
    # 36 months, horizon 6, 2 windows 3 apart: horizon min(6, 12, 36 - 24 - 3) = 6,
    # origins 36 - 6 - 3 = 27 and 30
    design = backtest_design(36, CONFIG)
    assert design is not None
    assert (design.origins, design.horizon) == ((27, 30), 6)
    assert backtest_design(26, CONFIG) is None  # 26 - 24 - 3 < 3


@pytest.mark.parametrize(("values", "kind", "reason_start"), [
    ([0.0] * 10, "no_history", "no history"),
    ([5.0, 0.0, 0.0, 7.0], "average", "too little history: 2 of 4"),
    ([5.0, 0.0, 0.0, 7.0, 0.0, 3.0, 0.0, 0.0], "intermittent", "intermittent: 5 of 8"),
    ([float(v) for v in range(1, 16)], "short", "short history: 15 periods"),
    ([float(v) for v in range(1, 40)], "ensemble", "selected by backtest"),
])
def test_classify_names_the_fallback_and_why(values, kind, reason_start):
    got_kind, reason = classify(np.array(values), CONFIG, full_length=33)
    assert got_kind == kind
    assert reason.startswith(reason_start)


def test_too_little_history_forecasts_the_mean_of_the_last_season():
    histories = {"p": np.array([0.0] * 30 + [120.0, 0.0, 0.0, 0.0, 60.0, 0.0])}
    result = forecast_set(histories, None, CONFIG).by_id()["p"]
    # trimmed history 120, 0, 0, 0, 60, 0 (6 periods, shorter than a season): mean 30
    assert result.method == "average"
    assert result.point.tolist() == [30.0] * 6


def test_hierarchy_adds_up_and_intervals_nest_around_the_point():
    teams = {"a": seasonal(1000, 1), "b": seasonal(400, 2)}
    histories = {"company": teams["a"] + teams["b"], **teams}
    structure = Structure.from_members({"company": ["a", "b"], "a": ["a"], "b": ["b"]})
    result = forecast_set(histories, structure, CONFIG)
    by_id = result.by_id()
    assert result.reconciliation == "mint_shrink"
    assert by_id["company"].point == pytest.approx(by_id["a"].point + by_id["b"].point)
    for series in result.series:
        assert series.method == "ensemble"
        assert len(series.members) == 3
        low80, high80 = series.intervals[80]
        low95, high95 = series.intervals[95]
        assert (low95 <= low80).all() and (low80 <= high80).all() and (high80 <= high95).all()
    assert result.calibration_samples == 3 * 2 * 6  # series x windows x backtest horizon
    table = result.to_arrow()
    assert table.num_rows == 3 * 6
    assert str(table.schema.field("point").type) == "decimal128(18, 2)"


def test_series_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="same periods"):
        forecast_set({"a": np.ones(5), "b": np.ones(6)}, None, CONFIG)


def test_to_cents_rounds_half_to_even_once():
    assert to_cents(0.125) == Decimal("0.12")  # 0.125 is exact in binary: a true tie → even
    with pytest.raises(ValueError, match="not a number"):
        to_cents(float("nan"))


def test_the_bulk_sample_spreads_over_the_volumes():
    from attain.engine.forecasting.timeseries import _Prepared, _sample

    # volumes 50, 10, 40, 20, 30 → ranked e1 (10), e3 (20), e4 (30), e2 (40), e0 (50);
    # 3 picks at ranks linspace(0, 4, 3) = 0, 2, 4: the smallest, the middle, the largest
    values = {f"e{i}": np.array([v]) for i, v in enumerate((50.0, 10.0, 40.0, 20.0, 30.0))}
    prepared = _Prepared(values, {}, {}, {})
    assert _sample(prepared, list(values), 3) == ["e1", "e4", "e0"]
    assert _sample(prepared, list(values), 9) == list(values)


def test_people_get_one_ensemble_for_their_level_and_teams_their_own():
    # a pure yearly pattern repeated three times: seasonal naive and the average of the last
    # two seasons forecast it exactly (backtest MASE 0), so the level's two best are those
    pattern = np.array([10.0, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120])
    people = {f"p{i}": np.tile(pattern * (i + 1), 3) for i in range(4)}
    histories = {"team": seasonal(1000, 3), **people}
    levels = {"team": "team", **dict.fromkeys(people, "person")}
    config = ForecastConfig(horizon=6, season_length=12, candidates=(
        "seasonal_naive", "ets", "theta"), ensemble_size=2, bulk_ensemble_size=2)
    by_id = forecast_set(histories, None, config, levels=levels).by_id()
    for i in range(4):
        person = by_id[f"p{i}"]
        assert person.members == ("seasonal_naive", "seasonal_window")
        assert person.reason.startswith("chosen for the level: the 2 best of 5 fast models on "
                                        "a backtest of 4 of its 4 series")
        # the next six months repeat January..June of the pattern, scaled by i + 1
        assert person.point == pytest.approx(pattern[:6] * (i + 1))
    assert by_id["team"].reason == "selected by backtest"
    assert set(by_id["team"].members) <= {"seasonal_naive", "ets", "theta"}
    # more team series than `detailed_limit`: teams go to the bulk tier too
    few = ForecastConfig(horizon=6, season_length=12, detailed_limit=0, bulk_ensemble_size=2)
    team = forecast_set(histories, None, few, levels=levels).by_id()["team"]
    assert team.reason.startswith("chosen for the level: the 2 best of 5 fast models")


def test_unknown_bulk_models_are_refused():
    with pytest.raises(ValueError, match="unknown bulk candidate model"):
        ForecastConfig(horizon=1, season_length=12, bulk_candidates=("prophet",))
