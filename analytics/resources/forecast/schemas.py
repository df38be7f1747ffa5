"""Schemas of the forecast endpoints (/gpu/forecast, /resources/forecast)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from analytics.api.fields import UtcDateTime, doc
from analytics.services.forecast.service import DEFAULT_FORECAST_HOURS, MAX_FORECAST_HOURS


class ForecastQuerySchema(Schema):
    hours = fields.Integer(
        load_default=DEFAULT_FORECAST_HOURS,
        validate=validate.Range(1, MAX_FORECAST_HOURS),
        metadata=doc(
            f"Hours to forecast after the last observed hour (1-{MAX_FORECAST_HOURS}, "
            f"default {DEFAULT_FORECAST_HOURS})."
        ),
    )


class ForecastPointSchema(Schema):
    timestamp = UtcDateTime(
        metadata=doc("End of the forecast hour, UTC (the point stands for the hour before it).")
    )
    value = fields.Float(metadata=doc("Point forecast, in the series' unit."))
    lower80 = fields.Float(metadata=doc("Lower bound of the 80% prediction interval."))
    upper80 = fields.Float(metadata=doc("Upper bound of the 80% prediction interval."))
    lower95 = fields.Float(metadata=doc("Lower bound of the 95% prediction interval."))
    upper95 = fields.Float(metadata=doc("Upper bound of the 95% prediction interval."))


class ForecastBacktestSchema(Schema):
    folds = fields.Integer(metadata=doc("Rolling origins, one a day over the last days."))
    horizon_hours = fields.Integer(
        data_key="horizonHours", metadata=doc("Hours each fold forecasts, hours.")
    )
    mase = fields.Float(
        allow_none=True,
        metadata=doc(
            "MASE of the chosen method over the folds: its mean absolute error over the "
            "in-sample error of the 24 h seasonal-naive forecast (below 1: better than the same "
            "hour yesterday did in sample). Null when that in-sample error is zero."
        ),
    )
    seasonal_naive_mase = fields.Float(
        data_key="seasonalNaiveMase",
        allow_none=True,
        metadata=doc("MASE of the 24 h seasonal-naive forecast over the same folds."),
    )
    candidates = fields.Dict(
        keys=fields.String(),
        values=fields.Float(allow_none=True),
        metadata=doc("MASE of each Holt-Winters form tried, by name."),
    )


class ForecastCapacitySchema(Schema):
    capacity = fields.Float(
        metadata=doc("What the cluster has, in the series' unit (GPUs, GB, cores).")
    )
    at_capacity_now = fields.Boolean(
        data_key="atCapacityNow", metadata=doc("The last observed value is at or above it.")
    )
    hours_until = fields.Integer(
        data_key="hoursUntil",
        allow_none=True,
        metadata=doc(
            "Hours after the last observed hour until the point forecast reaches capacity; "
            "null when it does not within the forecast."
        ),
    )
    reached_at = UtcDateTime(
        data_key="reachedAt",
        allow_none=True,
        metadata=doc("When the point forecast reaches capacity, UTC; null if not forecast."),
    )
    hours_until_upper95 = fields.Integer(
        data_key="hoursUntilUpper95",
        allow_none=True,
        metadata=doc("Hours until the upper 95% bound reaches capacity (the earliest likely)."),
    )
    reached_at_upper95 = UtcDateTime(
        data_key="reachedAtUpper95",
        allow_none=True,
        metadata=doc("When the upper 95% bound reaches capacity, UTC; null if not forecast."),
    )


class SeriesForecastSchema(Schema):
    metric = fields.String(metadata=doc("What is forecast, e.g. gpuUtilizationPercent."))
    unit = fields.String(metadata=doc("Unit of every value: percent, GPUs, GB or cores."))
    method = fields.String(
        metadata=doc(
            "holt_winters (exponential smoothing that beat seasonal naive in the backtest), "
            "seasonal_naive (the same hour of the last day; with model "
            "seasonal_naive_weekly of the same weekday last week, with seasonal_naive_<N>h "
            "N hours before, the series' own cycle) or naive (the last value).",
            enum=["holt_winters", "seasonal_naive", "naive"],
        )
    )
    model = fields.String(
        metadata=doc(
            "The form used: holt_winters_daily, holt_winters_daily_trend, "
            "holt_winters_weekly, seasonal_naive_weekly, seasonal_naive_<N>h (e.g. 72h), "
            "seasonal_naive or naive."
        )
    )
    reason = fields.String(
        metadata=doc(
            "Why this method: beat_seasonal_naive, did_not_beat_seasonal_naive, "
            "history_too_short (under 4 days; under 1 day: naive), constant_series, "
            "exactly_periodic, no_seasonal_structure, model_failed."
        )
    )
    seasonal_period_hours = fields.Integer(
        data_key="seasonalPeriodHours",
        allow_none=True,
        metadata=doc("Season length, hours (24 daily, 168 weekly); null for naive."),
    )
    trend = fields.Boolean(metadata=doc("The model has an additive trend."))
    history_points = fields.Integer(
        data_key="historyPoints", metadata=doc("Hourly points the forecast learned from.")
    )
    history_start = UtcDateTime(
        data_key="historyStart", metadata=doc("First hour of the history, UTC.")
    )
    last_observed_at = UtcDateTime(
        data_key="lastObservedAt", metadata=doc("Last observed hour (its end), UTC.")
    )
    last_value = fields.Float(data_key="lastValue", metadata=doc("Last observed value."))
    backtest = fields.Nested(
        ForecastBacktestSchema,
        allow_none=True,
        metadata=doc("How the methods did in the rolling-origin backtest; null when none ran."),
    )
    capacity = fields.Nested(
        ForecastCapacitySchema,
        allow_none=True,
        metadata=doc("When the series reaches what the cluster has; null without a capacity."),
    )
    points = fields.List(
        fields.Nested(ForecastPointSchema), metadata=doc("One point per forecast hour.")
    )


class ModelForecastSchema(Schema):
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id, e.g. A100_80GB."))
    model_name = fields.String(data_key="modelName", metadata=doc("NVML product name."))
    gpu_count = fields.Integer(data_key="gpuCount", metadata=doc("GPUs of this model reported."))
    memory_total_gb = fields.Float(
        data_key="memoryTotalGb", allow_none=True, metadata=doc("Their memory in total, GB.")
    )
    allocated_gpus = fields.Nested(
        SeriesForecastSchema,
        data_key="allocatedGpus",
        allow_none=True,
        metadata=doc("GPUs held by a container (whole, time-sliced or any MIG instance), GPUs."),
    )
    memory_used_gb = fields.Nested(
        SeriesForecastSchema,
        data_key="memoryUsedGb",
        allow_none=True,
        metadata=doc("GPU memory in use, hourly mean, GB."),
    )


class CapacityWarningSchema(Schema):
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id."))
    resource = fields.String(
        metadata=doc(
            "gpus (allocated GPUs) or memory (GPU memory in use).", enum=["gpus", "memory"]
        )
    )
    unit = fields.String(metadata=doc("GPUs or GB."))
    capacity = fields.Float(metadata=doc("What the model's GPUs have, in the unit."))
    at_capacity_now = fields.Boolean(
        data_key="atCapacityNow", metadata=doc("Already at capacity in the last observed hour.")
    )
    hours_until = fields.Integer(
        data_key="hoursUntil",
        allow_none=True,
        metadata=doc("Hours until the point forecast reaches capacity; null if not forecast."),
    )
    reached_at = UtcDateTime(
        data_key="reachedAt", allow_none=True, metadata=doc("When it does, UTC.")
    )
    hours_until_upper95 = fields.Integer(
        data_key="hoursUntilUpper95",
        allow_none=True,
        metadata=doc("Hours until the upper 95% bound reaches capacity."),
    )
    reached_at_upper95 = UtcDateTime(
        data_key="reachedAtUpper95", allow_none=True, metadata=doc("When it does, UTC.")
    )


class GpuForecastSchema(Schema):
    hours = fields.Integer(metadata=doc("Hours forecast."))
    generated_at = UtcDateTime(data_key="generatedAt", metadata=doc("When it was answered, UTC."))
    step_seconds = fields.Integer(
        data_key="stepSeconds", metadata=doc("Spacing of history and forecast points, seconds.")
    )
    history_hours = fields.Integer(
        data_key="historyHours", metadata=doc("Hours of history asked of Prometheus.")
    )
    utilization = fields.Nested(
        SeriesForecastSchema,
        allow_none=True,
        metadata=doc("Mean utilisation over the GPUs that report one, percent."),
    )
    allocated_gpus = fields.Nested(
        SeriesForecastSchema,
        data_key="allocatedGpus",
        allow_none=True,
        metadata=doc("GPUs held by containers, all models, GPUs; capacity: GPUs reported."),
    )
    memory_used_gb = fields.Nested(
        SeriesForecastSchema,
        data_key="memoryUsedGb",
        allow_none=True,
        metadata=doc("GPU memory in use, all models, GB; capacity: their memory in total."),
    )
    by_model = fields.List(
        fields.Nested(ModelForecastSchema),
        data_key="byModel",
        metadata=doc("Allocated GPUs and memory in use per GPU model, with capacities."),
    )
    capacity_warnings = fields.List(
        fields.Nested(CapacityWarningSchema),
        data_key="capacityWarnings",
        metadata=doc(
            "Models whose GPUs or memory are at capacity now or may reach it within the "
            "forecast (upper 95% bound), soonest first."
        ),
    )


class ResourceForecastSchema(Schema):
    hours = fields.Integer(metadata=doc("Hours forecast."))
    generated_at = UtcDateTime(data_key="generatedAt", metadata=doc("When it was answered, UTC."))
    step_seconds = fields.Integer(
        data_key="stepSeconds", metadata=doc("Spacing of history and forecast points, seconds.")
    )
    history_hours = fields.Integer(
        data_key="historyHours", metadata=doc("Hours of history asked of Prometheus.")
    )
    cpu = fields.Nested(
        SeriesForecastSchema,
        allow_none=True,
        metadata=doc("CPU used by containers, hourly mean, cores; capacity: allocatable cores."),
    )
    memory = fields.Nested(
        SeriesForecastSchema,
        allow_none=True,
        metadata=doc("Containers' working-set memory, hourly mean, GB; capacity: allocatable."),
    )
    gpu = fields.Nested(
        SeriesForecastSchema,
        allow_none=True,
        metadata=doc("Mean utilisation over the GPUs that report one, percent."),
    )
