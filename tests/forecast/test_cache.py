"""Fitted forecasts are cached per series and hour of the last point: a warm request (any
``hours``) does not refit; a new hour, or a changed history, does."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from analytics.forecasting import Bounds, Forecast, ForecastCache, forecast_series
from analytics.prom import PromClient
from analytics.prom.queries_forecast import MODEL_ALLOCATED_RULE
from analytics.services.forecast.service import ForecastService
from tests.analytics.prom_fake import FakePrometheus, Reply, Seen, fake_prometheus, vector
from tests.forecast.series import daily

__all__ = ["fake_prometheus"]


def counting(values: np.ndarray) -> tuple[list[int], Any]:
    calls: list[int] = []

    def compute() -> Forecast:
        calls.append(1)
        return forecast_series(values, 24)

    return calls, compute


def test_the_second_call_does_not_refit() -> None:
    cache = ForecastCache()
    values = daily(5)
    calls, compute = counting(values)
    first = cache.get_or_compute("gpu/utilization", 3600, values, compute)
    second = cache.get_or_compute("gpu/utilization", 3600, values, compute)
    assert len(calls) == 1
    assert second is first
    assert (cache.computed, cache.hits) == (1, 1)


def test_a_new_hour_or_a_changed_history_refits() -> None:
    cache = ForecastCache()
    values = daily(5)
    calls, compute = counting(values)
    cache.get_or_compute("s", 3600, values, compute)
    cache.get_or_compute("s", 7200, values, compute)
    changed = values.copy()
    changed[-1] += 1.0
    cache.get_or_compute("s", 7200, changed, compute)
    cache.get_or_compute("other", 7200, changed, compute)
    assert len(calls) == 4


def test_least_recently_used_entries_go_first() -> None:
    cache = ForecastCache(max_entries=2)
    values = np.full(30, 1.0)
    calls, compute = counting(values)
    cache.get_or_compute("a", 0, values, compute)
    cache.get_or_compute("b", 0, values, compute)
    cache.get_or_compute("a", 0, values, compute)  # a is now the most recent
    cache.get_or_compute("c", 0, values, compute)  # evicts b
    assert len(cache) == 2
    cache.get_or_compute("a", 0, values, compute)
    assert len(calls) == 3
    cache.get_or_compute("b", 0, values, compute)
    assert len(calls) == 4


def test_a_cache_of_size_zero_always_computes() -> None:
    cache = ForecastCache(max_entries=0)
    values = np.full(30, 1.0)
    calls, compute = counting(values)
    for _ in range(3):
        cache.get_or_compute("a", 0, values, compute)
    assert len(calls) == 3
    assert len(cache) == 0


# -- through the service, on the Prometheus HTTP API ---------------------------------------


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


MODELS = {"NVIDIA A100-SXM4-80GB": 4.0, "NVIDIA H100 80GB HBM3": 2.0}


def prometheus(request: Seen) -> Reply:
    """Hourly series for every part of the GPU forecast's range query, up to the requested
    end; the capacities for its instant query."""
    if request.path.endswith("/query"):
        samples = []
        for name, gpus in MODELS.items():
            samples.append(({"part": "gpus", "model_name": name}, gpus))
            samples.append(({"part": "memory_total", "model_name": name}, gpus * 80e9))
        return Reply(200, vector(*samples))
    start, end, step = (float(request.params[k]) for k in ("start", "end", "step"))
    times = np.arange(start, end + 1, step)
    hour = (times // 3600) % 24
    result: list[dict[str, Any]] = []

    def add(labels: dict[str, str], values: np.ndarray) -> None:
        # Only the parts the query asks for (the service asks for one part per query).
        if f'"part", "{labels["part"]}"' not in request.params["query"]:
            return
        result.append(
            {
                "metric": labels,
                "values": [[t, repr(float(v))] for t, v in zip(times, values, strict=True)],
            }
        )

    add({"part": "utilization"}, 0.5 + 0.3 * np.cos(2 * math.pi * (hour - 15) / 24))
    for name, gpus in MODELS.items():
        add({"part": "allocated", "model_name": name}, np.full(len(times), gpus - 1))
        add({"part": "memory_used", "model_name": name}, gpus * 30e9 + 1e9 * np.sin(times))
    return Reply(200, {"status": "success", "data": {"resultType": "matrix", "result": result}})


def test_warm_requests_do_not_refit_or_reread_history_and_a_new_hour_does(
    fake_prometheus: FakePrometheus,
) -> None:
    fake_prometheus.answer(prometheus)
    clock = Clock(datetime(2026, 3, 2, 10, 20, tzinfo=UTC))
    prom = PromClient(fake_prometheus.url, timeout_seconds=5)
    service = ForecastService(clock, prom, ForecastCache(), history_hours=10 * 24)

    first = service.gpu_forecast(24)
    fitted = service.cache.computed
    # utilisation, allocated and memory in total, and allocated and memory per model.
    assert fitted == 3 + 2 * len(MODELS)
    assert first.utilization is not None
    assert first.utilization.last_observed_at == datetime(2026, 3, 2, 10, tzinfo=UTC)

    clock.moment += timedelta(minutes=30)
    again = service.gpu_forecast(6)
    assert service.cache.computed == fitted
    assert again.utilization is not None and first.utilization is not None
    assert [p.value for p in again.utilization.points] == [
        p.value for p in first.utilization.points[:6]
    ]

    clock.moment += timedelta(hours=1)
    later = service.gpu_forecast(24)
    assert service.cache.computed == 2 * fitted
    assert later.utilization is not None
    assert later.utilization.last_observed_at == datetime(2026, 3, 2, 11, tzinfo=UTC)
    # The settled history was read once per hour (utilisation, allocated and memory: a range
    # query each); the capacities on every request.
    paths = [seen.path for seen in fake_prometheus.seen]
    assert paths.count("/api/v1/query_range") == 2 * 3
    assert paths.count("/api/v1/query") == 3
    # Per model, the model-hourly rules: no GPU uuids in the query, whatever the fleet size.
    ranged = [s.params["query"] for s in fake_prometheus.seen if s.path == "/api/v1/query_range"]
    assert any(MODEL_ALLOCATED_RULE in query for query in ranged)
    assert not any("uuid" in query for query in ranged)


def test_the_service_answers_capacity_per_model(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(prometheus)
    clock = Clock(datetime(2026, 3, 2, 10, 20, tzinfo=UTC))
    prom = PromClient(fake_prometheus.url, timeout_seconds=5)
    view = ForecastService(clock, prom, ForecastCache(), 10 * 24).gpu_forecast(12)
    by_model = {m.model_id: m for m in view.by_model}
    assert set(by_model) == {"A100_80GB", "H100_80GB"}
    a100 = by_model["A100_80GB"]
    assert a100.gpu_count == 4
    assert a100.memory_total_gb == 320.0
    assert a100.allocated_gpus is not None and a100.allocated_gpus.capacity is not None
    assert a100.allocated_gpus.last_value == 3.0
    assert a100.allocated_gpus.capacity.capacity == 4.0
    assert a100.allocated_gpus.capacity.hours_until is None
    assert view.allocated_gpus is not None and view.allocated_gpus.capacity is not None
    assert view.allocated_gpus.last_value == 4.0
    assert view.allocated_gpus.capacity.capacity == 6.0
    assert view.capacity_warnings == []
    assert len(view.utilization.points if view.utilization else []) == 12


def test_bounds_are_part_of_the_series_definition() -> None:
    # Utilisation is a percentage: no forecast or interval leaves 0-100.
    values = np.clip(daily(8) + 45.0, 0.0, 100.0)
    forecast = forecast_series(values, 48, Bounds(0.0, 100.0))
    assert float(np.max(forecast.upper95)) <= 100.0


def test_an_hour_that_has_not_settled_is_read_again(fake_prometheus: FakePrometheus) -> None:
    # At 10:01 the 10:00 point may still change (scrapes, rule evaluation): the history is
    # not kept, though the fitted forecasts are (the same values give the same fit).
    fake_prometheus.answer(prometheus)
    clock = Clock(datetime(2026, 3, 2, 10, 1, tzinfo=UTC))
    prom = PromClient(fake_prometheus.url, timeout_seconds=5)
    service = ForecastService(clock, prom, ForecastCache(), history_hours=10 * 24)
    service.gpu_forecast(24)
    fitted = service.cache.computed
    service.gpu_forecast(24)
    paths = [seen.path for seen in fake_prometheus.seen]
    assert paths.count("/api/v1/query_range") == 2 * 3
    assert service.cache.computed == fitted
