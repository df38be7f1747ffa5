"""One series' forecast: the model chosen by rolling-origin backtest, with 80% and 95% intervals.

The choice, for an hourly series of n points:

* n < 24: ``naive`` (the last value), reason ``history_too_short``.
* fewer than MIN_FOLDS backtest folds fit (n < 96, four days): ``seasonal_naive`` (the same
  hour of the last day), reason ``history_too_short``.
* a constant history: ``seasonal_naive`` (exact), reason ``constant_series``; one where every
  day repeats the day before to rounding: ``seasonal_naive``, reason ``exactly_periodic``.
* no season to learn (the autocorrelation at 24 h and at 168 h is below MIN_SEASONAL_ACF, as
  for white noise): ``seasonal_naive``, reason ``no_seasonal_structure``.
* otherwise each Holt-Winters form of CANDIDATES, the weekly seasonal naive (the same hour of
  the same weekday last week, for series that follow the working week, like jobs that run on
  weekdays) and, where the series has a cycle of its own between a day and a week (jobs every
  36 h, say: :func:`dominant_period`), the seasonal naive of that cycle, that the history
  allows, is backtested against seasonal naive on the same folds:
  origins every 24 h over the last MAX_FOLDS days, each fold forecasting 24 h from the data
  before its origin (smoothing parameters fitted once on the data before the first origin). The
  form with the lowest MAE (on a tie, the seasonal naive) wins if it beats seasonal naive (reason
  ``beat_seasonal_naive``);
  otherwise seasonal naive stays (``did_not_beat_seasonal_naive``).

The winner is refitted on the whole history. Holt-Winters intervals are quantiles of simulated
future paths (the fitted model run forward with its in-sample residuals bootstrapped);
seasonal-naive (daily or weekly) and naive intervals are normal, from their in-sample residuals. Everything is
clipped to the series' bounds (e.g. 0-100 for a percentage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from analytics.forecasting import baseline
from analytics.forecasting.baseline import DAY_HOURS, WEEK_HOURS, Z80, Z95, Array
from analytics.forecasting.errors import ModelFitError
from analytics.forecasting.models import (
    FittedHoltWinters,
    HoltWintersSpec,
    fit_holt_winters,
)

BACKTEST_HORIZON = DAY_HOURS
MAX_FOLDS = 3
MIN_FOLDS = 2
MIN_TRAINING = 2 * DAY_HOURS
MIN_SEASONAL_ACF = 0.3
SIMULATIONS = 500
EXACT_TOLERANCE = 1e-9
QUANTILES = (0.025, 0.10, 0.90, 0.975)

CANDIDATES: tuple[HoltWintersSpec, ...] = (
    HoltWintersSpec("holt_winters_daily", DAY_HOURS),
    HoltWintersSpec("holt_winters_daily_trend", DAY_HOURS, trend=True),
    HoltWintersSpec("holt_winters_weekly", WEEK_HOURS),
)


@dataclass(frozen=True)
class SeasonalNaiveSpec:
    """Seasonal naive with a season other than a day, as a backtested candidate."""

    name: str
    period: int

    def min_points(self) -> int:
        return self.period + 1


NAIVE_CANDIDATES: tuple[SeasonalNaiveSpec, ...] = (
    SeasonalNaiveSpec("seasonal_naive_weekly", WEEK_HOURS),
)
Candidate = HoltWintersSpec | SeasonalNaiveSpec
# On a tie the simpler model wins: the seasonal naive forms come first.
ALL_CANDIDATES: tuple[Candidate, ...] = (*NAIVE_CANDIDATES, *CANDIDATES)

HOLT_WINTERS = "holt_winters"
SEASONAL_NAIVE = "seasonal_naive"
NAIVE = "naive"


@dataclass(frozen=True)
class Bounds:
    """The values a series can take (None: unbounded)."""

    lower: float | None = 0.0
    upper: float | None = None

    def clip(self, values: Array) -> Array:
        low = -np.inf if self.lower is None else self.lower
        high = np.inf if self.upper is None else self.upper
        return np.clip(values, low, high)


@dataclass(frozen=True)
class Backtest:
    """How the candidates did on the same folds: MASE per model (None when the in-sample
    seasonal-naive error is zero), and the chosen one's."""

    folds: int
    horizon_hours: int
    mase: float | None
    seasonal_naive_mase: float | None
    candidates: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Forecast:
    """Point forecast and intervals for the hours after the last point (index 0 = +1 h)."""

    method: str  # holt_winters, seasonal_naive or naive
    model: str  # the form: holt_winters_daily, holt_winters_daily_trend, ..., seasonal_naive
    reason: str
    seasonal_period_hours: int | None
    trend: bool
    history_points: int
    last_value: float
    mean: Array
    lower80: Array
    upper80: Array
    lower95: Array
    upper95: Array
    backtest: Backtest | None = None

    @property
    def horizon(self) -> int:
        return len(self.mean)

    def head(self, hours: int) -> Forecast:
        """The first ``hours`` hours of this forecast."""
        if hours > self.horizon:
            raise ValueError(f"the forecast covers {self.horizon} hours, not {hours}")
        return replace(
            self,
            mean=self.mean[:hours],
            lower80=self.lower80[:hours],
            upper80=self.upper80[:hours],
            lower95=self.lower95[:hours],
            upper95=self.upper95[:hours],
        )


def forecast_series(values: Array, horizon: int, bounds: Bounds | None = None) -> Forecast:
    """Forecast ``horizon`` hours after an hourly series (no gaps; oldest first)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        raise ValueError("an empty series cannot be forecast")
    if horizon < 1:
        raise ValueError("the horizon must be at least one hour")
    if not np.all(np.isfinite(values)):
        raise ValueError("the series has missing or infinite values")
    bounds = bounds or Bounds()
    n = len(values)
    if n < DAY_HOURS:
        return _baseline_forecast(values, horizon, bounds, NAIVE, "history_too_short")
    folds = min(MAX_FOLDS, (n - MIN_TRAINING) // BACKTEST_HORIZON)
    if folds < MIN_FOLDS:
        return _baseline_forecast(values, horizon, bounds, SEASONAL_NAIVE, "history_too_short")
    if float(np.ptp(values)) == 0.0:
        return _baseline_forecast(values, horizon, bounds, SEASONAL_NAIVE, "constant_series")
    if _exactly_periodic(values):
        return _baseline_forecast(values, horizon, bounds, SEASONAL_NAIVE, "exactly_periodic")
    training = values[: n - folds * BACKTEST_HORIZON]
    candidates: list[Candidate] = [
        spec
        for spec in (*ALL_CANDIDATES, *_detected(training))
        if len(training) >= spec.min_points()
        and seasonal_autocorrelation(training, spec.period) >= MIN_SEASONAL_ACF
    ]
    if not candidates:
        return _baseline_forecast(values, horizon, bounds, SEASONAL_NAIVE, "no_seasonal_structure")

    backtest, best = _backtest(values, folds, candidates)
    if best is None:
        return _baseline_forecast(
            values, horizon, bounds, SEASONAL_NAIVE, "did_not_beat_seasonal_naive", backtest
        )
    if isinstance(best, SeasonalNaiveSpec):
        return _baseline_forecast(
            values, horizon, bounds, SEASONAL_NAIVE, "beat_seasonal_naive", backtest, best
        )
    try:
        fitted = fit_holt_winters(values, best)
        return _holt_winters_forecast(values, fitted, horizon, bounds, backtest)
    except ModelFitError:
        return _baseline_forecast(values, horizon, bounds, SEASONAL_NAIVE, "model_failed", backtest)


def _exactly_periodic(values: Array) -> bool:
    """Every day repeats the one before, to rounding: nothing is left for a model to learn
    (simulated series can be; measured ones are not)."""
    residuals = baseline.seasonal_naive_residuals(values)
    tolerance = EXACT_TOLERANCE * max(1.0, float(np.max(np.abs(values))))
    return bool(np.all(np.abs(residuals) <= tolerance))


def dominant_period(values: Array) -> int | None:
    """The lag between a day and a week (exclusive) with the highest autocorrelation, when it
    is at least MIN_SEASONAL_ACF and above the day's and the week's: the cycle of jobs that run
    every 36 h, every 3 days, ... (on a tie, the shorter lag)."""
    lags = range(DAY_HOURS + 1, min(WEEK_HOURS, len(values) - 1))
    if not lags:
        return None
    scores = [seasonal_autocorrelation(values, lag) for lag in lags]
    best = int(np.argmax(scores))
    floor = max(
        MIN_SEASONAL_ACF,
        seasonal_autocorrelation(values, DAY_HOURS),
        seasonal_autocorrelation(values, WEEK_HOURS),
    )
    return lags[best] if scores[best] >= floor else None


def _detected(training: Array) -> tuple[SeasonalNaiveSpec, ...]:
    """Seasonal naive at the series' own cycle, when it has one other than a day or a week."""
    period = dominant_period(training)
    return () if period is None else (SeasonalNaiveSpec(f"seasonal_naive_{period}h", period),)


def seasonal_autocorrelation(values: Array, lag: int) -> float:
    """Sample autocorrelation at ``lag`` (0 when undefined)."""
    if len(values) <= lag + 1:
        return 0.0
    centred = values - float(np.mean(values))
    denominator = float(np.dot(centred, centred))
    if denominator == 0.0:
        return 0.0
    return float(np.dot(centred[lag:], centred[:-lag])) / denominator


def _backtest(
    values: Array, folds: int, candidates: list[Candidate]
) -> tuple[Backtest, Candidate | None]:
    n = len(values)
    origins = [n - (folds - k) * BACKTEST_HORIZON for k in range(folds)]
    training = values[: origins[0]]
    scale = baseline.mase_scale(training)
    actual = np.concatenate([values[o : o + BACKTEST_HORIZON] for o in origins])
    naive_predicted = np.concatenate(
        [baseline.seasonal_naive(values[:o], BACKTEST_HORIZON) for o in origins]
    )
    naive_mae = baseline.mae(actual, naive_predicted)
    errors: dict[str, float] = {}
    for spec in candidates:
        if isinstance(spec, SeasonalNaiveSpec):
            predicted = np.concatenate(
                [
                    baseline.seasonal_naive(values[:o], BACKTEST_HORIZON, spec.period)
                    for o in origins
                ]
            )
            errors[spec.name] = baseline.mae(actual, predicted)
            continue
        try:
            params = fit_holt_winters(training, spec).params
            predicted = np.concatenate(
                [
                    fit_holt_winters(values[:o], spec, params).forecast(BACKTEST_HORIZON)
                    for o in origins
                ]
            )
        except ModelFitError:
            continue
        errors[spec.name] = baseline.mae(actual, predicted)

    def scaled(error: float) -> float | None:
        value = error / scale if scale > 0 else math.nan
        return None if math.isnan(value) else round(value, 4)

    best_name = min(errors, key=errors.__getitem__) if errors else None
    winner = None
    if best_name is not None and errors[best_name] < naive_mae:
        winner = next(spec for spec in candidates if spec.name == best_name)
    chosen_mae = errors[winner.name] if winner is not None else naive_mae
    report = Backtest(
        folds=folds,
        horizon_hours=BACKTEST_HORIZON,
        mase=scaled(chosen_mae),
        seasonal_naive_mase=scaled(naive_mae),
        candidates={name: scaled(error) for name, error in errors.items()},
    )
    return report, winner


def _holt_winters_forecast(
    values: Array, fitted: FittedHoltWinters, horizon: int, bounds: Bounds, backtest: Backtest
) -> Forecast:
    mean = fitted.forecast(horizon)
    paths = fitted.simulate(horizon, SIMULATIONS)
    low95, low80, high80, high95 = (
        np.quantile(paths, q, axis=1).astype(np.float64) for q in QUANTILES
    )
    return _assemble(
        values,
        mean,
        (low80, high80, low95, high95),
        bounds,
        method=HOLT_WINTERS,
        model=fitted.spec.name,
        reason="beat_seasonal_naive",
        period=fitted.spec.period,
        trend=fitted.spec.trend,
        backtest=backtest,
    )


def _baseline_forecast(
    values: Array,
    horizon: int,
    bounds: Bounds,
    method: str,
    reason: str,
    backtest: Backtest | None = None,
    spec: SeasonalNaiveSpec | None = None,
) -> Forecast:
    model = method if spec is None else spec.name
    period: int | None
    if method == NAIVE:
        mean = baseline.naive(values, horizon)
        spread = baseline.naive_spread(values, horizon)
        period = None
    else:
        period = DAY_HOURS if spec is None else spec.period
        mean = baseline.seasonal_naive(values, horizon, period)
        spread = baseline.seasonal_naive_spread(values, horizon, period)
    intervals = (mean - Z80 * spread, mean + Z80 * spread, mean - Z95 * spread, mean + Z95 * spread)
    return _assemble(
        values,
        mean,
        intervals,
        bounds,
        method=method,
        model=model,
        reason=reason,
        period=period,
        trend=False,
        backtest=backtest,
    )


def _assemble(
    values: Array,
    mean: Array,
    intervals: tuple[Array, Array, Array, Array],
    bounds: Bounds,
    *,
    method: str,
    model: str,
    reason: str,
    period: int | None,
    trend: bool,
    backtest: Backtest | None,
) -> Forecast:
    point = bounds.clip(mean)
    low80, high80, low95, high95 = (bounds.clip(v) for v in intervals)
    # Nested and around the point, whatever the simulation drew.
    low80 = np.minimum(low80, point)
    high80 = np.maximum(high80, point)
    low95 = np.minimum(low95, low80)
    high95 = np.maximum(high95, high80)
    return Forecast(
        method=method,
        model=model,
        reason=reason,
        seasonal_period_hours=period,
        trend=trend,
        history_points=len(values),
        last_value=float(values[-1]),
        mean=point,
        lower80=low80,
        upper80=high80,
        lower95=low95,
        upper95=high95,
        backtest=backtest,
    )
