"""The exporter's secured endpoint: a web config Secret mounted and passed as --web.config.file,
probes that still reach /healthz, and monitors that scrape over HTTPS with basic auth."""

from __future__ import annotations

from typing import Any

from exporter.config import build_parser as exporter_parser
from tests.chart.chart import ALL_SWITCHES, POSTGRESQL_3, containers, render

WEB_DIR = "/etc/gpu-exporter/web"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
SECURED: dict[str, Any] = {"exporter": {"webConfig": {"existingSecret": "gpu-exporter-web"}}}


def _exporter(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    daemonset = render(values).one("DaemonSet")
    (container,) = containers(daemonset)
    spec: dict[str, Any] = daemonset["spec"]["template"]["spec"]
    return spec, container


def test_plain_http_by_default() -> None:
    spec, container = _exporter({})
    assert "args" not in container
    assert all(v["name"] != "web-config" for v in spec["volumes"])
    for probe in PROBES:
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    monitor = render({"monitoring": {"serviceMonitor": {"enabled": True}}}).one(
        "ServiceMonitor", "k8s-gpu-management-exporter"
    )
    assert not {"scheme", "tlsConfig", "basicAuth"} & set(monitor["spec"]["endpoints"][0])


def test_the_secret_is_mounted_read_only_and_named_by_the_flag() -> None:
    spec, container = _exporter(SECURED)
    (volume,) = [v for v in spec["volumes"] if v["name"] == "web-config"]
    assert volume["secret"]["secretName"] == "gpu-exporter-web"
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "web-config"]
    assert mount == {"name": "web-config", "mountPath": WEB_DIR, "readOnly": True}
    assert container["args"] == ["--web.config.file", f"{WEB_DIR}/web-config.yml"]
    for probe in PROBES:
        assert container[probe]["httpGet"] == {
            "path": "/healthz",
            "port": "metrics",
            "scheme": "HTTPS",
        }


def test_the_exporter_accepts_the_flag_the_chart_passes() -> None:
    _, container = _exporter(SECURED)
    parser = exporter_parser({})
    arguments = parser.parse_args(container["args"])
    assert f"{WEB_DIR}/web-config.yml" in vars(arguments).values()


def test_probes_follow_the_web_config() -> None:
    plain = {"exporter": {"webConfig": {"existingSecret": "web", "tls": False}}}
    _, container = _exporter(plain)
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    # Basic auth over /healthz too: the kubelet cannot send credentials, so it connects only.
    tcp = {"exporter": {"webConfig": {"existingSecret": "web", "tcpProbes": True}}}
    _, container = _exporter(tcp)
    for probe in PROBES:
        assert container[probe]["tcpSocket"] == {"port": "metrics"}
        assert "httpGet" not in container[probe]


def test_the_service_monitor_scrapes_the_exporter_over_https_with_basic_auth() -> None:
    rendered = render(ALL_SWITCHES)
    monitoring = ALL_SWITCHES["monitoring"]["serviceMonitor"]
    (endpoint,) = rendered.one("ServiceMonitor", "k8s-gpu-management-exporter")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == monitoring["tlsConfig"]
    assert endpoint["basicAuth"] == monitoring["basicAuth"]
    # The analytics endpoint is the service's own HTTP port: none of it applies there.
    (api,) = rendered.one("ServiceMonitor", "k8s-gpu-management-analytics")["spec"]["endpoints"]
    assert not {"scheme", "tlsConfig", "basicAuth"} & set(api)


def test_relabelings_reach_every_endpoint() -> None:
    rendered = render(ALL_SWITCHES)
    monitoring = ALL_SWITCHES["monitoring"]["serviceMonitor"]
    for monitor in rendered.of_kind("ServiceMonitor"):
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["relabelings"] == monitoring["relabelings"]
        assert endpoint["metricRelabelings"] == monitoring["metricRelabelings"]


def test_the_pod_monitor_takes_the_same_endpoint_settings() -> None:
    monitoring = POSTGRESQL_3["monitoring"]["podMonitor"]
    (endpoint,) = render(POSTGRESQL_3).one("PodMonitor")["spec"]["podMetricsEndpoints"]
    for key in ("scheme", "tlsConfig", "basicAuth", "relabelings", "metricRelabelings"):
        assert endpoint[key] == monitoring[key], key
