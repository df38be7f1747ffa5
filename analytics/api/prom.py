"""Reports what each request's Prometheus queries cost.

Every response of a request that queried Prometheus carries ``X-Prometheus-Queries`` and
``X-Prometheus-Samples`` (samples returned), plus ``X-Prometheus-Samples-Queried`` (samples
Prometheus read) when ``prometheus_query_stats`` is on. The benchmark reads these. A response
answered from a kept live view (analytics/services/kernel/live_views.py) carries ``Age``: seconds
since the view was read.
"""

from __future__ import annotations

from contextlib import ExitStack

from flask import Flask, Response, g

from analytics.prom import PromClient, collect_stats


def init_prom(app: Flask, client: PromClient) -> None:
    """Count each request's queries of ``client`` (the services' client) into its headers."""

    @app.before_request
    def _count() -> None:
        stack = ExitStack()
        g.prom_stats = stack.enter_context(collect_stats())
        g.prom_exit = stack

    @app.after_request
    def _headers(response: Response) -> Response:
        stats = g.get("prom_stats")
        if stats is not None and stats.queries:
            response.headers["X-Prometheus-Queries"] = str(stats.queries)
            response.headers["X-Prometheus-Samples"] = str(stats.samples_returned)
            if client.query_stats:
                response.headers["X-Prometheus-Samples-Queried"] = str(stats.samples_queried)
        if stats is not None and stats.view_age_s is not None:
            # RFC 9111's Age: how long ago the live view answering was read from Prometheus.
            response.headers["Age"] = str(int(stats.view_age_s))
        return response

    @app.teardown_request
    def _unbind(_exc: BaseException | None) -> None:
        stack: ExitStack | None = g.pop("prom_exit", None)
        if stack is not None:
            stack.close()
