"""Forecast endpoints: /gpu/forecast (GPU demand) and /resources/forecast (cluster resources)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import services
from analytics.api.envelope import ApiBlueprint
from analytics.api.expensive import expensive
from analytics.resources.forecast.schemas import (
    ForecastQuerySchema,
    GpuForecastSchema,
    ResourceForecastSchema,
)

blp = ApiBlueprint(
    "forecast",
    __name__,
    url_prefix="/k8s-monitor/api/v1",
    description="Forecasts from Prometheus' hourly history: exponential smoothing (Holt-Winters, "
    "daily or weekly season) chosen per series by a rolling-origin backtest against the 24 h "
    "seasonal-naive forecast, which it falls back to when it does not beat it or the history "
    "is short; 80% and 95% prediction intervals; when capacity is reached. "
    "503 METRICS_UNAVAILABLE when Prometheus cannot answer.",
)


@blp.route("/gpu/forecast")
class GpuForecast(MethodView):
    @blp.doc(operationId="getGpuForecast")
    @blp.arguments(ForecastQuerySchema, location="query")
    @blp.envelope_response(200, GpuForecastSchema)
    @expensive
    def get(self, query: dict[str, Any]) -> Any:
        """GPU demand forecast: utilisation, allocated GPUs and GPU memory, per model, with
        intervals and when each model's GPUs or memory run out"""
        return services().forecast.gpu_forecast(query["hours"])


@blp.route("/resources/forecast")
class ResourceForecast(MethodView):
    @blp.doc(operationId="getResourceForecast")
    @blp.arguments(ForecastQuerySchema, location="query")
    @blp.envelope_response(200, ResourceForecastSchema)
    @expensive
    def get(self, query: dict[str, Any]) -> Any:
        """Cluster CPU, memory and GPU usage forecast, with intervals and when CPU or memory
        use reaches the nodes' allocatable"""
        return services().forecast.resource_forecast(query["hours"])
