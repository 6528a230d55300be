"""Statistical forecasts of many series at once: candidate models, per-series selection by a
rolling-origin backtest, an ensemble, reconciliation and intervals calibrated on backtest errors.

The default method ("ensemble"), for each series with enough history:
1. fit every candidate (seasonal naive, AutoETS, AutoARIMA, AutoTheta, AutoCES, MSTL) at
   `backtest_windows` rolling origins inside the history and score each on the periods after
   the origin (MASE, scaled by the series' in-sample seasonal-naive error);
2. average the `ensemble_size` best candidates (equal weights: estimated weights overfit on a
   few windows), refit on the whole history and forecast;
3. reconcile every series of the hierarchy with MinT-shrink (`reconcile.py`), so teams add up
   to the company;
4. build the 80%/95% intervals from the reconciled backtest errors (cross-fitted: each
   window's ensemble chosen on the other windows): the errors divided by the series' scale
   are pooled over series, windows and horizons; the interval is centred on the point
   forecast + the median scaled error (x the series' scale) and reaches the level's
   (split-conformal) quantile of the absolute deviations from that median on each side.
   Plain model intervals assume the model is right and under-cover; these are as wide as past
   errors were, and lean the way past errors leaned.

Series without enough history fall back, and the reason is kept with the forecast:
- no bookings at all → 0 ("no history");
- fewer than 3 periods with bookings → the mean of the last season ("too little history");
- half or more of the periods empty → Croston-SBA ("intermittent");
- shorter than two seasons plus the backtest → mean of non-seasonal AutoETS and AutoTheta
  ("short history"; too short for those → the mean of the last season).
A candidate that cannot be fitted on a series (AutoCES on a flat one, say) is replaced there by
seasonal naive (statsforecast's `fallback_model`). A series starts at its first non-zero period:
the months before someone's first booking are not history. Every series shares one time axis
ending at the last closed period; the backtest origins are the same for all series, so their
errors line up for reconciliation.

Inside the models values are floats; `ForecastSet.to_arrow` hands results back as decimals
rounded to cents (money leaves the engine exact to the cent, DESIGN §2.4).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from attain.engine.forecasting.metrics import seasonal_scale
from attain.engine.forecasting.reconcile import Structure, reconciliation_matrix

Floats = npt.NDArray[np.float64]
CALC_VERSION = "1"
DEFAULT_METHOD = "ensemble"
CENT = Decimal("0.01")


def _candidate_models(season_length: int) -> dict[str, Callable[[], Any]]:
    from statsforecast.models import (
        MSTL,
        AutoARIMA,
        AutoCES,
        AutoETS,
        AutoTheta,
        SeasonalNaive,
    )

    s = season_length
    return {
        "seasonal_naive": lambda: SeasonalNaive(season_length=s, alias="seasonal_naive"),
        "ets": lambda: AutoETS(season_length=s, alias="ets"),
        # a bounded stepwise search (at most 15 models, orders up to (2,d,2)(1,D,1)): on the
        # Superstore series it picks the same models as the full search, at half the time
        "arima": lambda: AutoARIMA(season_length=s, max_p=2, max_q=2, max_P=1, max_Q=1,
                                   nmodels=15, alias="arima"),
        "theta": lambda: AutoTheta(season_length=s, alias="theta"),
        "ces": lambda: AutoCES(season_length=s, alias="ces"),
        "mstl": lambda: MSTL(season_length=s, alias="mstl"),
    }


CANDIDATES = ("seasonal_naive", "ets", "arima", "theta", "ces", "mstl")
# The plain model means the issue compares the default method against.
BASELINE_MEAN = ("ets", "arima", "theta")
FALLBACKS = ("no_history", "average", "intermittent", "short")


@dataclass(frozen=True)
class ForecastConfig:
    """How a forecast set is made; `season_length` is 12 for months, 4 for quarters."""

    horizon: int
    season_length: int
    candidates: tuple[str, ...] = CANDIDATES
    ensemble_size: int = 3
    backtest_windows: int = 2
    levels: tuple[int, ...] = (80, 95)
    reconciliation: str = "mint_shrink"
    n_jobs: int = 1

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {self.horizon}")
        if self.season_length < 1:
            raise ValueError(f"season length must be at least 1, got {self.season_length}")
        unknown = [c for c in self.candidates if c not in CANDIDATES]
        if unknown or not self.candidates:
            raise ValueError(f"unknown candidate model(s) {unknown}; use some of "
                             f"{', '.join(CANDIDATES)}")
        if not 1 <= self.ensemble_size <= len(self.candidates):
            raise ValueError(f"ensemble size must be 1..{len(self.candidates)}, got "
                             f"{self.ensemble_size}")

    @property
    def step(self) -> int:
        """Periods between backtest origins (a quarter of a season, at least 1)."""
        return max(1, self.season_length // 4)


@dataclass(frozen=True)
class BacktestDesign:
    """Origins (indexes on the common axis: history before the origin is used) and horizon."""

    origins: tuple[int, ...]
    horizon: int

    @property
    def samples(self) -> int:
        return len(self.origins) * self.horizon


def backtest_design(length: int, config: ForecastConfig) -> BacktestDesign | None:
    """Inner backtest origins for an axis of `length` periods, or None when too short.

    The first origin leaves two full seasons of history; the backtest horizon is the forecast
    horizon, cut to a season and to what fits. With 36 months, horizon 12 and 2 windows:
    origins 24 and 27, backtest horizon min(12, 12, 36 - 24 - 3) = 9.
    """
    spare = length - 2 * config.season_length - config.step * (config.backtest_windows - 1)
    horizon = min(config.horizon, config.season_length, spare)
    if horizon < max(1, config.season_length // 4):
        return None
    last = length - horizon
    origins = tuple(last - config.step * (config.backtest_windows - 1 - j)
                    for j in range(config.backtest_windows))
    return BacktestDesign(origins, horizon)


@dataclass(frozen=True)
class SeriesForecast:
    """One series' forecast: the reconciled point and intervals, and how it was made."""

    series_id: str
    method: str  # "ensemble" or a fallback name
    members: tuple[str, ...]  # the ensemble's models (or the fallback's)
    reason: str
    point: Floats
    intervals: Mapping[int, tuple[Floats, Floats]]  # level → (low, high)
    base_point: Floats  # before reconciliation
    scale: float
    backtest_mase: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ForecastSet:
    """Forecasts of every series of a structure over `horizon` periods after the history."""

    config: ForecastConfig
    series: tuple[SeriesForecast, ...]
    reconciliation: str
    # level → (low, high) quantiles of the scaled signed backtest errors the intervals use
    quantiles: Mapping[int, tuple[float, float]]
    calibration_samples: int
    baselines: Mapping[str, Mapping[str, tuple[Floats, Mapping[int, tuple[Floats, Floats]]]]]

    def by_id(self) -> dict[str, SeriesForecast]:
        return {s.series_id: s for s in self.series}

    def to_arrow(self) -> pa.Table:
        """One row per series and step: point and intervals as decimal(18, 2), rounded once."""
        rows: dict[str, list[Any]] = {name: [] for name in (
            "series_id", "step", "method", "reason", "point", *(
                f"{side}_{level}" for level in self.config.levels for side in ("low", "high")))}
        for series in self.series:
            for step in range(self.config.horizon):
                rows["series_id"].append(series.series_id)
                rows["step"].append(step + 1)
                rows["method"].append(series.method)
                rows["reason"].append(series.reason)
                rows["point"].append(to_cents(series.point[step]))
                for level in self.config.levels:
                    low, high = series.intervals[level]
                    rows[f"low_{level}"].append(to_cents(low[step]))
                    rows[f"high_{level}"].append(to_cents(high[step]))
        money = pa.decimal128(18, 2)
        types = {"series_id": pa.string(), "step": pa.int32(), "method": pa.string(),
                 "reason": pa.string()}
        return pa.table({name: pa.array(values, type=types.get(name, money))
                         for name, values in rows.items()})


def to_cents(value: float) -> Decimal:
    """A model's float as an exact decimal, rounded once to cents (half to even)."""
    if not math.isfinite(value):
        raise ValueError(f"a forecast value is not a number: {value}")
    return Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_EVEN)


# --- running statsforecast ----------------------------------------------------------------------


def _long_frame(series: Mapping[str, Floats], start: Mapping[str, int]) -> pd.DataFrame:
    ids: list[str] = []
    ds: list[npt.NDArray[np.int64]] = []
    ys: list[Floats] = []
    for sid, values in series.items():
        ids.extend([sid] * values.size)
        ds.append(np.arange(start[sid], start[sid] + values.size, dtype=np.int64))
        ys.append(values)
    return pd.DataFrame({"unique_id": ids, "ds": np.concatenate(ds) if ds else [],
                         "y": np.concatenate(ys) if ys else []})


def _run_models(models: Sequence[Any], series: Mapping[str, Floats], horizon: int,
                n_jobs: int, levels: Sequence[int] = (), fallback: Any = None
                ) -> dict[str, dict[str, Floats]]:
    """{column: {series_id: values}} of a statsforecast run (columns: aliases and intervals).

    A model that cannot be fitted on a series (e.g. AutoCES on a flat one) is replaced there by
    `fallback` (statsforecast's `fallback_model`)."""
    if not series:
        return {}
    from statsforecast import StatsForecast

    frame = _long_frame(series, dict.fromkeys(series, 0))
    engine = StatsForecast(models=list(models), freq=1, n_jobs=n_jobs, fallback_model=fallback)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = engine.forecast(df=frame, h=horizon, level=list(levels) or None)
    result = result.reset_index() if "unique_id" not in result.columns else result
    columns = [c for c in result.columns if c not in ("unique_id", "ds", "index")]
    out: dict[str, dict[str, Floats]] = {c: {} for c in columns}
    for sid, group in result.groupby("unique_id", sort=False):
        ordered = group.sort_values("ds")
        for column in columns:
            values = ordered[column].to_numpy(dtype=np.float64)
            out[column][str(sid)] = np.nan_to_num(values, nan=0.0)
    return out


# --- fallbacks ----------------------------------------------------------------------------------


def classify(values: Floats, config: ForecastConfig, full_length: int) -> tuple[str, str]:
    """(kind, reason) for a series trimmed to start at its first non-zero period.

    `full_length` is the history a series needs for the default method.
    """
    n = values.size
    nonzero = int(np.count_nonzero(values))
    if nonzero == 0:
        return "no_history", "no history: no bookings yet, forecast 0"
    if nonzero < 3:
        return "average", (f"too little history: {nonzero} of {n} periods with bookings; "
                           "forecast the mean of the last season")
    if n - nonzero >= n / 2:
        return "intermittent", (f"intermittent: {n - nonzero} of {n} periods without bookings; "
                                "Croston-SBA")
    if n < full_length:
        return "short", (f"short history: {n} periods, the default method needs {full_length} "
                         "(two seasons plus the backtest); non-seasonal ETS and Theta")
    return DEFAULT_METHOD, "selected by backtest"


def _season_mean(values: Floats, season_length: int, horizon: int) -> Floats:
    recent = values[-season_length:]
    level = float(np.mean(recent)) if recent.size else 0.0
    return np.full(horizon, level)


def _fallback_forecasts(kind: str, series: Mapping[str, Floats], config: ForecastConfig,
                        horizon: int) -> dict[str, Floats]:
    """Forecasts of `series` (each trimmed) with fallback `kind`."""
    if kind == "no_history":
        return {sid: np.zeros(horizon) for sid in series}
    if kind == "average":
        return {sid: _season_mean(v, config.season_length, horizon) for sid, v in series.items()}
    from statsforecast.models import AutoETS, AutoTheta, CrostonSBA, Naive

    if kind == "intermittent":
        runnable = {sid: v for sid, v in series.items() if v.size >= 2}
        out = _run_models([CrostonSBA(alias="croston")], runnable, horizon, config.n_jobs,
                          fallback=Naive())
        result = dict(out.get("croston", {}))
    else:  # short
        runnable = {sid: v for sid, v in series.items() if v.size >= 6}
        out = _run_models([AutoETS(season_length=1, alias="ets"),
                           AutoTheta(season_length=1, alias="theta")],
                          runnable, horizon, config.n_jobs, fallback=Naive())
        result = {sid: (out["ets"][sid] + out["theta"][sid]) / 2 for sid in runnable}
    for sid, values in series.items():
        if sid not in result:
            result[sid] = _season_mean(values, config.season_length, horizon)
    return result


FALLBACK_MEMBERS = {"no_history": (), "average": ("season_mean",),
                    "intermittent": ("croston_sba",), "short": ("ets", "theta")}


# --- the forecast set ---------------------------------------------------------------------------


@dataclass
class _Prepared:
    values: dict[str, Floats]  # on the common axis (length N)
    first: dict[str, int]  # index of the first non-zero period (N when none)
    kinds: dict[str, tuple[str, str]]
    scales: dict[str, float]


def _prepare(histories: Mapping[str, Sequence[float] | Floats], config: ForecastConfig
             ) -> tuple[_Prepared, BacktestDesign | None]:
    lengths = {len(v) for v in histories.values()}
    if len(lengths) > 1:
        raise ValueError(f"every series must cover the same periods; lengths {sorted(lengths)}")
    length = lengths.pop() if lengths else 0
    design = backtest_design(length, config)
    full_length = (length if design is None else
                   2 * config.season_length + config.step * (config.backtest_windows - 1)
                   + design.horizon)
    if design is None:
        full_length = max(full_length + 1, 2 * config.season_length + 2)
    values: dict[str, Floats] = {}
    first: dict[str, int] = {}
    kinds: dict[str, tuple[str, str]] = {}
    scales: dict[str, float] = {}
    for sid, raw in histories.items():
        array = np.asarray(raw, dtype=np.float64)
        if not np.isfinite(array).all():
            raise ValueError(f"series {sid!r} has a missing or infinite value")
        nonzero = np.flatnonzero(array)
        start = int(nonzero[0]) if nonzero.size else length
        values[sid] = array
        first[sid] = start
        kinds[sid] = classify(array[start:], config, full_length)
        scales[sid] = seasonal_scale(array[start:], config.season_length)
    return _Prepared(values, first, kinds, scales), design


def _base_forecasts(prepared: _Prepared, config: ForecastConfig, cut: int, horizon: int,
                    levels: Sequence[int] = ()) -> tuple[dict[str, dict[str, Floats]],
                                                         dict[str, Floats]]:
    """Forecasts from history [first, cut): ({candidate column: {full series: values}},
    {fallback series: values}). Each series keeps the kind it has on the whole history."""
    full: dict[str, Floats] = {}
    by_kind: dict[str, dict[str, Floats]] = {}
    for sid, (kind, _) in prepared.kinds.items():
        trimmed = prepared.values[sid][prepared.first[sid]:cut]
        if kind == DEFAULT_METHOD:
            full[sid] = trimmed
        else:
            effective = kind if trimmed.size else "no_history"
            by_kind.setdefault(effective, {})[sid] = trimmed
    factories = _candidate_models(config.season_length)
    candidates = _run_models([factories[c]() for c in config.candidates], full, horizon,
                             config.n_jobs, levels, fallback=factories["seasonal_naive"]())
    fallbacks: dict[str, Floats] = {}
    for kind, group in by_kind.items():
        fallbacks.update(_fallback_forecasts(kind, group, config, horizon))
    return candidates, fallbacks


def forecast_set(histories: Mapping[str, Sequence[float] | Floats],
                 structure: Structure | None, config: ForecastConfig,
                 *, baselines: bool = False) -> ForecastSet:
    """Forecast every series of `histories` (equal-length arrays on one time axis, oldest
    first, ending with the last closed period) `config.horizon` periods ahead.

    `structure` ties series together (reconciled so aggregates equal the sum of their parts);
    None treats them as independent. With `baselines`, also returns each baseline's plain
    forecast and model intervals per series (seasonal naive, ETS, ARIMA, Theta and their
    mean) for backtests; fallback series use their fallback there too.
    """
    structure = structure or Structure.flat(list(histories))
    missing = set(structure.series_ids) ^ set(histories)
    if missing:
        raise ValueError(f"series and structure differ: {sorted(missing)[:5]}")
    prepared, design = _prepare(histories, config)
    ids = list(structure.series_ids)
    length = len(next(iter(histories.values()))) if histories else 0
    levels = config.levels if baselines else ()
    candidates, fallbacks = _base_forecasts(prepared, config, length, config.horizon, levels)

    # backtest: every candidate at each inner origin, for every series; window_mase[sid][name]
    # holds one scaled error per window
    window_mase: dict[str, dict[str, list[float]]] = {sid: {} for sid in ids}
    backtest: list[tuple[int, dict[str, dict[str, Floats]], dict[str, Floats]]] = []
    if design is not None:
        for origin in design.origins:
            cands, falls = _base_forecasts(prepared, config, origin, design.horizon)
            backtest.append((origin, cands, falls))
        for sid, (kind, _) in prepared.kinds.items():
            if kind != DEFAULT_METHOD:
                continue
            actual_rows = [prepared.values[sid][o:o + design.horizon] for o, _, _ in backtest]
            for name in config.candidates:
                window_mase[sid][name] = [
                    float(np.mean(np.abs(a - c[name][sid]))) / prepared.scales[sid]
                    for a, (_, c, _) in zip(actual_rows, backtest, strict=True)]
    scores = {sid: {name: float(np.mean(errs)) for name, errs in by_name.items()}
              for sid, by_name in window_mase.items()}

    def select(sid: str, skip: int | None = None) -> tuple[str, ...]:
        """The ensemble of `sid`: the best candidates on the backtest windows (all but
        window `skip`, for cross-fitted calibration errors)."""
        kind = prepared.kinds[sid][0]
        if kind != DEFAULT_METHOD:
            return FALLBACK_MEMBERS[kind]

        def rank(name: str) -> tuple[float, int]:
            errs = [e for j, e in enumerate(window_mase[sid].get(name, [])) if j != skip]
            return (float(np.mean(errs)) if errs else math.inf, config.candidates.index(name))

        return tuple(sorted(config.candidates, key=rank)[:config.ensemble_size])

    members = {sid: select(sid) for sid in ids}

    def combine(cands: dict[str, dict[str, Floats]], falls: dict[str, Floats],
                horizon: int, chosen: Mapping[str, tuple[str, ...]]) -> Floats:
        rows = []
        for sid in ids:
            if prepared.kinds[sid][0] == DEFAULT_METHOD:
                rows.append(np.mean([cands[m][sid] for m in chosen[sid]], axis=0))
            else:
                rows.append(falls[sid])
        base = np.vstack(rows) if rows else np.zeros((0, horizon))
        non_negative = np.array([bool((prepared.values[sid] >= 0).all()) for sid in ids])
        return np.where(non_negative[:, None], np.maximum(base, 0.0), base)

    base = combine(candidates, fallbacks, config.horizon, members)
    errors: Floats | None = None
    cv_base: list[Floats] = []
    actual_cv: list[Floats] = []
    if design is not None:
        # Cross-fitted: a window's ensemble is chosen on the other windows, so its errors are
        # out of sample for the selection too (with one window, the same window).
        for j, (origin, cands, falls) in enumerate(backtest):
            skip = j if len(backtest) > 1 else None
            chosen = {sid: select(sid, skip) for sid in ids}
            cv_base.append(combine(cands, falls, design.horizon, chosen))
            actual_cv.append(np.vstack([prepared.values[sid][origin:origin + design.horizon]
                                        for sid in ids]))
        errors = np.hstack(actual_cv) - np.hstack(cv_base)
    matrix, used = reconciliation_matrix(structure, config.reconciliation, errors)
    point = matrix @ base
    scale = np.array([prepared.scales[sid] for sid in ids])
    quantiles: dict[int, tuple[float, float]] = {}
    samples = 0
    if errors is not None:
        reconciled_errors = np.hstack(actual_cv) - matrix @ np.hstack(cv_base)
        signed = (reconciled_errors / scale[:, None]).ravel()
        samples = signed.size
        # centre on the median error (how past forecasts leaned), width from the pooled
        # absolute deviations around it (both tails together: twice the samples per tail)
        centre = float(np.median(signed))
        spread = np.sort(np.abs(signed - centre))
        for level in config.levels:
            rank = min(samples, math.ceil((samples + 1) * level / 100))
            quantiles[level] = (centre - float(spread[rank - 1]),
                                centre + float(spread[rank - 1]))
    else:
        # no backtest possible: a normal approximation on the series' scale, widened by the
        # square root of the horizon (a random walk's spread)
        for level in config.levels:
            quantiles[level] = (-_normal_quantile(level), _normal_quantile(level))
    growth = (np.ones(config.horizon) if errors is not None
              else np.sqrt(np.arange(1, config.horizon + 1)))
    non_negative = np.array([bool((prepared.values[sid] >= 0).all()) for sid in ids])
    out: list[SeriesForecast] = []
    for row, sid in enumerate(ids):
        kind, reason = prepared.kinds[sid]
        intervals: dict[int, tuple[Floats, Floats]] = {}
        for level, (below, above) in quantiles.items():
            low = point[row] + below * scale[row] * growth
            if non_negative[row]:
                low = np.maximum(low, 0.0)
            intervals[level] = (low, point[row] + above * scale[row] * growth)
        out.append(SeriesForecast(
            series_id=sid, method=kind, members=members[sid], reason=reason,
            point=point[row], intervals=intervals, base_point=base[row], scale=scale[row],
            backtest_mase=scores[sid]))
    baseline_table = _baselines(prepared, config, candidates, fallbacks, ids) if baselines else {}
    return ForecastSet(config, tuple(out), used, quantiles, samples, baseline_table)


def _normal_quantile(level: int) -> float:
    from statistics import NormalDist

    # MAE-scaled: for normal errors MAE = sigma * sqrt(2/pi)
    return NormalDist().inv_cdf(0.5 + level / 200) / math.sqrt(2 / math.pi)


def _baselines(prepared: _Prepared, config: ForecastConfig,
               candidates: dict[str, dict[str, Floats]], fallbacks: dict[str, Floats],
               ids: Sequence[str]
               ) -> dict[str, dict[str, tuple[Floats, dict[int, tuple[Floats, Floats]]]]]:
    """Plain forecasts and model intervals of the baselines, per series."""
    names = [n for n in ("seasonal_naive", *BASELINE_MEAN) if n in config.candidates]
    table: dict[str, dict[str, tuple[Floats, dict[int, tuple[Floats, Floats]]]]] = {
        name: {} for name in names}
    if all(n in config.candidates for n in BASELINE_MEAN):
        table["mean_ets_arima_theta"] = {}
    for sid in ids:
        full = prepared.kinds[sid][0] == DEFAULT_METHOD
        for name in names:
            if full:
                point = candidates[name][sid]
                bounds = {level: (candidates[f"{name}-lo-{level}"][sid],
                                  candidates[f"{name}-hi-{level}"][sid])
                          for level in config.levels}
            else:
                point = fallbacks[sid]
                bounds = {level: (point, point) for level in config.levels}
            table[name][sid] = (point, bounds)
        if "mean_ets_arima_theta" in table:
            parts = [table[n][sid] for n in BASELINE_MEAN]
            point = np.mean([p for p, _ in parts], axis=0)
            bounds = {level: (np.mean([b[level][0] for _, b in parts], axis=0),
                              np.mean([b[level][1] for _, b in parts], axis=0))
                      for level in config.levels}
            table["mean_ets_arima_theta"][sid] = (point, bounds)
    return table


def with_horizon(config: ForecastConfig, horizon: int) -> ForecastConfig:
    return replace(config, horizon=horizon)


def anchored(forecasts: ForecastSet, total: Floats) -> ForecastSet:
    """`forecasts` of a grouping (product families, segments: parts of the company) moved to
    add up to `total`, the company forecast of the primary hierarchy. Each part moves in
    proportion to its squared scale (a proxy for its error variance, `reconcile.anchor_to_total`);
    its intervals move with it. Baselines are left as they were.
    """
    from attain.engine.forecasting.reconcile import anchor_to_total

    if not forecasts.series:
        return forecasts
    points = np.vstack([s.point for s in forecasts.series])
    variances = np.array([s.scale**2 for s in forecasts.series])
    moved = anchor_to_total(points, total, variances)
    out = []
    for row, series in enumerate(forecasts.series):
        shift = moved[row] - series.point
        intervals = {level: (np.maximum(low + shift, 0.0) if (low >= 0).all() else low + shift,
                             high + shift)
                     for level, (low, high) in series.intervals.items()}
        out.append(replace(series, point=moved[row], intervals=intervals))
    return replace(forecasts, series=tuple(out))


def forecast_hierarchy(primary: Mapping[str, Sequence[float] | Floats],
                       structure: Structure | None, config: ForecastConfig,
                       groupings: Mapping[str, Mapping[str, Sequence[float] | Floats]]
                       | None = None, *, total_id: str = "company",
                       baselines: bool = False) -> ForecastSet:
    """The primary hierarchy (e.g. company → teams → people) reconciled by `structure`, plus
    each grouping (e.g. product families, segments: other splits of the same company total)
    forecast on its own and anchored to the primary `total_id` forecast. One `ForecastSet`
    with every series; quantiles and reconciliation are the primary's.
    """
    result = forecast_set(primary, structure, config, baselines=baselines)
    if not groupings:
        return result
    total = result.by_id()[total_id].point
    series = list(result.series)
    merged = {name: dict(table) for name, table in result.baselines.items()}
    for parts in groupings.values():
        if not parts:
            continue
        grouped = anchored(forecast_set(parts, None, config, baselines=baselines), total)
        series.extend(grouped.series)
        for name, table in grouped.baselines.items():
            merged.setdefault(name, {}).update(table)
    return replace(result, series=tuple(series), baselines=merged)
