"""Forecasts of GPU demand (/gpu/forecast) and cluster resources (/resources/forecast).

Inputs are hourly, cluster-level series from one Prometheus range query per endpoint (1 h
step over the last ``history_hours``, analytics.prom.queries_forecast). Each series is
forecast by analytics.forecasting (Holt-Winters chosen by backtest against seasonal naive,
80% and 95% intervals) for MAX_FORECAST_HOURS and cached per series and hour of its last
point, so every request within the hour (any ``hours``) reuses the fit. Capacity answers say
when allocated GPUs or GPU memory of each model, and the cluster's CPU and memory, reach what
the cluster has.

Point timestamps are the end of the hour they forecast, as for the hourly recording rules: the
point at 13:00 is the mean over 12:00-13:00.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from analytics.clock import Clock
from analytics.errors import InvalidParameter
from analytics.forecasting import (
    Bounds,
    Forecast,
    ForecastCache,
    capacity_crossing,
    forecast_series,
)
from analytics.forecasting.baseline import Array
from analytics.prom import PromClient, Sample, Series
from analytics.prom import queries_forecast as q
from gpucatalog import model_for_product_name

__all__ = ["ForecastCache", "ForecastService"]

MAX_FORECAST_HOURS = 168
DEFAULT_FORECAST_HOURS = 24
GB = 1e9  # memory in GB as the GPU endpoints report it (decimal)
PERCENT = Bounds(0.0, 100.0)
NON_NEGATIVE = Bounds(0.0, None)
# Seconds after a whole hour before its history is taken as final (scrapes, rule evaluation).
SETTLE_SECONDS = 120


# -- views -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastPoint:
    timestamp: datetime
    value: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float


@dataclass(frozen=True)
class BacktestView:
    folds: int
    horizon_hours: int
    mase: float | None
    seasonal_naive_mase: float | None
    candidates: dict[str, float | None]


@dataclass(frozen=True)
class CapacityView:
    capacity: float
    at_capacity_now: bool
    hours_until: int | None
    reached_at: datetime | None
    hours_until_upper95: int | None
    reached_at_upper95: datetime | None


@dataclass(frozen=True)
class SeriesForecastView:
    metric: str
    unit: str
    method: str
    model: str
    reason: str
    seasonal_period_hours: int | None
    trend: bool
    history_points: int
    history_start: datetime
    last_observed_at: datetime
    last_value: float
    backtest: BacktestView | None
    capacity: CapacityView | None
    points: list[ForecastPoint]


@dataclass(frozen=True)
class ModelForecastView:
    model_id: str
    model_name: str
    gpu_count: int
    memory_total_gb: float | None
    allocated_gpus: SeriesForecastView | None
    memory_used_gb: SeriesForecastView | None


@dataclass(frozen=True)
class CapacityWarningView:
    model_id: str
    resource: str  # gpus or memory
    unit: str
    capacity: float
    at_capacity_now: bool
    hours_until: int | None
    reached_at: datetime | None
    hours_until_upper95: int | None
    reached_at_upper95: datetime | None


@dataclass(frozen=True)
class GpuForecastView:
    hours: int
    generated_at: datetime
    step_seconds: int
    history_hours: int
    utilization: SeriesForecastView | None
    allocated_gpus: SeriesForecastView | None
    memory_used_gb: SeriesForecastView | None
    by_model: list[ModelForecastView]
    capacity_warnings: list[CapacityWarningView]


@dataclass(frozen=True)
class ResourceForecastView:
    hours: int
    generated_at: datetime
    step_seconds: int
    history_hours: int
    cpu: SeriesForecastView | None
    memory: SeriesForecastView | None
    gpu: SeriesForecastView | None


# -- hourly series -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HourlySeries:
    """Values on the hourly grid from ``start`` (unix s), no gaps; ``end`` is the last point."""

    start: float
    values: Array

    @property
    def end(self) -> float:
        return self.start + (len(self.values) - 1) * q.STEP_SECONDS


def on_grid(points: Sequence[tuple[float, float]], start: float, end: float) -> Array:
    """Values at each hour from ``start`` to ``end``; NaN where Prometheus had none."""
    count = round((end - start) / q.STEP_SECONDS) + 1
    grid = np.full(count, np.nan)
    for t, v in points:
        index = round((t - start) / q.STEP_SECONDS)
        if 0 <= index < count and math.isfinite(v):
            grid[index] = v
    return grid


def hourly(grid: Array, start: float) -> HourlySeries | None:
    """The known stretch of a grid: leading and trailing gaps dropped, inner gaps interpolated
    linearly (a missed rule evaluation, a Prometheus restart); None when nothing is known."""
    known = np.flatnonzero(np.isfinite(grid))
    if not len(known):
        return None
    first, last = int(known[0]), int(known[-1])
    values = grid[first : last + 1].astype(np.float64)
    gaps = ~np.isfinite(values)
    if gaps.any():
        positions = np.arange(len(values))
        values[gaps] = np.interp(positions[gaps], positions[~gaps], values[~gaps])
    return HourlySeries(start + first * q.STEP_SECONDS, values)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _round(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


# -- the service -------------------------------------------------------------------------------


class ForecastService:
    def __init__(
        self,
        clock: Clock,
        prom: PromClient,
        cache: ForecastCache,
        history_hours: int = 720,
    ) -> None:
        if history_hours < 1:
            raise ValueError("history_hours must be at least 1")
        self._clock = clock
        self._prom = prom
        self.cache = cache
        self.history_hours = history_hours
        # Per kind (gpu, resources): the range answer for the window ending at a whole hour.
        self._histories: dict[str, tuple[tuple[float, str], dict[str, list[Series]]]] = {}

    # -- endpoints ---------------------------------------------------------------------------

    def gpu_forecast(self, hours: int = DEFAULT_FORECAST_HOURS) -> GpuForecastView:
        """Cluster GPU utilisation, allocated GPUs and GPU memory in use, in total and per
        model, with when each model's GPUs or memory run out."""
        _check_hours(hours)
        now = self._clock.now()
        start, end = q.hourly_window(now.timestamp(), self.history_hours)
        prom = self._prom
        inventory = _by_part(prom.query(q.gpu_inventory(), now.timestamp()))
        parts = self._history("gpu", "", q.gpu_parts, start, end, now)

        def per_model(part: str) -> dict[str, Array]:
            return {
                s.labels.get("model_name", ""): on_grid(s.points, start, end)
                for s in parts.get(part, [])
            }

        allocated = per_model("allocated")
        memory_used = per_model("memory_used")
        gpus = {s.labels.get("model_name", ""): s.value for s in inventory.get("gpus", [])}
        memory_total = {
            s.labels.get("model_name", ""): s.value for s in inventory.get("memory_total", [])
        }
        # Hours in which the exporters reported pod attribution at all: there, a model without
        # a holder has 0 GPUs allocated (elsewhere the count is unknown, e.g. a scrape gap).
        points = len(on_grid([], start, end))
        attributed = np.zeros(points, bool)
        for grid in allocated.values():
            attributed |= np.isfinite(grid)

        models: list[ModelForecastView] = []
        warnings: list[CapacityWarningView] = []
        allocated_total = np.full(points, np.nan)
        used_total = allocated_total.copy()
        for name in sorted(gpus):
            model_id = _model_id(name)
            used_grid = memory_used.get(name)
            counts = allocated.get(name, np.full(points, np.nan))
            held = np.where(np.isfinite(counts), counts, np.where(attributed, 0.0, np.nan))
            gpu_count = gpus[name]
            total_bytes = memory_total.get(name)
            allocated_view = self._series(
                f"gpu/allocated/{model_id}",
                "allocatedGpus",
                "GPUs",
                held,
                start,
                hours,
                NON_NEGATIVE,
                capacity=gpu_count,
            )
            memory_view = (
                self._series(
                    f"gpu/memory_used/{model_id}",
                    "memoryUsedGb",
                    "GB",
                    used_grid / GB,
                    start,
                    hours,
                    NON_NEGATIVE,
                    capacity=None if total_bytes is None else _round(total_bytes / GB),
                )
                if used_grid is not None
                else None
            )
            allocated_total = add_known(allocated_total, held)
            if used_grid is not None:
                used_total = add_known(used_total, used_grid / GB)
            models.append(
                ModelForecastView(
                    model_id=model_id,
                    model_name=name,
                    gpu_count=int(gpu_count or 0),
                    memory_total_gb=None if total_bytes is None else _round(total_bytes / GB),
                    allocated_gpus=allocated_view,
                    memory_used_gb=memory_view,
                )
            )
            for resource, view in (("gpus", allocated_view), ("memory", memory_view)):
                warning = _warning(model_id, resource, view)
                if warning is not None:
                    warnings.append(warning)

        capacity_gpus = sum(m.gpu_count for m in models)
        capacity_memory = sum(m.memory_total_gb or 0.0 for m in models)
        utilization = next(iter(parts.get("utilization", [])), None)
        return GpuForecastView(
            hours=hours,
            generated_at=now,
            step_seconds=q.STEP_SECONDS,
            history_hours=self.history_hours,
            utilization=self._series(
                "gpu/utilization",
                "gpuUtilizationPercent",
                "percent",
                on_grid(utilization.points, start, end) * 100.0
                if utilization is not None
                else None,
                start,
                hours,
                PERCENT,
            ),
            allocated_gpus=self._series(
                "gpu/allocated",
                "allocatedGpus",
                "GPUs",
                allocated_total,
                start,
                hours,
                NON_NEGATIVE,
                capacity=float(capacity_gpus) if models else None,
            ),
            memory_used_gb=self._series(
                "gpu/memory_used",
                "memoryUsedGb",
                "GB",
                used_total,
                start,
                hours,
                NON_NEGATIVE,
                capacity=_round(capacity_memory) if capacity_memory else None,
            ),
            by_model=models,
            capacity_warnings=sorted(
                warnings,
                key=lambda w: (not w.at_capacity_now, w.hours_until_upper95 or math.inf),
            ),
        )

    def resource_forecast(self, hours: int = DEFAULT_FORECAST_HOURS) -> ResourceForecastView:
        """Cluster CPU (cores), memory (GB) and GPU utilisation (percent), with when CPU and
        memory use reach the nodes' allocatable."""
        _check_hours(hours)
        now = self._clock.now()
        start, end = q.hourly_window(now.timestamp(), self.history_hours)
        prom = self._prom
        capacity = _by_part(prom.query(q.resource_capacity(), now.timestamp()))
        parts = self._history("resources", "", q.resource_parts, start, end, now)

        def grid(part: str) -> Array | None:
            found = next(iter(parts.get(part, [])), None)
            return None if found is None else on_grid(found.points, start, end)

        def current(part: str) -> float | None:
            found = next(iter(capacity.get(part, [])), None)
            return None if found is None or not math.isfinite(found.value) else found.value

        cpu_allocatable = current("cpu_allocatable")
        memory_allocatable = current("memory_allocatable")
        memory = grid("memory_bytes")
        utilization = grid("gpu_utilization")
        return ResourceForecastView(
            hours=hours,
            generated_at=now,
            step_seconds=q.STEP_SECONDS,
            history_hours=self.history_hours,
            cpu=self._series(
                "resources/cpu",
                "cpuUsageCores",
                "cores",
                grid("cpu_cores"),
                start,
                hours,
                NON_NEGATIVE,
                capacity=None if cpu_allocatable is None else _round(cpu_allocatable),
            ),
            memory=self._series(
                "resources/memory",
                "memoryUsageGb",
                "GB",
                None if memory is None else memory / GB,
                start,
                hours,
                NON_NEGATIVE,
                capacity=None if memory_allocatable is None else _round(memory_allocatable / GB),
            ),
            gpu=self._series(
                "resources/gpu",
                "gpuUtilizationPercent",
                "percent",
                None if utilization is None else utilization * 100.0,
                start,
                hours,
                PERCENT,
            ),
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _history(
        self,
        kind: str,
        version: str,
        promql: Callable[[], Mapping[str, str]],
        start: float,
        end: float,
        now: datetime,
    ) -> dict[str, list[Series]]:
        """The hourly history by part, one range query per part, side by side (Prometheus
        evaluates each query on one core: a month of raw container CPU and memory, run one
        after the other, took twice as long). The history up to a whole hour
        no longer changes once that hour has settled, so it is kept (per kind and query
        ``version``) for the rest of the hour: a warm request asks Prometheus only for what
        is current (inventory, capacities), and still answers 503 when Prometheus is down."""
        cached = self._histories.get(kind)
        if cached is not None and cached[0] == (end, version):
            return cached[1]
        requests = [
            (q.part_query(name, expr), start, end, q.STEP_SECONDS)
            for name, expr in promql().items()
        ]
        parts: dict[str, list[Series]] = defaultdict(list)
        for answer in self._prom.query_ranges(requests, max_parallel=len(requests)):
            for series in answer:
                parts[series.labels.get(q.TAG, "")].append(series)
        if now.timestamp() - end >= SETTLE_SECONDS:
            self._histories[kind] = ((end, version), dict(parts))
        return parts

    def _series(
        self,
        key: str,
        metric: str,
        unit: str,
        grid: Array | None,
        start: float,
        hours: int,
        bounds: Bounds,
        capacity: float | None = None,
    ) -> SeriesForecastView | None:
        if grid is None:
            return None
        series = hourly(grid, start)
        if series is None:
            return None
        full = self.cache.get_or_compute(
            key,
            int(series.end),
            series.values,
            lambda: forecast_series(series.values, MAX_FORECAST_HOURS, bounds),
        )
        return _view(metric, unit, series, full.head(hours), capacity)


def _by_part(samples: Sequence[Sample]) -> dict[str, list[Sample]]:
    found: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        found[sample.labels.get(q.TAG, "")].append(sample)
    return found


def _check_hours(hours: int) -> None:
    if not 1 <= hours <= MAX_FORECAST_HOURS:
        raise InvalidParameter(
            f"hours must be between 1 and {MAX_FORECAST_HOURS}.", {"hours": hours}
        )


def _model_id(model_name: str) -> str:
    model = model_for_product_name(model_name)
    return model.model_id if model is not None else model_name


def add_known(total: Array, part: Array) -> Array:
    """Sum where either is known (an unknown side counts as 0 when the other is known)."""
    both_unknown = ~np.isfinite(total) & ~np.isfinite(part)
    summed = np.nan_to_num(total) + np.nan_to_num(part)
    return np.where(both_unknown, np.nan, summed)


def _view(
    metric: str,
    unit: str,
    series: HourlySeries,
    forecast: Forecast,
    capacity: float | None,
) -> SeriesForecastView:
    step = q.STEP_SECONDS
    points = [
        ForecastPoint(
            timestamp=_utc(series.end + (i + 1) * step),
            value=_round(forecast.mean[i]),
            lower80=_round(forecast.lower80[i]),
            upper80=_round(forecast.upper80[i]),
            lower95=_round(forecast.lower95[i]),
            upper95=_round(forecast.upper95[i]),
        )
        for i in range(forecast.horizon)
    ]
    backtest = forecast.backtest
    capacity_view = None
    if capacity is not None:
        crossing = capacity_crossing(forecast, capacity)
        capacity_view = CapacityView(
            capacity=capacity,
            at_capacity_now=crossing.at_capacity_now,
            hours_until=crossing.hours_until,
            reached_at=None
            if crossing.hours_until is None
            else _utc(series.end + crossing.hours_until * step),
            hours_until_upper95=crossing.hours_until_upper95,
            reached_at_upper95=None
            if crossing.hours_until_upper95 is None
            else _utc(series.end + crossing.hours_until_upper95 * step),
        )
    return SeriesForecastView(
        metric=metric,
        unit=unit,
        method=forecast.method,
        model=forecast.model,
        reason=forecast.reason,
        seasonal_period_hours=forecast.seasonal_period_hours,
        trend=forecast.trend,
        history_points=forecast.history_points,
        history_start=_utc(series.start),
        last_observed_at=_utc(series.end),
        last_value=_round(forecast.last_value),
        backtest=None
        if backtest is None
        else BacktestView(
            folds=backtest.folds,
            horizon_hours=backtest.horizon_hours,
            mase=backtest.mase,
            seasonal_naive_mase=backtest.seasonal_naive_mase,
            candidates=dict(backtest.candidates),
        ),
        capacity=capacity_view,
        points=points,
    )


def _warning(
    model_id: str, resource: str, view: SeriesForecastView | None
) -> CapacityWarningView | None:
    """A warning when the model's GPUs or memory are full now or may fill within the forecast
    (its upper 95% bound reaches capacity)."""
    if view is None or view.capacity is None:
        return None
    found = view.capacity
    if not found.at_capacity_now and found.hours_until_upper95 is None:
        return None
    return CapacityWarningView(
        model_id=model_id,
        resource=resource,
        unit=view.unit,
        capacity=found.capacity,
        at_capacity_now=found.at_capacity_now,
        hours_until=found.hours_until,
        reached_at=found.reached_at,
        hours_until_upper95=found.hours_until_upper95,
        reached_at_upper95=found.reached_at_upper95,
    )
