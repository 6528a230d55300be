"""Statistical forecasts of many series at once: candidate models, per-series selection by a
rolling-origin backtest, an ensemble, reconciliation and intervals calibrated on backtest errors.

The default method ("ensemble"), for each series with enough history, in two tiers by the
series' level (ADR 0011, `ForecastConfig`):
1. detailed tier (company, team, product family, segment, while a level has at most
   `detailed_limit` series): fit every candidate (seasonal naive, AutoETS, AutoTheta,
   AutoCES, MSTL, and AutoARIMA when the series has four seasons of history) at
   `backtest_windows` rolling origins inside the history and score each on the periods after
   the origin (MASE, scaled by the series' in-sample seasonal-naive error); average the
   `ensemble_size` best (equal weights: estimated weights overfit on a few windows);
   bulk tier (people, and any level with more series): the `bulk_ensemble_size` best of the
   fast `bulk_candidates` on the same windows over a sample of the level's series, one
   ensemble for the whole level; only its members are then fitted on every series;
2. refit the chosen models on the whole history and forecast (every cut of a series goes
   into one statsforecast call per model set, spread over `n_jobs` processes);
3. reconcile every series of the hierarchy with MinT-shrink (`reconcile.py`; in two stages
   above `reconcile_limit` bottom series), so teams add up to the company;
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
from attain.engine.forecasting.reconcile import Structure, reconciliation_matrix, two_stage

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
        DynamicOptimizedTheta,
        SeasonalExponentialSmoothingOptimized,
        SeasonalNaive,
        SeasonalWindowAverage,
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
        # the fast models of the bulk tier (well under 10 ms a fit each)
        "dot": lambda: DynamicOptimizedTheta(season_length=s, alias="dot"),
        "seasonal_es": lambda: SeasonalExponentialSmoothingOptimized(
            season_length=s, alias="seasonal_es"),
        "seasonal_window": lambda: SeasonalWindowAverage(season_length=s, window_size=2,
                                                         alias="seasonal_window"),
    }


CANDIDATES = ("seasonal_naive", "ets", "arima", "theta", "ces", "mstl")
# The bulk tier (people, and any level with many series): fast models only; the ensemble is
# chosen once per level on a sample of its series.
BULK_CANDIDATES = ("seasonal_naive", "seasonal_window", "seasonal_es", "dot", "mstl")
MODELS = (*CANDIDATES, "dot", "seasonal_es", "seasonal_window")
# Levels whose series are few and carry the most money: every candidate, chosen per series.
DETAILED_LEVELS = ("company", "team", "family", "segment")
# The plain model means the issue compares the default method against.
BASELINE_MEAN = ("ets", "arima", "theta")
FALLBACKS = ("no_history", "average", "intermittent", "short")
UNGROUPED = "series"


@dataclass(frozen=True)
class ForecastConfig:
    """How a forecast set is made; `season_length` is 12 for months, 4 for quarters.

    Two tiers (ADR 0011): series of a level in `detailed_levels` (or every series when no
    levels are given), as long as that level has at most `detailed_limit` series, are
    forecast with `candidates` chosen per series (AutoARIMA only for a series with at least
    `arima_min_seasons` seasons of history); every other series with `bulk_candidates`,
    the `bulk_ensemble_size` best chosen once per level on a backtest of at most
    `selection_sample` of its series. `n_jobs` is statsforecast's process count (-1: every
    core), used for calls with at least `parallel_from` series. A hierarchy with more than
    `reconcile_limit` bottom series is reconciled in two stages (`reconcile.two_stage`).
    """

    horizon: int
    season_length: int
    candidates: tuple[str, ...] = CANDIDATES
    ensemble_size: int = 3
    backtest_windows: int = 2
    levels: tuple[int, ...] = (80, 95)
    reconciliation: str = "mint_shrink"
    n_jobs: int = 1
    bulk_candidates: tuple[str, ...] = BULK_CANDIDATES
    bulk_ensemble_size: int = 3
    detailed_levels: tuple[str, ...] = DETAILED_LEVELS
    detailed_limit: int = 60
    selection_sample: int = 200
    parallel_from: int = 300
    arima_min_seasons: int = 4
    reconcile_limit: int = 1000

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {self.horizon}")
        if self.season_length < 1:
            raise ValueError(f"season length must be at least 1, got {self.season_length}")
        for name, chosen, size in (("candidate", self.candidates, self.ensemble_size),
                                   ("bulk candidate", self.bulk_candidates,
                                    self.bulk_ensemble_size)):
            unknown = [c for c in chosen if c not in MODELS]
            if unknown or not chosen:
                raise ValueError(f"unknown {name} model(s) {unknown}; use some of "
                                 f"{', '.join(MODELS)}")
            if not 1 <= size <= len(chosen):
                raise ValueError(f"{name} ensemble size must be 1..{len(chosen)}, got {size}")
        if self.selection_sample < 1:
            raise ValueError(f"selection sample must be at least 1, got "
                             f"{self.selection_sample}")

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
                n_jobs: int, levels: Sequence[int] = (), fallback: Any = None,
                parallel_from: int = 300) -> dict[str, dict[str, Floats]]:
    """{column: {series_id: values}} of a statsforecast run (columns: aliases and intervals).

    A model that cannot be fitted on a series (e.g. AutoCES on a flat one) is replaced there by
    `fallback` (statsforecast's `fallback_model`). Below `parallel_from` series one process
    does the work (starting a pool costs more than it saves)."""
    if not series:
        return {}
    from statsforecast import StatsForecast

    frame = _long_frame(series, dict.fromkeys(series, 0))
    jobs = n_jobs if len(series) >= parallel_from else 1
    engine = StatsForecast(models=list(models), freq=1, n_jobs=jobs, fallback_model=fallback)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = engine.forecast(df=frame, h=horizon, level=list(levels) or None)
    result = result.reset_index() if "unique_id" not in result.columns else result
    columns = [c for c in result.columns if c not in ("unique_id", "ds", "index")]
    # one block of `horizon` rows per series, in time order: reshape instead of grouping
    result = result.sort_values(["unique_id", "ds"], kind="stable")
    ids = result["unique_id"].astype(str).to_numpy()[::horizon]
    out: dict[str, dict[str, Floats]] = {}
    for column in columns:
        block = np.nan_to_num(result[column].to_numpy(dtype=np.float64).reshape(-1, horizon),
                              nan=0.0)
        out[column] = dict(zip(ids, block, strict=True))
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
                          fallback=Naive(), parallel_from=config.parallel_from)
        result = dict(out.get("croston", {}))
    else:  # short
        runnable = {sid: v for sid, v in series.items() if v.size >= 6}
        out = _run_models([AutoETS(season_length=1, alias="ets"),
                           AutoTheta(season_length=1, alias="theta")],
                          runnable, horizon, config.n_jobs, fallback=Naive(),
                          parallel_from=config.parallel_from)
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


Job = tuple[tuple[str, ...], Sequence[str], Sequence[int]]  # models, series, interval levels


# Models slow enough (tens to hundreds of ms a fit) that a process pool pays off even for a
# handful of series.
SLOW_MODELS = frozenset({"arima", "ces", "ets"})
SLOW_PARALLEL_FROM = 8


def _fit(prepared: _Prepared, config: ForecastConfig, cuts: Sequence[int], horizon: int,
         jobs: Sequence[Job]) -> list[dict[str, dict[str, Floats]]]:
    """Per cut, {column: {series: values}}: each job's models fitted on history [first, cut)
    of its series, `horizon` steps ahead. One statsforecast call per job covers every cut
    (the cut histories are just more series), so the pool of processes is started once and
    shared out evenly; the first h steps of a forecast do not depend on the horizon asked."""
    factories = _candidate_models(config.season_length)
    out: list[dict[str, dict[str, Floats]]] = [{} for _ in cuts]
    for names, sids, levels in jobs:
        series = {f"{i}|{sid}": prepared.values[sid][prepared.first[sid]:cut]
                  for i, cut in enumerate(cuts) for sid in sids}
        slow = any(name in SLOW_MODELS for name in names)
        result = _run_models([factories[n]() for n in names], series, horizon, config.n_jobs,
                             levels, fallback=factories["seasonal_naive"](),
                             parallel_from=SLOW_PARALLEL_FROM if slow else config.parallel_from)
        for column, values in result.items():
            for key, forecast in values.items():
                index, sid = key.split("|", 1)
                out[int(index)].setdefault(column, {})[sid] = forecast
    return out


def _fallbacks(prepared: _Prepared, config: ForecastConfig, cut: int, horizon: int
               ) -> dict[str, Floats]:
    """Forecasts of the fallback series from history [first, cut); each series keeps the kind
    it has on the whole history."""
    by_kind: dict[str, dict[str, Floats]] = {}
    for sid, (kind, _) in prepared.kinds.items():
        if kind == DEFAULT_METHOD:
            continue
        trimmed = prepared.values[sid][prepared.first[sid]:cut]
        by_kind.setdefault(kind if trimmed.size else "no_history", {})[sid] = trimmed
    out: dict[str, Floats] = {}
    for kind, group in by_kind.items():
        out.update(_fallback_forecasts(kind, group, config, horizon))
    return out


@dataclass(frozen=True)
class _Tiers:
    """Which series get the detailed treatment and which the bulk one, by level."""

    detailed: dict[str, tuple[str, ...]]  # series → its candidates
    bulk: dict[str, tuple[str, ...]]  # level → its long series
    chosen: dict[str, tuple[str, ...]]  # level → its ensemble (bulk levels)
    sampled: dict[str, int]  # level → how many series its selection backtest used

    def jobs(self, config: ForecastConfig) -> list[Job]:
        """One statsforecast call per distinct model set."""
        by_models: dict[tuple[str, ...], list[str]] = {}
        for sid, models in self.detailed.items():
            by_models.setdefault(models, []).append(sid)
        for level, sids in self.bulk.items():
            by_models.setdefault(self.chosen[level], []).extend(sids)
        return [(models, tuple(sids), ()) for models, sids in by_models.items()]


def _sample(prepared: _Prepared, sids: Sequence[str], size: int) -> list[str]:
    """At most `size` series spread evenly over `sids` ranked by volume (small to large)."""
    if len(sids) <= size:
        return list(sids)
    ranked = sorted(sids, key=lambda sid: (float(np.sum(np.abs(prepared.values[sid]))), sid))
    picks = np.unique(np.linspace(0, len(ranked) - 1, size).round().astype(int))
    return [ranked[i] for i in picks]


def _tiers(prepared: _Prepared, config: ForecastConfig, design: BacktestDesign | None,
           levels: Mapping[str, str] | None) -> _Tiers:
    """Split the long series into the detailed and bulk tiers and choose each bulk level's
    ensemble: the `bulk_ensemble_size` fast models with the lowest mean MASE over a sample of
    the level's series and the backtest windows."""
    by_level: dict[str, list[str]] = {}
    for sid, (kind, _) in prepared.kinds.items():
        if kind == DEFAULT_METHOD:
            level = (levels or {}).get(sid, UNGROUPED)
            by_level.setdefault(level, []).append(sid)
    detailed: dict[str, tuple[str, ...]] = {}
    bulk: dict[str, tuple[str, ...]] = {}
    slow_from = config.arima_min_seasons * config.season_length
    short_set = tuple(c for c in config.candidates if c != "arima") or config.candidates
    for level, sids in by_level.items():
        if ((levels is None or level in config.detailed_levels)
                and len(sids) <= config.detailed_limit):
            for sid in sids:
                length = prepared.values[sid].size - prepared.first[sid]
                detailed[sid] = config.candidates if length >= slow_from else short_set
        else:
            bulk[level] = tuple(sids)
    chosen: dict[str, tuple[str, ...]] = {}
    sampled: dict[str, int] = {}
    if design is not None:
        for level, members in bulk.items():
            sample = _sample(prepared, members, config.selection_sample)
            sampled[level] = len(sample)
            errors: dict[str, list[float]] = {name: [] for name in config.bulk_candidates}
            windows = _fit(prepared, config, design.origins, design.horizon,
                           [(config.bulk_candidates, sample, ())])
            for origin, fitted in zip(design.origins, windows, strict=True):
                for sid in sample:
                    actual = prepared.values[sid][origin:origin + design.horizon]
                    for name in config.bulk_candidates:
                        errors[name].append(float(np.mean(np.abs(actual - fitted[name][sid])))
                                            / prepared.scales[sid])
            ranked = sorted(config.bulk_candidates, key=lambda name: (
                float(np.mean(errors[name])), config.bulk_candidates.index(name)))
            chosen[level] = tuple(ranked[:config.bulk_ensemble_size])
    return _Tiers(detailed, bulk, chosen, sampled)


def forecast_set(histories: Mapping[str, Sequence[float] | Floats],
                 structure: Structure | None, config: ForecastConfig,
                 *, baselines: bool = False, levels: Mapping[str, str] | None = None
                 ) -> ForecastSet:
    """Forecast every series of `histories` (equal-length arrays on one time axis, oldest
    first, ending with the last closed period) `config.horizon` periods ahead.

    `structure` ties series together (reconciled so aggregates equal the sum of their parts);
    None treats them as independent. `levels` names each series' level (company, team,
    person…) for the choice of tier (`ForecastConfig`); without it every series is one level.
    With `baselines`, also returns each baseline's plain forecast and model intervals per
    series (seasonal naive, ETS, ARIMA, Theta and their mean) for backtests; fallback series
    use their fallback there too.
    """
    structure = structure or Structure.flat(list(histories))
    missing = set(structure.series_ids) ^ set(histories)
    if missing:
        raise ValueError(f"series and structure differ: {sorted(missing)[:5]}")
    prepared, design = _prepare(histories, config)
    ids = list(structure.series_ids)
    length = len(next(iter(histories.values()))) if histories else 0
    tiers = _tiers(prepared, config, design, levels)
    jobs = tiers.jobs(config)
    if baselines:
        # the baselines with their own model intervals: the detailed candidates with theirs,
        # and the baseline models on the other long series too
        jobs = [(models, sids, config.levels if models == config.candidates else ())
                for models, sids, _ in jobs]
    cuts = [length, *(design.origins if design is not None else ())]
    fitted = _fit(prepared, config, cuts, config.horizon, jobs)
    candidates = fitted[0]
    bulk_ids = (*(s for sids in tiers.bulk.values() for s in sids),
                *(s for s, models in tiers.detailed.items() if models != config.candidates))
    if baselines and bulk_ids:
        names = tuple(n for n in ("seasonal_naive", *BASELINE_MEAN) if n in config.candidates)
        plain = _fit(prepared, config, [length], config.horizon,
                     [(names, bulk_ids, config.levels)])[0]
        for column, values in plain.items():
            candidates.setdefault(column, {}).update(values)
    fallbacks = _fallbacks(prepared, config, length, config.horizon)
    level_of = {sid: level for level, sids in tiers.bulk.items() for sid in sids}

    # backtest: every candidate (a bulk series: its level's ensemble) at each inner origin;
    # window_mase[sid][name] holds one scaled error per window
    window_mase: dict[str, dict[str, list[float]]] = {sid: {} for sid in ids}
    backtest: list[tuple[int, dict[str, dict[str, Floats]], dict[str, Floats]]] = []
    if design is not None:
        for origin in design.origins:
            window = {column: {sid: values[:design.horizon] for sid, values in by_sid.items()}
                      for column, by_sid in fitted[len(backtest) + 1].items()}
            backtest.append((origin, window,
                             _fallbacks(prepared, config, origin, design.horizon)))
        for sid, (kind, _) in prepared.kinds.items():
            if kind != DEFAULT_METHOD:
                continue
            actual_rows = [prepared.values[sid][o:o + design.horizon] for o, _, _ in backtest]
            names = tiers.chosen[level_of[sid]] if sid in level_of else tiers.detailed[sid]
            for name in names:
                window_mase[sid][name] = [
                    float(np.mean(np.abs(a - c[name][sid]))) / prepared.scales[sid]
                    for a, (_, c, _) in zip(actual_rows, backtest, strict=True)]
    scores = {sid: {name: float(np.mean(errs)) for name, errs in by_name.items()}
              for sid, by_name in window_mase.items()}

    def select(sid: str, skip: int | None = None) -> tuple[str, ...]:
        """The ensemble of `sid`: the best candidates on the backtest windows (all but
        window `skip`, for cross-fitted calibration errors); a bulk series takes its level's
        (chosen on a sample of many series: one choice for the level barely overfits)."""
        kind = prepared.kinds[sid][0]
        if kind != DEFAULT_METHOD:
            return FALLBACK_MEMBERS[kind]
        if sid in level_of:
            return tiers.chosen[level_of[sid]]

        def rank(name: str) -> tuple[float, int]:
            errs = [e for j, e in enumerate(window_mase[sid].get(name, [])) if j != skip]
            return (float(np.mean(errs)) if errs else math.inf, config.candidates.index(name))

        return tuple(sorted(tiers.detailed[sid], key=rank)[:config.ensemble_size])

    members = {sid: select(sid) for sid in ids}
    non_negative = np.array([bool((prepared.values[sid] >= 0).all()) for sid in ids])

    def combine(cands: dict[str, dict[str, Floats]], falls: dict[str, Floats],
                horizon: int, chosen: Mapping[str, tuple[str, ...]]) -> Floats:
        rows = []
        for sid in ids:
            if prepared.kinds[sid][0] == DEFAULT_METHOD:
                rows.append(np.mean([cands[m][sid] for m in chosen[sid]], axis=0))
            else:
                rows.append(falls[sid])
        base = np.vstack(rows) if rows else np.zeros((0, horizon))
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
    flat = structure.summing.shape[0] == structure.summing.shape[1]
    reconcile: Callable[[Floats], Floats]
    if flat:  # independent series: nothing to reconcile (and no n x n identity to build)
        used = "none"

        def unchanged(values: Floats) -> Floats:
            return values

        reconcile = unchanged
    elif structure.summing.shape[1] > config.reconcile_limit:
        # thousands of bottoms: one MinT would need n x n matrices
        reconcile, used = two_stage(structure, config.reconciliation, errors)
    else:
        matrix, used = reconciliation_matrix(structure, config.reconciliation, errors)

        def by_matrix(values: Floats) -> Floats:
            out: Floats = matrix @ values
            return out

        reconcile = by_matrix
    point = reconcile(base)
    scale = np.array([prepared.scales[sid] for sid in ids])
    quantiles: dict[int, tuple[float, float]] = {}
    samples = 0
    if errors is not None:
        reconciled_errors = np.hstack(actual_cv) - reconcile(np.hstack(cv_base))
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
    out: list[SeriesForecast] = []
    for row, sid in enumerate(ids):
        kind, reason = prepared.kinds[sid]
        if sid in level_of:
            group = level_of[sid]
            reason = (f"chosen for the level: the {len(members[sid])} best of "
                      f"{len(config.bulk_candidates)} fast models on a backtest of "
                      f"{tiers.sampled[group]} of its {len(tiers.bulk[group])} series")
        intervals: dict[int, tuple[Floats, Floats]] = {}
        for level_pct, (below, above) in quantiles.items():
            low = point[row] + below * scale[row] * growth
            if non_negative[row]:
                low = np.maximum(low, 0.0)
            intervals[level_pct] = (low, point[row] + above * scale[row] * growth)
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
                       baselines: bool = False, levels: Mapping[str, str] | None = None
                       ) -> ForecastSet:
    """The primary hierarchy (e.g. company → teams → people) reconciled by `structure`, plus
    each grouping (e.g. product families, segments: other splits of the same company total)
    forecast on its own and anchored to the primary `total_id` forecast. One `ForecastSet`
    with every series; quantiles and reconciliation are the primary's.
    """
    result = forecast_set(primary, structure, config, baselines=baselines, levels=levels)
    if not groupings:
        return result
    total = result.by_id()[total_id].point
    series = list(result.series)
    merged = {name: dict(table) for name, table in result.baselines.items()}
    for parts in groupings.values():
        if not parts:
            continue
        grouped = anchored(forecast_set(parts, None, config, baselines=baselines,
                                        levels=levels), total)
        series.extend(grouped.series)
        for name, table in grouped.baselines.items():
            merged.setdefault(name, {}).update(table)
    return replace(result, series=tuple(series), baselines=merged)
