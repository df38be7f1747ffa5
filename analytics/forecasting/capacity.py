"""Capacity answers: when a forecast first reaches what the cluster has."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.forecasting.baseline import Array
from analytics.forecasting.forecaster import Forecast


@dataclass(frozen=True)
class CapacityCrossing:
    """Hours after the last observed point (1 = the next hour) at which the point forecast,
    and the upper 95% bound, first reach ``capacity``; None when not within the forecast."""

    capacity: float
    at_capacity_now: bool
    hours_until: int | None
    hours_until_upper95: int | None


def first_reaching(values: Array, threshold: float) -> int | None:
    """Index of the first value at or above ``threshold``; None if there is none."""
    hits = np.flatnonzero(np.asarray(values) >= threshold)
    return int(hits[0]) if len(hits) else None


def capacity_crossing(forecast: Forecast, capacity: float) -> CapacityCrossing:
    """When the forecast reaches ``capacity`` (e.g. GPUs of a model, their memory in GB)."""
    point = first_reaching(forecast.mean, capacity)
    upper = first_reaching(forecast.upper95, capacity)
    return CapacityCrossing(
        capacity=capacity,
        at_capacity_now=forecast.last_value >= capacity,
        hours_until=None if point is None else point + 1,
        hours_until_upper95=None if upper is None else upper + 1,
    )
