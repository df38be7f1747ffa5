"""NVIDIA's dcgm-exporter Grafana dashboard works on our series: on the shared stack's Prometheus
(tests/stack_fixtures.py, which loads every rule file of alerts/, dcgm-compat.yml included) the
queries of the published dashboard (grafana.com 12239, ``grafana/dcgm-exporter-dashboard.json``
in https://github.com/NVIDIA/dcgm-exporter) return data with the template variables on "All",
substituted as Grafana does, and the compat series' ``instance`` is the exporter's scrape
target.

``DCGM_FI_PROF_PIPE_TENSOR_ACTIVE`` comes from GPM (gpu_prof_tensor_active_ratio): it is asked of
the Hopper GPUs of the test fleet only.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest

from devstack.stack import Stack
from tests.artifacts.test_dashboards_live import instant
from tests.stack_fixtures import history_stack

__all__ = ["history_stack"]  # the fixture, imported for pytest

EXPORTER_JOB = "gpu-exporter"
# The dashboard's panels, with its selector written once, and the series of ours behind each:
# a per-GPU panel has a series for every GPU that has that one (a GPU in MIG mode has no
# utilisation), an aggregate panel (None) one value.
SELECTOR = '{instance=~"$instance", gpu=~"$gpu"}'
PANELS: dict[str, tuple[str, str | None]] = {
    "GPU Temperature": (f"DCGM_FI_DEV_GPU_TEMP{SELECTOR}", "gpu_temperature_celsius"),
    "GPU Avg. Temp": (f"avg(DCGM_FI_DEV_GPU_TEMP{SELECTOR})", None),
    "GPU Power Usage": (f"DCGM_FI_DEV_POWER_USAGE{SELECTOR}", "gpu_power_usage_watts"),
    "GPU Power Total": (f"sum(DCGM_FI_DEV_POWER_USAGE{SELECTOR})", None),
    "GPU SM Clocks": (
        f"DCGM_FI_DEV_SM_CLOCK{SELECTOR} * 1000000",
        'gpu_clock_hertz{clock="sm"}',
    ),
    "GPU Utilization": (f"DCGM_FI_DEV_GPU_UTIL{SELECTOR}", "gpu_utilization_ratio"),
    "GPU Framebuffer Mem Used": (f"DCGM_FI_DEV_FB_USED{SELECTOR}", "gpu_memory_used_bytes"),
}
TENSOR_PANEL = f"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{SELECTOR}"
HOPPER = "hopper"  # gpu_info's architecture label
# Characters Grafana's Prometheus data source escapes in a multi-value variable's values.
_REGEX_SPECIAL = set("\\^$*+?.()|{}[]")


def grafana_all(values: list[str]) -> str:
    """A multi-value variable on "All" without a custom all-value, as Grafana substitutes it
    into a ``=~"..."`` matcher: every value regex-escaped (a backslash written twice inside the
    PromQL string), in an alternation."""
    escaped = ["".join(f"\\\\{c}" if c in _REGEX_SPECIAL else c for c in v) for v in values]
    return "(" + "|".join(escaped) + ")" if len(values) > 1 else escaped[0]


def label_values(url: str, label: str, match: str) -> list[str]:
    """What Grafana's ``label_values(<match>, <label>)`` asks Prometheus."""
    query = urllib.parse.urlencode({"match[]": match})
    with urllib.request.urlopen(f"{url}/api/v1/label/{label}/values?{query}", timeout=30) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return sorted(body["data"])


def substitute(expr: str, instances: str, gpus: str) -> str:
    return expr.replace("$instance", instances).replace("$gpu", gpus)


@pytest.fixture(scope="module")
def prometheus(history_stack: Stack) -> str:
    """The stack's Prometheus once the dcgm-compat group (once a minute) has recorded every
    GPU of the fleet."""
    url = history_stack.prometheus_url
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        gpus = instant(url, "count(max by (uuid) (gpu_info))")
        recorded = instant(url, "count(max by (UUID) (DCGM_FI_DEV_GPU_TEMP))")
        if gpus and recorded and recorded[0]["value"][1] == gpus[0]["value"][1]:
            return url
        time.sleep(1)
    raise AssertionError("the dcgm-exporter-compat group recorded no GPU in 180 s")


@pytest.fixture(scope="module")
def variables(prometheus: str) -> dict[str, list[str]]:
    """The dashboard's template variables, as Grafana fills them."""
    return {
        "instance": label_values(prometheus, "instance", "DCGM_FI_DEV_GPU_TEMP"),
        "gpu": label_values(prometheus, "gpu", "DCGM_FI_DEV_GPU_TEMP"),
    }


def _all_values(variables: dict[str, list[str]], style: str) -> tuple[str, str]:
    if style == "alternation":
        return grafana_all(variables["instance"]), grafana_all(variables["gpu"])
    return ".*", ".*"


def test_variables_list_every_exporter_and_gpu_index(
    prometheus: str, variables: dict[str, list[str]]
) -> None:
    targets = {r["metric"]["instance"] for r in instant(prometheus, f'up{{job="{EXPORTER_JOB}"}}')}
    assert variables["instance"] == sorted(targets)
    indexes = {r["metric"]["gpu"] for r in instant(prometheus, "gpu_info")}
    assert variables["gpu"] == sorted(indexes)


@pytest.mark.parametrize("style", ["alternation", "match-all"])
@pytest.mark.parametrize("panel", sorted(PANELS))
def test_dashboard_panel_returns_data(
    prometheus: str, variables: dict[str, list[str]], panel: str, style: str
) -> None:
    instances, gpus = _all_values(variables, style)
    expr, source = PANELS[panel]
    result = instant(prometheus, substitute(expr, instances, gpus))
    assert result, f"{panel}: no data"
    if source is None:
        assert len(result) == 1
    else:
        # A series per GPU with the source series, each with dcgm-exporter's labels.
        expected = {r["metric"]["uuid"] for r in instant(prometheus, f"max by (uuid) ({source})")}
        assert {r["metric"]["UUID"] for r in result} == expected
        for row in result:
            labels: dict[str, Any] = row["metric"]
            assert {"gpu", "UUID", "device", "modelName", "Hostname", "hostname"} <= set(labels)


@pytest.mark.parametrize("style", ["alternation", "match-all"])
def test_tensor_core_panel_returns_data_for_every_hopper_gpu(
    prometheus: str, variables: dict[str, list[str]], style: str
) -> None:
    hopper = {
        r["metric"]["uuid"]
        for r in instant(prometheus, f'max by (uuid) (gpu_info{{architecture="{HOPPER}"}})')
    }
    assert hopper, "the test fleet has Hopper GPUs (H100)"
    instances, gpus = _all_values(variables, style)
    result = instant(prometheus, substitute(TENSOR_PANEL, instances, gpus))
    found = {r["metric"]["UUID"] for r in result}
    assert hopper <= found, f"no tensor activity for {sorted(hopper - found)}"
    assert all(0 <= float(r["value"][1]) <= 1 for r in result)  # a ratio, as dcgm's


def test_compat_instance_is_the_exporters_scrape_target(prometheus: str) -> None:
    # Per GPU: the compat series' instance is the target of the gpu-exporter job that exports
    # the GPU (its node's exporter), as dcgm-exporter's pod on that node would be.
    targets = {
        r["metric"]["uuid"]: r["metric"]["instance"]
        for r in instant(prometheus, f'max by (uuid, instance) (gpu_info{{job="{EXPORTER_JOB}"}})')
    }
    compat = {
        r["metric"]["UUID"]: r["metric"]["instance"]
        for r in instant(prometheus, "max by (UUID, instance) (DCGM_FI_DEV_GPU_TEMP)")
    }
    assert compat == targets
    scraped = {r["metric"]["instance"] for r in instant(prometheus, f'up{{job="{EXPORTER_JOB}"}}')}
    assert set(compat.values()) <= scraped
