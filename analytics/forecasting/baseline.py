"""Baseline forecasts and error measures, in numpy: naive, seasonal naive, MAE and MASE.

MASE here is Hyndman and Koehler's (2006) seasonal form: the mean absolute error of a forecast
divided by the in-sample mean absolute error of the one-season-ahead seasonal-naive forecast on
the training data (``y[t] - y[t - m]``, m = 24 hourly points). Below 1.0, a forecast beats
what "the same hour yesterday" achieved in sample; the seasonal-naive forecast itself scores
about 1.0 out of sample on a stable series.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

DAY_HOURS = 24
WEEK_HOURS = 168
# Normal quantiles of the central 80% and 95% intervals.
Z80 = 1.2815515655446004
Z95 = 1.959963984540054


def naive(history: Array, horizon: int) -> Array:
    """The last value, repeated."""
    return np.full(horizon, float(history[-1]))


def seasonal_naive(history: Array, horizon: int, period: int = DAY_HOURS) -> Array:
    """Each hour ahead takes the value of the same hour in the last observed season."""
    if len(history) < period:
        raise ValueError(f"seasonal naive needs {period} points, got {len(history)}")
    last_season = history[-period:]
    return np.array([last_season[h % period] for h in range(horizon)], dtype=np.float64)


def seasonal_naive_residuals(history: Array, period: int = DAY_HOURS) -> Array:
    """In-sample errors of the one-season-ahead seasonal-naive forecast: ``y[t] - y[t-m]``."""
    if len(history) <= period:
        return np.zeros(0)
    return history[period:] - history[:-period]


def mase_scale(history: Array, period: int = DAY_HOURS) -> float:
    """The in-sample MAE of the seasonal-naive forecast (MASE's denominator); NaN when the
    history is shorter than a season and a point."""
    residuals = seasonal_naive_residuals(history, period)
    return float(np.mean(np.abs(residuals))) if len(residuals) else math.nan


def mae(actual: Array, predicted: Array) -> float:
    return float(np.mean(np.abs(actual - predicted)))


def mase(actual: Array, predicted: Array, scale: float) -> float:
    """MAE over ``scale``; NaN when the scale is zero or unknown (a constant history)."""
    if not scale or math.isnan(scale):
        return math.nan
    return mae(actual, predicted) / scale


def seasonal_naive_spread(history: Array, horizon: int, period: int = DAY_HOURS) -> Array:
    """Standard deviation of the seasonal-naive forecast error per hour ahead: the in-sample
    residuals' standard deviation times sqrt(k), k the seasons ahead (1 for the first day)."""
    residuals = seasonal_naive_residuals(history, period)
    sigma = float(np.std(residuals, ddof=1)) if len(residuals) > 1 else 0.0
    seasons_ahead = np.floor(np.arange(horizon) / period) + 1.0
    return np.asarray(sigma * np.sqrt(seasons_ahead), dtype=np.float64)


def naive_spread(history: Array, horizon: int) -> Array:
    """Standard deviation of the naive (random-walk) forecast error: sigma * sqrt(h)."""
    steps = np.diff(history)
    sigma = float(np.std(steps, ddof=1)) if len(steps) > 1 else 0.0
    return np.asarray(sigma * np.sqrt(np.arange(1, horizon + 1)), dtype=np.float64)
