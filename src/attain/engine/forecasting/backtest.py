"""Rolling-origin backtest of forecast methods on history: the accuracy table behind
`attain forecast backtest`.

At each origin the history before it is forecast `horizon` periods ahead, by the default method
(`timeseries.forecast_set`, whose own selection backtest sees only that history) and by the
baselines fitted in the same call (seasonal naive, AutoETS, AutoARIMA, AutoTheta and the plain
mean of the last three, with their own model intervals). Held-out periods after the end of the
history are simply not scored. Per method:

- MASE: mean over (series, origin) of mean |error| / the series' in-sample seasonal-naive MAE
  (history before the origin);
- sMAPE: mean over every scored point;
- WAPE: Σ|error| / Σ|actual| over every scored point;
- bias: Σ(forecast - actual) / Σ|actual|;
- coverage at each level: the share of scored points inside the interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from attain.engine.forecasting.metrics import seasonal_scale, smape
from attain.engine.forecasting.reconcile import Structure
from attain.engine.forecasting.timeseries import DEFAULT_METHOD, ForecastConfig, forecast_hierarchy

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MethodScore:
    method: str
    mase: float
    smape: float
    wape: float
    bias: float
    coverage: Mapping[int, float]
    points: int


@dataclass(frozen=True)
class PointResult:
    """One scored forecast: a series, origin and step, per method (point, low, high per level)."""

    series_id: str
    origin: int
    step: int
    actual: float
    forecasts: Mapping[str, tuple[float, Mapping[int, tuple[float, float]]]]


@dataclass(frozen=True)
class BacktestResult:
    scores: tuple[MethodScore, ...]
    points: tuple[PointResult, ...]
    origins: tuple[int, ...]
    horizon: int
    series_ids: tuple[str, ...]

    def score(self, method: str) -> MethodScore:
        return next(s for s in self.scores if s.method == method)


def rolling_backtest(histories: Mapping[str, Sequence[float] | Floats],
                     structure: Structure | None, config: ForecastConfig,
                     origins: Sequence[int], *, series_ids: Sequence[str] | None = None,
                     groupings: Mapping[str, Mapping[str, Sequence[float] | Floats]]
                     | None = None, total_id: str = "company",
                     levels: Mapping[str, str] | None = None) -> BacktestResult:
    """Score the default method and the baselines at each origin (an index on the common
    axis: periods before it are history). `groupings` are forecast and anchored as in
    `timeseries.forecast_hierarchy`, `levels` choose each series' tier there. `series_ids`
    limits which series are scored (all are still forecast and reconciled)."""
    every: dict[str, Sequence[float] | Floats] = dict(histories)
    for parts in (groupings or {}).values():
        every.update(parts)
    length = len(next(iter(histories.values()))) if histories else 0
    bad = [o for o in origins if not 0 < o < length]
    if bad:
        raise ValueError(f"backtest origins must be inside the history (1..{length - 1}): {bad}")
    scored = list(series_ids) if series_ids is not None else list(every)
    points: list[PointResult] = []
    for origin in origins:
        def cut(table: Mapping[str, Sequence[float] | Floats], at: int = origin
                ) -> dict[str, Sequence[float] | Floats]:
            return {sid: np.asarray(v, dtype=np.float64)[:at] for sid, v in table.items()}

        result = forecast_hierarchy(
            cut(histories), structure, config,
            {name: cut(parts) for name, parts in (groupings or {}).items()},
            total_id=total_id, baselines=True, levels=levels)
        by_id = result.by_id()
        for sid in scored:
            actual = np.asarray(every[sid], dtype=np.float64)[origin:origin + config.horizon]
            default = by_id[sid]
            for step, value in enumerate(actual):
                forecasts: dict[str, tuple[float, dict[int, tuple[float, float]]]] = {
                    DEFAULT_METHOD: (float(default.point[step]), {
                        level: (float(lo[step]), float(hi[step]))
                        for level, (lo, hi) in default.intervals.items()})}
                for name, table in result.baselines.items():
                    point, bounds = table[sid]
                    forecasts[name] = (float(point[step]), {
                        level: (float(lo[step]), float(hi[step]))
                        for level, (lo, hi) in bounds.items()})
                points.append(PointResult(sid, origin, step + 1, float(value), forecasts))
    methods = list(points[0].forecasts) if points else []
    scores = tuple(score_points(method, points, every, config) for method in methods)
    return BacktestResult(scores, tuple(points), tuple(origins), config.horizon, tuple(scored))


def score_points(method: str, points: Sequence[PointResult],
                 histories: Mapping[str, Sequence[float] | Floats], config: ForecastConfig
                 ) -> MethodScore:
    """The accuracy of `method` over `points` (e.g. those of one origin)."""
    actual = np.array([p.actual for p in points])
    forecast = np.array([p.forecasts[method][0] for p in points])
    groups: dict[tuple[str, int], list[int]] = {}
    for i, p in enumerate(points):
        groups.setdefault((p.series_id, p.origin), []).append(i)
    mases = []
    for (sid, origin), rows in groups.items():
        history = np.asarray(histories[sid], dtype=np.float64)[:origin]
        nonzero = np.flatnonzero(history)
        trimmed = history[nonzero[0]:] if nonzero.size else history
        scale = seasonal_scale(trimmed, config.season_length)
        mases.append(float(np.mean(np.abs(actual[rows] - forecast[rows])) / scale))
    total = float(np.sum(np.abs(actual)))
    coverage = {}
    for level in config.levels:
        low = np.array([p.forecasts[method][1][level][0] for p in points])
        high = np.array([p.forecasts[method][1][level][1] for p in points])
        coverage[level] = float(np.mean((actual >= low) & (actual <= high)))
    return MethodScore(
        method=method,
        mase=float(np.mean(mases)),
        smape=smape(actual, forecast),
        wape=float(np.sum(np.abs(actual - forecast)) / total) if total else float("nan"),
        bias=float(np.sum(forecast - actual) / total) if total else float("nan"),
        coverage=coverage,
        points=len(points),
    )
