"""The service's own Prometheus metrics, on a registry made per app (multiprocess-aware)."""

from __future__ import annotations

import time
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


class Telemetry:
    """Request and allocation metrics.

    With several gunicorn workers, ``multiprocess_dir`` makes every worker write its samples to
    shared files and ``/metrics`` sums them (prometheus_client's multiprocess mode; the
    directory must be set in PROMETHEUS_MULTIPROC_DIR before prometheus_client is imported, which
    ``gpu-analytics serve`` does). Without it the numbers are those of the answering process.
    """

    def __init__(self, multiprocess_dir: Path | None) -> None:
        self.registry = CollectorRegistry()
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
