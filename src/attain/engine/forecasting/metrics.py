"""Forecast accuracy measures: MASE, sMAPE, WAPE, bias and interval coverage (numpy, no Django).

Worked example (actuals 100, 200; forecasts 110, 170; scale 20):

    errors        -10, 30           (actual - forecast)
    MASE          mean(|e|) / scale = 20 / 20 = 1.0
    sMAPE         mean(2|e| / (|a| + |f|)) = (20/210 + 60/370) / 2 = 0.12868…
    WAPE          sum(|e|) / sum(|a|) = 40 / 300 = 0.1333…
    bias          sum(f - a) / sum(|a|) = -20 / 300 = -0.0667 (under-forecast)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def seasonal_scale(history: Floats, season_length: int) -> float:
    """The MASE denominator: in-sample mean absolute error of the seasonal naive forecast
    (lag `season_length`), or of the naive forecast (lag 1) when the history is shorter than
    two seasons. Never zero: a constant series gets its mean absolute level, or 1.
    """
    values = np.asarray(history, dtype=np.float64)
    lag = season_length if values.size > season_length else 1
    if values.size > lag:
        scale = float(np.mean(np.abs(values[lag:] - values[:-lag])))
        if scale > 0:
            return scale
    level = float(np.mean(np.abs(values))) if values.size else 0.0
    return level if level > 0 else 1.0


def mase(actual: Floats, forecast: Floats, scale: float) -> float:
    return float(np.mean(np.abs(actual - forecast)) / scale)


def smape(actual: Floats, forecast: Floats) -> float:
    """Symmetric MAPE in [0, 2]; a pair of zeros counts as a perfect forecast."""
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(2 * np.abs(actual - forecast), denominator,
                      out=np.zeros_like(denominator), where=denominator > 0)
    return float(np.mean(ratio))


def wape(actual: Floats, forecast: Floats) -> float:
    """Sum of absolute errors over the sum of absolute actuals (nan when every actual is 0)."""
    total = float(np.sum(np.abs(actual)))
    return float(np.sum(np.abs(actual - forecast)) / total) if total > 0 else float("nan")


def bias(actual: Floats, forecast: Floats) -> float:
    """Over (+) or under (-) forecasting, relative to the sum of absolute actuals."""
    total = float(np.sum(np.abs(actual)))
    return float(np.sum(forecast - actual) / total) if total > 0 else float("nan")


def coverage(actual: Floats, low: Floats, high: Floats) -> float:
    """Share of actuals inside [low, high]."""
    if actual.size == 0:
        return float("nan")
    return float(np.mean((actual >= low) & (actual <= high)))
