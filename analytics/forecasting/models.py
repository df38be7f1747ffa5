"""Holt-Winters exponential smoothing through statsmodels: the one module that imports it.

statsmodels is imported inside the functions, never at module import: it takes about a second
to load and the service starts (and answers everything but forecasts) without it. Its warnings
are silenced and its exceptions become :class:`ModelFitError` here.

Initial level, trend and seasonal states come from statsmodels' heuristic (the first two
seasons), so a fit optimises only the smoothing parameters: tens of milliseconds for a month of
hourly points, and a refit with fixed parameters (each backtest fold) takes a few.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.forecasting.baseline import Array
from analytics.forecasting.errors import ModelFitError

# statsmodels' heuristic initialisation reads two full seasons.
MIN_SEASONS = 2


@dataclass(frozen=True)
class HoltWintersSpec:
    """One model form: additive seasonality of ``period`` hours, optional additive trend."""

    name: str
    period: int
    trend: bool = False
    damped: bool = False

    def min_points(self) -> int:
        return MIN_SEASONS * self.period


@dataclass(frozen=True)
class SmoothingParams:
    """The fitted smoothing parameters (alpha, beta, gamma, phi); None where the form has none."""

    level: float
    seasonal: float
    trend: float | None = None
    damping: float | None = None


class FittedHoltWinters:
    """A fitted model: point forecasts and simulated future paths."""

    def __init__(self, spec: HoltWintersSpec, params: SmoothingParams, results: Any) -> None:
        self.spec = spec
        self.params = params
        self._results = results

    @property
    def residuals(self) -> Array:
        return np.asarray(self._results.resid, dtype=np.float64)

    def forecast(self, horizon: int) -> Array:
        with _quiet():
            values = np.asarray(self._results.forecast(horizon), dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ModelFitError(f"{self.spec.name}: the forecast is not finite")
        return values

    def simulate(self, horizon: int, repetitions: int, seed: int = 0) -> Array:
        """Future paths, shape (horizon, repetitions): the model run forward with its own
        in-sample residuals drawn at random (bootstrap), from the end of the history."""
        with _quiet():
            try:
                paths = self._results.simulate(
                    horizon,
                    repetitions=repetitions,
                    error="add",
                    random_errors="bootstrap",
                    rng=np.random.default_rng(seed),
                )
            except (ValueError, np.linalg.LinAlgError) as exc:
                raise ModelFitError(f"{self.spec.name}: simulation failed: {exc}") from exc
        return np.asarray(paths, dtype=np.float64).reshape(horizon, repetitions)


def load() -> None:
    """Import statsmodels' Holt-Winters now (about a second): for a background thread, so the
    first forecast a client asks for does not pay for it."""
    importlib.import_module("statsmodels.tsa.holtwinters")


def fit_holt_winters(
    values: Array, spec: HoltWintersSpec, params: SmoothingParams | None = None
) -> FittedHoltWinters:
    """Fit ``spec`` to ``values``: smoothing parameters optimised, or fixed to ``params``."""
    if len(values) < spec.min_points():
        raise ModelFitError(f"{spec.name} needs {spec.min_points()} points, got {len(values)}")
    from statsmodels.tsa.holtwinters import (  # type: ignore[import-untyped]
        ExponentialSmoothing,
    )

    with _quiet():
        try:
            model = ExponentialSmoothing(
                values,
                trend="add" if spec.trend else None,
                damped_trend=spec.damped,
                seasonal="add",
                seasonal_periods=spec.period,
                initialization_method="heuristic",
            )
            if params is None:
                results = model.fit()
            else:
                results = model.fit(
                    smoothing_level=params.level,
                    smoothing_seasonal=params.seasonal,
                    smoothing_trend=params.trend if spec.trend else None,
                    damping_trend=params.damping if spec.damped else None,
                    optimized=False,
                )
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            raise ModelFitError(f"{spec.name}: {exc}") from exc
    found = results.params
    fitted = SmoothingParams(
        level=float(found["smoothing_level"]),
        seasonal=float(found["smoothing_seasonal"]),
        trend=_optional(found.get("smoothing_trend")) if spec.trend else None,
        damping=_optional(found.get("damping_trend")) if spec.damped else None,
    )
    if not all(
        math.isfinite(v) for v in (fitted.level, fitted.seasonal, fitted.trend or 0.0)
    ) or not np.all(np.isfinite(results.fittedvalues)):
        raise ModelFitError(f"{spec.name}: the fit did not converge")
    return FittedHoltWinters(spec, fitted, results)


def _optional(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@contextmanager
def _quiet() -> Iterator[None]:
    # Convergence and future-deprecation warnings are statsmodels' business, not the caller's:
    # a bad fit shows in its backtest error and loses to seasonal naive.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield
