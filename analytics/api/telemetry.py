"""The service's own Prometheus metrics, on a registry made per app (multiprocess-aware)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from analytics.services.cost.budgets import BudgetService
from analytics.services.state_metrics import StateMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GaugeSource:
    """One gauge family read at scrape time: ``read`` returns ``(label values, value)`` pairs in
    the order of ``labels``."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    read: Callable[[], Iterable[tuple[tuple[str, ...], float]]]


class StateCollector(Collector):
    """Gauges of the service's state, read from the store on each scrape.

    State lives in the database, so every worker reads the same values and these need no
    multiprocess files: whichever worker answers /metrics reports them once. A source that
    fails is left out of that scrape (one log line); the others are still reported.
    Add a family with ``add`` (e.g. the budget service's projected ratio).
    """

    def __init__(self) -> None:
        self._sources: list[GaugeSource] = []

    def add(self, source: GaugeSource) -> None:
        self._sources.append(source)

    def collect(self) -> Iterator[Metric]:
        for source in self._sources:
            try:
                samples = list(source.read())
            except Exception as exc:
                log.warning("metric %s left out of this scrape: %s", source.name, exc)
                continue
            family = GaugeMetricFamily(source.name, source.documentation, labels=source.labels)
            for values, value in samples:
                family.add_metric(list(values), value)
            yield family

    def describe(self) -> Iterator[Metric]:
        # Registration must not read the database.
        return iter(())


def state_sources(state: StateMetrics) -> list[GaugeSource]:
    """The gauges the gpu-analytics alert rules are written on, plus the webhook outbox."""
    return [
        GaugeSource(
            "gpu_analytics_mig_layout_drift",
            "1 when the GPU's desired MIG layout differs from the one the exporter observes.",
            ("node", "device_id"),
            state.mig_layout_drift,
        ),
        GaugeSource(
            "gpu_analytics_allocation_planned_release_timestamp_seconds",
            "When a live allocation is due to be released, unix seconds.",
            ("allocation_id", "namespace", "pod"),
            state.planned_releases,
        ),
        GaugeSource(
            "gpu_analytics_webhook_deliveries",
            "Webhook deliveries in the outbox, by state (PENDING, DELIVERED, FAILED).",
            ("status",),
            state.outbox,
        ),
    ]


def budget_gauge(budgets: BudgetService) -> GaugeSource:
    """Projected monthly cost over budget, as last evaluated (the GpuBudgetExceeded alert)."""

    def read() -> list[tuple[tuple[str, ...], float]]:
        return [((scope, name), ratio) for scope, name, ratio in budgets.projected_ratios()]

    return GaugeSource(
        "gpu_analytics_budget_projected_ratio",
        "Projected monthly cost / monthly budget, by scope (team or namespace) and name.",
        ("scope", "name"),
        read,
    )


class Telemetry:
    """Request and allocation metrics.

    With several gunicorn workers, ``multiprocess_dir`` makes every worker write its samples to
    shared files and ``/metrics`` sums them (prometheus_client's multiprocess mode; the
    directory must be set in PROMETHEUS_MULTIPROC_DIR before prometheus_client is imported, which
    ``gpu-analytics serve`` does). Without it the numbers are those of the answering process.
    """

    def __init__(self, multiprocess_dir: Path | None) -> None:
        self.registry = CollectorRegistry()
        # Gauges read from the store at scrape time (state_sources; more may be added).
        self.state = StateCollector()
        self.registry.register(self.state)
        target: CollectorRegistry | None = self.registry
        if multiprocess_dir is not None:
            prom_multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
                self.registry, path=str(multiprocess_dir)
            )
            target = None  # samples go to the shared files, read back by the collector
        self.requests = Counter(
            "gpu_analytics_http_requests_total",
            "HTTP requests answered, by method, route and status code.",
            ["method", "route", "status"],
            registry=target,
        )
        self.latency = Histogram(
            "gpu_analytics_http_request_duration_seconds",
            "Time to answer an HTTP request, seconds, by route.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=target,
        )

    def names(self) -> list[str]:
        return sorted({metric.name for metric in self.registry.collect()})

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def init_telemetry(app: Flask, telemetry: Telemetry) -> None:
    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("request_started")
        route = request.url_rule.rule if request.url_rule else "unmatched"
        telemetry.requests.labels(request.method, route, str(response.status_code)).inc()
        if started is not None:
            telemetry.latency.labels(route).observe(time.perf_counter() - started)
        return response


def metrics_response(telemetry: Telemetry) -> Response:
    return Response(telemetry.exposition(), mimetype=CONTENT_TYPE_LATEST)
