"""Capacity answers: the hour a forecast first reaches what the cluster has."""

from __future__ import annotations

import numpy as np

from analytics.forecasting import (
    HOLT_WINTERS,
    Forecast,
    capacity_crossing,
    first_reaching,
    forecast_series,
)
from tests.forecast.series import trend_truth, trending


def linear_forecast(last: float, slope: float, hours: int, spread: float) -> Forecast:
    mean = last + slope * np.arange(1, hours + 1)
    return Forecast(
        method="test",
        model="test",
        reason="test",
        seasonal_period_hours=None,
        trend=True,
        history_points=100,
        last_value=last,
        mean=mean,
        lower80=mean - spread / 2,
        upper80=mean + spread / 2,
        lower95=mean - spread,
        upper95=mean + spread,
    )


def test_first_reaching_is_the_first_value_at_or_above() -> None:
    assert first_reaching(np.array([1.0, 2.0, 3.0, 2.0]), 3.0) == 2
    assert first_reaching(np.array([1.0, 2.0]), 2.5) is None
    assert first_reaching(np.array([]), 0.0) is None


def test_a_rising_forecast_reaches_capacity_at_the_right_hour() -> None:
    # 10 GPUs allocated now, one more every 4 hours, 16 in the cluster: the point forecast
    # reaches 16 at +24 h; its upper 95% bound (+2) reaches it at +16 h.
    crossing = capacity_crossing(linear_forecast(10.0, 0.25, 48, 2.0), 16.0)
    assert crossing.capacity == 16.0
    assert not crossing.at_capacity_now
    assert crossing.hours_until == 24
    assert crossing.hours_until_upper95 == 16


def test_no_crossing_within_the_forecast() -> None:
    crossing = capacity_crossing(linear_forecast(10.0, 0.01, 24, 0.1), 16.0)
    assert crossing.hours_until is None
    assert crossing.hours_until_upper95 is None


def test_a_full_cluster_is_at_capacity_now() -> None:
    crossing = capacity_crossing(linear_forecast(16.0, 0.0, 6, 0.0), 16.0)
    assert crossing.at_capacity_now
    assert crossing.hours_until == 1


def test_a_fitted_trend_crosses_capacity_when_the_truth_does() -> None:
    days = 10
    history = trending(days)
    capacity = 50.0
    future_t = np.arange(days * 24, days * 24 + 168, dtype=float)
    expected = int(np.flatnonzero(trend_truth(future_t) >= capacity)[0]) + 1
    forecast = forecast_series(history, 168)
    assert forecast.method == HOLT_WINTERS
    assert forecast.trend
    crossing = capacity_crossing(forecast, capacity)
    assert crossing.hours_until is not None
    assert abs(crossing.hours_until - expected) <= 2
    assert crossing.hours_until_upper95 is not None
    assert crossing.hours_until_upper95 <= crossing.hours_until
