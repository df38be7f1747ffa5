"""Forecasts of hourly series: model choice by backtest against seasonal naive, intervals,
capacity crossings and a cache of fitted forecasts.

Plain numpy in, plain data out; statsmodels is imported by :mod:`analytics.forecasting.models`
alone, inside its functions, so importing this package (and starting the service) does not
load it.
"""

from __future__ import annotations

from analytics.forecasting.cache import ForecastCache
from analytics.forecasting.capacity import CapacityCrossing, capacity_crossing, first_reaching
from analytics.forecasting.errors import ForecastingError, ModelFitError
from analytics.forecasting.forecaster import (
    HOLT_WINTERS,
    NAIVE,
    SEASONAL_NAIVE,
    Backtest,
    Bounds,
    Forecast,
    forecast_series,
)

__all__ = [
    "HOLT_WINTERS",
    "NAIVE",
    "SEASONAL_NAIVE",
    "Backtest",
    "Bounds",
    "CapacityCrossing",
    "Forecast",
    "ForecastCache",
    "ForecastingError",
    "ModelFitError",
    "capacity_crossing",
    "first_reaching",
    "forecast_series",
]
