"""Results of /gpu/forecast and /resources/forecast: forecasts with 80% and 95% intervals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from k8s_gpu_client.models._base import ApiModel


@dataclass(kw_only=True)
class ForecastPoint(ApiModel):
    """One forecast step: the expected value and its 80% and 95% intervals."""

    timestamp: datetime | None = None
    value: float | None = None
    lower80: float | None = None
    upper80: float | None = None
    lower95: float | None = None
    upper95: float | None = None


@dataclass(kw_only=True)
class ForecastBacktest(ApiModel):
    """How the chosen method did on held-out history (MASE)."""

    folds: int | None = None
    horizon_hours: int | None = None
    mase: float | None = None
    seasonal_naive_mase: float | None = None
    candidates: dict[str, float] = field(default_factory=dict)


@dataclass(kw_only=True)
class ForecastCapacity(ApiModel):
    """When the forecast reaches capacity (hours ahead), if it does."""

    capacity: float | None = None
    at_capacity_now: bool | None = None
    hours_until: int | None = None
    reached_at: datetime | None = None
    hours_until_upper95: int | None = None
    reached_at_upper95: datetime | None = None


@dataclass(kw_only=True)
class SeriesForecast(ApiModel):
    """The forecast of one series, with the method chosen and its backtest."""

    metric: str | None = None
    unit: str | None = None
    method: str | None = None
    model: str | None = None
    reason: str | None = None
    seasonal_period_hours: int | None = None
    trend: bool | None = None
    history_points: int | None = None
    history_start: datetime | None = None
    last_observed_at: datetime | None = None
    last_value: float | None = None
    backtest: ForecastBacktest | None = None
    capacity: ForecastCapacity | None = None
    points: list[ForecastPoint] = field(default_factory=list)


@dataclass(kw_only=True)
class ModelForecast(ApiModel):
    """Forecasts of one GPU model's allocated GPUs and memory used (GB)."""

    model_id: str | None = None
    model_name: str | None = None
    gpu_count: int | None = None
    memory_total_gb: float | None = None
    allocated_gpus: SeriesForecast | None = None
    memory_used_gb: SeriesForecast | None = None


@dataclass(kw_only=True)
class CapacityWarning(ApiModel):
    """A resource forecast to reach its capacity within the horizon."""

    model_id: str | None = None
    resource: str | None = None
    unit: str | None = None
    capacity: float | None = None
    at_capacity_now: bool | None = None
    hours_until: int | None = None
    reached_at: datetime | None = None
    hours_until_upper95: int | None = None
    reached_at_upper95: datetime | None = None


@dataclass(kw_only=True)
class GpuForecast(ApiModel):
    """GET /gpu/forecast: GPU utilisation, allocated GPUs and memory, per model too."""

    hours: int | None = None
    generated_at: datetime | None = None
    step_seconds: int | None = None
    history_hours: int | None = None
    utilization: SeriesForecast | None = None
    allocated_gpus: SeriesForecast | None = None
    memory_used_gb: SeriesForecast | None = None
    by_model: list[ModelForecast] = field(default_factory=list)
    capacity_warnings: list[CapacityWarning] = field(default_factory=list)


@dataclass(kw_only=True)
class ResourceForecast(ApiModel):
    """GET /resources/forecast: cluster CPU, memory and GPU usage."""

    hours: int | None = None
    generated_at: datetime | None = None
    step_seconds: int | None = None
    history_hours: int | None = None
    cpu: SeriesForecast | None = None
    memory: SeriesForecast | None = None
    gpu: SeriesForecast | None = None
