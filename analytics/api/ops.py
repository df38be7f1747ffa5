"""Operational endpoints: /healthz, /readyz, /metrics and the Spring-style actuator.

The actuator answers in Spring Boot Actuator's own shape (``{"status": "UP", ...}`` and
``{"names": [...]}``), not in the API envelope: the seed's troubleshooting commands read
``.status`` and ``.names[]`` from it, as tools that know actuator do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify

from analytics.api.envelope import success
from analytics.api.errors import error_response
from analytics.api.telemetry import Telemetry, metrics_response
from analytics.clock import format_utc

ReadinessCheck = Callable[[], dict[str, Any]]


def ops_blueprint(readiness: ReadinessCheck, telemetry: Telemetry) -> Blueprint:
    """``readiness`` returns ``{component: {"status": "UP"|"DOWN", ...}}``."""
    blueprint = Blueprint("ops", __name__)

    def envelope(data: Any) -> dict[str, Any]:
        body = success(data)
        body["timestamp"] = format_utc(body["timestamp"])
        return body

    @blueprint.get("/healthz")
    def healthz() -> Response:
        return jsonify(envelope({"status": "UP"}))

    @blueprint.get("/readyz")
    def readyz() -> Response:
        components = readiness()
        if all(c["status"] == "UP" for c in components.values()):
            return jsonify(envelope({"status": "UP", "components": components}))
        return error_response(
            503, "SERVICE_UNAVAILABLE", "Not ready.", context={"components": components}
        )

    @blueprint.get("/metrics")
    def metrics() -> Response:
        return metrics_response(telemetry)

    @blueprint.get("/k8s-monitor/api/actuator/health")
    def actuator_health() -> Response:
        components = readiness()
        up = all(c["status"] == "UP" for c in components.values())
        response = jsonify({"status": "UP" if up else "DOWN", "components": components})
        response.status_code = 200 if up else 503
        return response

    @blueprint.get("/k8s-monitor/api/actuator/metrics")
    def actuator_metrics() -> Response:
        return jsonify({"names": telemetry.names()})

    @blueprint.get("/k8s-monitor/api/actuator/metrics/<name>")
    def actuator_metric(name: str) -> Response:
        for metric in telemetry.registry.collect():
            if metric.name == name:
                samples = [
                    {
                        "statistic": s.name.removeprefix(name) or "VALUE",
                        "value": s.value,
                        "tags": s.labels,
                    }
                    for s in metric.samples
                ]
                return jsonify(
                    {"name": name, "description": metric.documentation, "measurements": samples}
                )
        return error_response(404, "RESOURCE_NOT_FOUND", f"No metric named {name!r}.")

    return blueprint
