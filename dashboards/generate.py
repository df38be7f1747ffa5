"""Writes the Grafana dashboards of dashboards/ (schema of Grafana 10/11) from plain Python.

Conventions (after Grafana's best practices for dashboards,
https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/best-practices/): a
``datasource`` variable used by every panel and every query, variables for node, GPU, namespace
and pod (multi-value, ``.*`` for All, matched with ``=~``), a stable uid, a description and a
unit on every panel, only timeseries/stat/gauge/table/bargauge panels, and links between the
dashboards (by the shared tag). tests/artifacts holds the JSON
to this generator and runs every query against a real Prometheus.

    .venv/bin/python dashboards/generate.py          # rewrite dashboards/*.json
    .venv/bin/python dashboards/generate.py --check  # exit 1 when a checked-in file is not current
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TAG = "gpu-management"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WIDTH = 24

NODE = 'node=~"$node"'
GPU = 'gpu=~"$gpu"'
NAMESPACE = 'namespace=~"$namespace"'
POD = 'pod=~"$pod"'
DEVICE = f"{NODE}, {GPU}"
PODS = f"{NODE}, {NAMESPACE}, {POD}"
# Profiling (gpu_prof_*) series of a whole GPU, not of one of its MIG instances.
WHOLE_GPU = 'mig_uuid=""'
MIG_INSTANCE = 'mig_uuid!=""'
# cAdvisor also reports a pod's cgroup (container="") and the pause container ("POD").
CONTAINERS = 'container!="", container!="POD"'
LIST_PRICE_NOTE = (
    " Cost is at the default list price per GPU-hour from gpucatalog (gpucatalog/models.py: the"
    " median of public on-demand offers, read 2026), not a contract price; MIG instances cost"
    " their compute share (C/7), a time-sliced GPU is split evenly among its holders, and models"
    " without a list price (A30) are not costed."
)
RULES_NOTE = (
    " Recording rules (alerts/gpu-recording.yml) start when Prometheus loads them: backfilled"
    " history before that shows only in the raw-series panels."
)


# -- queries and panels ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass
class Panel:
    kind: str  # timeseries | stat | gauge | bargauge | table
    title: str
    description: str
    unit: str
    queries: Sequence[Query]
    width: int = 12
    height: int = 8
    minimum: float | None = None
    maximum: float | None = None
    # stat/gauge/bargauge: value from which the colour turns red (None: always green)
    red_from: float | None = None
    red_below: float | None = None  # red up to this value, green above (utilisation)
    # table: column renames ("Value #A" -> "GPUs"), per-column units, hidden columns, links
    columns: dict[str, str] = field(default_factory=dict)
    column_units: dict[str, str] = field(default_factory=dict)
    hidden: Sequence[str] = ()
    links: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (title, url)
    sort_by: str | None = None


def _target(query: Query, ref: str, *, instant: bool, table: bool) -> dict[str, Any]:
    target: dict[str, Any] = {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": query.expr,
        "legendFormat": query.legend or "__auto",
        "range": not instant,
        "instant": instant,
        "refId": ref,
    }
    if table:
        target["format"] = "table"
    return target


def _thresholds(panel: Panel) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if panel.red_below is not None:
        steps = [{"color": "red", "value": None}, {"color": "green", "value": panel.red_below}]
    elif panel.red_from is not None:
        steps.append({"color": "red", "value": panel.red_from})
    return {"mode": "absolute", "steps": steps}


def _render_panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    instant = panel.kind in ("table", "bargauge")
    table = panel.kind == "table"
    defaults: dict[str, Any] = {"unit": panel.unit, "thresholds": _thresholds(panel)}
    if panel.minimum is not None:
        defaults["min"] = panel.minimum
    if panel.maximum is not None:
        defaults["max"] = panel.maximum
    overrides: list[dict[str, Any]] = []
    options: dict[str, Any]
    if panel.kind == "timeseries":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
        }
        options = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif panel.kind in ("stat", "gauge", "bargauge"):
        defaults["color"] = {"mode": "thresholds"}
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal" if panel.kind == "bargauge" else "auto",
        }
        if panel.kind == "stat":
            options.update({"colorMode": "value", "graphMode": "area", "textMode": "auto"})
        elif panel.kind == "gauge":
            options.update({"showThresholdLabels": False, "showThresholdMarkers": True})
        else:
            options.update({"displayMode": "gradient", "showUnfilled": True})
    else:
        defaults["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}}
        options = {"showHeader": True, "cellHeight": "sm"}
        if panel.sort_by:
            options["sortBy"] = [{"displayName": panel.sort_by, "desc": False}]
        for column, unit in panel.column_units.items():
            overrides.append(
                {
                    "matcher": {"id": "byName", "options": column},
                    "properties": [{"id": "unit", "value": unit}],
                }
            )
        for column, (title, url) in panel.links.items():
            overrides.append(
                {
                    "matcher": {"id": "byName", "options": column},
                    "properties": [{"id": "links", "value": [{"title": title, "url": url}]}],
                }
            )
    rendered: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": overrides},
        "options": options,
        "targets": [
            _target(query, chr(ord("A") + i), instant=instant, table=table)
            for i, query in enumerate(panel.queries)
        ],
    }
    if table:
        exclude = {"Time": True, **{name: True for name in panel.hidden}}
        rendered["transformations"] = [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {"excludeByName": exclude, "renameByName": dict(panel.columns)},
            },
        ]
    return rendered


def _layout(panels: Sequence[Panel]) -> list[dict[str, Any]]:
    """Left to right, top to bottom, in the given order."""
    rendered = []
    x = y = row_height = 0
    for panel_id, panel in enumerate(panels, start=1):
        if x + panel.width > WIDTH:
            x, y, row_height = 0, y + row_height, 0
        rendered.append(_render_panel(panel, panel_id, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return rendered


# -- variables and dashboards ----------------------------------------------------------------------


def _datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def _query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {
            "qryType": 1,
            "query": query,
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
        },
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "options": [],
        "refresh": 2,
        "regex": "",
        "sort": 3,
    }


VARIABLES = {
    "node": lambda: _query_variable("node", "Node", "label_values(gpu_info, node)"),
    "gpu": lambda: _query_variable("gpu", "GPU", f"label_values(gpu_info{{{NODE}}}, gpu)"),
    "namespace": lambda: _query_variable(
        "namespace", "Namespace", f"label_values(gpu_pod_allocation_info{{{NODE}}}, namespace)"
    ),
    "pod": lambda: _query_variable(
        "pod", "Pod", f"label_values(gpu_pod_allocation_info{{{NODE}, {NAMESPACE}}}, pod)"
    ),
}


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    variables: Sequence[str]
    panels: Sequence[Panel]

    @property
    def filename(self) -> str:
        return f"{self.uid}.json"

    def render(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": [TAG, "gpu"],
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    }
                ]
            },
            "links": [
                {
                    "title": "GPU dashboards",
                    "type": "dashboards",
                    "tags": [TAG],
                    "asDropdown": False,
                    "includeVars": True,
                    "keepTime": True,
                    "targetBlank": False,
                    "icon": "external link",
                    "tooltip": "",
                    "url": "",
                }
            ],
            "templating": {
                "list": [_datasource_variable(), *(VARIABLES[name]() for name in self.variables)]
            },
            "panels": _layout(self.panels),
        }


def _link(uid: str, *params: str) -> str:
    query = "&".join(("${datasource:queryparam}", *params, "${__url_time_range}"))
    return f"/d/{uid}?{query}"


NODE_LINK = ("GPU node & device detail", _link("gpu-node-detail", "var-node=${__value.raw}"))
POD_LINK = (
    "GPU namespaces & pods",
    _link(
        "gpu-namespaces-pods",
        "var-namespace=${__data.fields.namespace}",
        "var-pod=${__value.raw}",
    ),
)


# -- the dashboards --------------------------------------------------------------------------------


def cluster_overview() -> Dashboard:
    n = f"{{{NODE}}}"
    return Dashboard(
        "gpu-cluster-overview",
        "GPU cluster overview",
        "The GPU fleet at a glance: how many GPUs answer, how busy, hot and power-hungry they are, "
        "how much is allocated to pods and what it costs at list price.",
        ["node"],
        [
            Panel(
                "stat",
                "GPUs up",
                "GPUs answering NVML now (gpu_up 1), summed from node:gpu_up:sum.",
                "short",
                [Query(f"sum(node:gpu_up:sum{n})")],
                width=3,
                height=4,
            ),
            Panel(
                "stat",
                "GPUs down or missing",
                "The most GPUs up over the last day minus those up now: lost GPUs (gpu_up 0) and "
                "GPUs whose series vanished, as the GpuMissing alert counts them.",
                "short",
                [Query(f"sum(max_over_time(node:gpu_up:sum{n}[1d])) - sum(node:gpu_up:sum{n})")],
                width=3,
                height=4,
                red_from=1,
            ),
            Panel(
                "gauge",
                "Mean GPU utilisation",
                "Mean busy fraction of the GPUs over 5 minutes, from gpu_busy_seconds_total (no "
                "aliasing with the scrape interval). GPUs in MIG mode report no utilisation.",
                "percentunit",
                [Query(f"avg(uuid:gpu_busy_seconds:rate5m{n})")],
                width=3,
                height=4,
                minimum=0,
                maximum=1,
            ),
            Panel(
                "gauge",
                "GPU memory in use",
                "Device memory in use over device memory in total, all selected GPUs.",
                "percentunit",
                [
                    Query(
                        f"sum(node:gpu_memory_used_bytes:sum{n}) "
                        f"/ sum(node:gpu_memory_total_bytes:sum{n})"
                    )
                ],
                width=3,
                height=4,
                minimum=0,
                maximum=1,
            ),
            Panel(
                "stat",
                "GPU power draw",
                "Power drawn by all selected GPUs now (board power from NVML).",
                "watt",
                [Query(f"sum(node:gpu_power_usage_watts:sum{n})")],
                width=3,
                height=4,
            ),
            Panel(
                "stat",
                "GPUs allocated",
                "GPU-equivalents held by pods: whole GPUs count 1, MIG instances their compute "
                "share, time-sliced GPUs once however many pods share them.",
                "short",
                [Query(f"sum(node:gpu_allocation_share:sum{n})")],
                width=3,
                height=4,
            ),
            Panel(
                "stat",
                "List-price cost per hour",
                "Every selected GPU, allocated or not, at its list price per hour."
                + LIST_PRICE_NOTE,
                "currencyUSD",
                [Query(f"sum(uuid:gpu_list_price_usd_per_hour:catalogue{n})")],
                width=3,
                height=4,
            ),
            Panel(
                "stat",
                "Firing GPU alerts",
                "Alerts of alerts/gpu-alerts.yml firing now (Prometheus' ALERTS series).",
                "short",
                [
                    Query(
                        f'count(ALERTS{{alertstate="firing", alertname=~"Gpu.*", {NODE}}}) '
                        "or vector(0)"
                    )
                ],
                width=3,
                height=4,
                red_from=1,
            ),
            Panel(
                "timeseries",
                "GPU utilisation by node",
                "Mean busy fraction of each node's GPUs (5-minute rate of gpu_busy_seconds_total)."
                + RULES_NOTE,
                "percentunit",
                [Query(f"node:gpu_busy_seconds:avg_rate5m{n}", "{{node}}")],
                minimum=0,
                maximum=1,
            ),
            Panel(
                "timeseries",
                "GPU memory used by node",
                "Device memory in use on each node's GPUs." + RULES_NOTE,
                "bytes",
                [Query(f"node:gpu_memory_used_bytes:sum{n}", "{{node}}")],
            ),
            Panel(
                "timeseries",
                "GPU power by node",
                "Power drawn by each node's GPUs." + RULES_NOTE,
                "watt",
                [Query(f"node:gpu_power_usage_watts:sum{n}", "{{node}}")],
            ),
            Panel(
                "timeseries",
                "Hottest GPU per node",
                "The highest GPU temperature of each node; per-model thresholds are on the node "
                "& device dashboard." + RULES_NOTE,
                "celsius",
                [Query(f"node:gpu_temperature_celsius:max{n}", "{{node}}")],
            ),
            Panel(
                "timeseries",
                "GPUs allocated by node",
                "GPU-equivalents held by pods on each node, beside the GPUs the node has."
                + RULES_NOTE,
                "short",
                [
                    Query(f"node:gpu_allocation_share:sum{n}", "{{node}} allocated"),
                    Query(f"node:gpu_devices:count{n}", "{{node}} GPUs"),
                ],
            ),
            Panel(
                "bargauge",
                "GPUs by model",
                "How many GPUs of each model (NVML product name) the exporters report.",
                "short",
                [
                    Query(
                        f"count by (model_name) (max by (model_name, uuid) (gpu_info{n}))",
                        "{{model_name}}",
                    )
                ],
            ),
            Panel(
                "table",
                "Nodes",
                "Per node: GPUs reported and up, mean utilisation, memory in use, power, the "
                "hottest GPU and the GPU-equivalents allocated. Click a node for its detail.",
                "short",
                [
                    Query(f"sum by (node) (node:gpu_devices:count{n})"),
                    Query(f"sum by (node) (node:gpu_up:sum{n})"),
                    Query(f"sum by (node) (node:gpu_busy_seconds:avg_rate5m{n})"),
                    Query(
                        f"sum by (node) (node:gpu_memory_used_bytes:sum{n}) "
                        f"/ sum by (node) (node:gpu_memory_total_bytes:sum{n})"
                    ),
                    Query(f"sum by (node) (node:gpu_power_usage_watts:sum{n})"),
                    Query(f"max by (node) (node:gpu_temperature_celsius:max{n})"),
                    Query(f"sum by (node) (node:gpu_allocation_share:sum{n})"),
                ],
                width=24,
                columns={
                    "Value #A": "GPUs",
                    "Value #B": "Up",
                    "Value #C": "Utilisation",
                    "Value #D": "Memory in use",
                    "Value #E": "Power",
                    "Value #F": "Hottest GPU",
                    "Value #G": "Allocated",
                },
                column_units={
                    "Utilisation": "percentunit",
                    "Memory in use": "percentunit",
                    "Power": "watt",
                    "Hottest GPU": "celsius",
                },
                links={"node": NODE_LINK},
            ),
        ],
    )


def profiling_panels() -> list[Panel]:
    """GPM profiling (issue 20): the node detail's panels over gpu_prof_* (Hopper and newer)."""
    d = f"{{{DEVICE}}}"
    target = "{{node}} GPU {{gpu}} {{gpu_instance_id}}"
    note = (
        " From NVML's GPM (Hopper and newer; gpu_prof_support_info says why a GPU has none), "
        "averaged over the exporter's sampling interval; one series per GPU and per MIG GPU "
        "instance (legend: GPU index, then the GPU instance id)."
    )
    return [
        Panel(
            "timeseries",
            "Tensor cores by kind (profiling)",
            "Fraction of time the SMs ran tensor-core instructions: any, and by kind "
            "(HMMA half precision, IMMA integer, DFMA double)." + note,
            "percentunit",
            [
                Query(f"gpu_prof_tensor_active_ratio{d}", target + " any"),
                Query(f"gpu_prof_tensor_hmma_active_ratio{d}", target + " hmma"),
                Query(f"gpu_prof_tensor_imma_active_ratio{d}", target + " imma"),
                Query(f"gpu_prof_tensor_dfma_active_ratio{d}", target + " dfma"),
            ],
            minimum=0,
            maximum=1,
        ),
        Panel(
            "timeseries",
            "Media engines (profiling)",
            "Utilisation of the video decoders (NVDEC), JPEG decoders (NVJPG) and optical flow "
            "accelerators (NVOFA), each the mean over the GPU's or instance's engines." + note,
            "percentunit",
            [
                Query(f"gpu_prof_nvdec_utilization_ratio{d}", target + " nvdec"),
                Query(f"gpu_prof_nvjpg_utilization_ratio{d}", target + " nvjpg"),
                Query(f"gpu_prof_nvofa_utilization_ratio{d}", target + " nvofa"),
            ],
            minimum=0,
            maximum=1,
        ),
        Panel(
            "table",
            "Profiling support",
            "Whether each GPU exports the profiling (gpu_prof_*) series, and why: supported, "
            "device_not_supported (no GPM: Ampere and older), driver_not_supported, "
            "function_not_found, no_permission, query_failed or disabled (--gpm=false).",
            "none",
            [Query(f"max by (node, gpu, uuid, supported, reason) (gpu_prof_support_info{d})")],
            hidden=("Value",),
        ),
    ]


# -- dcgm-exporter default counters from NVML (issue 20) ------------------------------------------


def _interconnect_panels(d: str, by_gpu: str) -> list[Panel]:
    """Node detail: PCIe and NVLink traffic and errors, time clocks were held down, memory
    temperature, video engines and NVSwitch fabric state."""
    core = 'reason!~"total_.*"'  # the totals overlap the single limiters
    return [
        Panel(
            "bargauge",
            "NVLink traffic per link",
            "Transmit and receive per second on each link over the time range "
            "(gpu_nvlink_link_data_bytes_total): one link far below its siblings is degraded "
            "or down. Empty unless the exporter runs with --nvlink-per-link.",
            "Bps",
            [
                Query(
                    "sum by (node, gpu, link) "
                    f"(rate(gpu_nvlink_link_data_bytes_total{d}[$__range]))",
                    by_gpu + " link {{link}}",
                )
            ],
        ),
        Panel(
            "timeseries",
            "Time clocks were held down, by limiter",
            "Fraction of time the driver held each GPU's clocks below the requested ones, by "
            "limiter (rate of gpu_violation_seconds_total): power on a training GPU near its "
            "limit, thermal when it overheats, low_utilization when idle.",
            "percentunit",
            [
                Query(
                    "max by (node, gpu, reason) "
                    f"(rate(gpu_violation_seconds_total{{{DEVICE}, {core}}}[$__rate_interval]))",
                    by_gpu + " {{reason}}",
                )
            ],
            minimum=0,
            maximum=1,
        ),
        Panel(
            "timeseries",
            "Memory temperature",
            "HBM temperature of each GPU (boards with GDDR memory have no sensor).",
            "celsius",
            [Query(f"max by (node, gpu) (gpu_memory_temperature_celsius{d})", by_gpu)],
        ),
        Panel(
            "timeseries",
            "Video engines",
            "Busy fraction of each GPU's video encoder (NVENC) and decoder (NVDEC).",
            "percentunit",
            [
                Query(
                    f"max by (node, gpu) (gpu_encoder_utilization_ratio{d})", by_gpu + " encoder"
                ),
                Query(
                    f"max by (node, gpu) (gpu_decoder_utilization_ratio{d})", by_gpu + " decoder"
                ),
            ],
            minimum=0,
            maximum=1,
        ),
        Panel(
            "table",
            "Links and fabric",
            "Per GPU: PCIe replays and NVLink errors in the time range (a rising count points at "
            "a bad slot, riser or link), memory the driver reserves, and the NVSwitch fabric "
            "state (completed when the GPU joined its fabric; empty outside NVSwitch systems).",
            "short",
            [
                Query(f"max by (node, gpu) (increase(gpu_pcie_replay_errors_total{d}[$__range]))"),
                Query(f"sum by (node, gpu) (increase(gpu_nvlink_errors_total{d}[$__range]))"),
                Query(f"max by (node, gpu) (gpu_memory_reserved_bytes{d})"),
                Query(f"max by (node, gpu, state) (gpu_fabric_state{d})"),
            ],
            width=24,
            columns={
                "Value #A": "PCIe replays",
                "Value #B": "NVLink errors",
                "Value #C": "Reserved memory",
                "state": "Fabric",
            },
            column_units={"Reserved memory": "bytes"},
            hidden=("Value #D",),
        ),
    ]


def node_detail() -> Dashboard:
    d = f"{{{DEVICE}}}"
    gd = f"{{{DEVICE}, {WHOLE_GPU}}}"
    by_gpu = "{{node}} GPU {{gpu}}"
    return Dashboard(
        "gpu-node-detail",
        "GPU node & device detail",
        "One node's (or a few) GPUs in detail: identity, utilisation, SM, tensor-core and DRAM "
        "activity, PCIe and NVLink traffic, memory, temperature against the model's threshold, "
        "power, clocks and why they are held down, XIDs, memory health, the pods holding each GPU "
        "and the exporter's own health.",
        ["node", "gpu"],
        [
            Panel(
                "table",
                "Devices",
                "Identity of each GPU (gpu_info) and whether it answers NVML now (gpu_up).",
                "none",
                [
                    Query(
                        "max by (node, gpu, uuid, model_name, architecture, mig_mode, "
                        f"driver_version, vbios_version, pci_bus_id, serial) (gpu_info{d})"
                    ),
                    Query(f"max by (node, gpu, uuid) (gpu_up{d})"),
                ],
                width=24,
                height=6,
                columns={"Value #B": "Up"},
                hidden=("Value #A",),
            ),
            Panel(
                "timeseries",
                "Utilisation",
                "Busy fraction of each GPU: rate of gpu_busy_seconds_total, built from NVML's "
                "utilisation samples (no aliasing). GPUs in MIG mode report none.",
                "percentunit",
                [Query(f"rate(gpu_busy_seconds_total{d}[$__rate_interval])", by_gpu)],
                minimum=0,
                maximum=1,
            ),
            Panel(
                "timeseries",
                "SM activity and occupancy",
                "Fraction of cycles each GPU's SMs had a warp (gpu_prof_sm_active_ratio) and "
                "warps resident over the maximum (gpu_prof_sm_occupancy_ratio), from GPM: "
                "Hopper and newer only. Unlike utilisation, a single small kernel does not read "
                "as busy. GPUs in MIG mode: per instance on the MIG dashboard.",
                "percentunit",
                [
                    Query(f"max by (node, gpu) (gpu_prof_sm_active_ratio{gd})", by_gpu + " SM"),
                    Query(
                        f"max by (node, gpu) (gpu_prof_sm_occupancy_ratio{gd})",
                        by_gpu + " occupancy",
                    ),
                ],
                minimum=0,
                maximum=1,
            ),
            Panel(
                "timeseries",
                "Tensor core and FP pipe activity",
                "Fraction of cycles the tensor cores (any kind) and the FP64, FP32 and FP16 "
                "pipes were active on each GPU (GPM, Hopper and newer).",
                "percentunit",
                [
                    Query(
                        f"max by (node, gpu) (gpu_prof_tensor_active_ratio{gd})",
                        by_gpu + " tensor",
                    ),
                    *(
                        Query(
                            f"max by (node, gpu) (gpu_prof_{pipe}_active_ratio{gd})",
                            f"{by_gpu} {pipe}",
                        )
                        for pipe in ("fp64", "fp32", "fp16")
                    ),
                ],
                minimum=0,
                maximum=1,
            ),
            Panel(
                "timeseries",
                "DRAM bandwidth used",
                "Device memory bandwidth in use over the peak (gpu_prof_dram_bandwidth_"
                "utilization_ratio, GPM): memory-bound work shows high here with modest SM "
                "activity.",
                "percentunit",
                [
                    Query(
                        f"max by (node, gpu) (gpu_prof_dram_bandwidth_utilization_ratio{gd})",
                        by_gpu,
                    )
                ],
                minimum=0,
                maximum=1,
            ),
            Panel(
                "timeseries",
                "PCIe traffic",
                "Bytes per second each GPU moves over PCIe, transmitted (up) and received "
                "(down): GPM's counters on Hopper and newer; NVML's 20 ms sample "
                "(gpu_pcie_throughput_bytes_per_second) on the others.",
                "Bps",
                [
                    Query(
                        f"max by (node, gpu) (gpu_prof_pcie_transmit_bytes_per_second{gd})",
                        by_gpu + " transmit",
                    ),
                    Query(
                        f"-max by (node, gpu) (gpu_prof_pcie_receive_bytes_per_second{gd})",
                        by_gpu + " receive",
                    ),
                    Query(
                        f"max by (node, gpu, direction) (gpu_pcie_throughput_bytes_per_second{d}) "
                        "unless on (node, gpu) "
                        f"max by (node, gpu) (gpu_prof_pcie_transmit_bytes_per_second{gd})",
                        by_gpu + " {{direction}} (NVML)",
                    ),
                ],
            ),
            Panel(
                "timeseries",
                "NVLink traffic",
                "Bytes per second each GPU moves over NVLink, all links: GPM's rates where the "
                "GPU has them, else the rate of NVML's data counters "
                "(gpu_nvlink_data_bytes_total). GPUs without NVLink show nothing.",
                "Bps",
                [
                    Query(
                        f"max by (node, gpu) (gpu_prof_nvlink_transmit_bytes_per_second{gd})",
                        by_gpu + " transmit",
                    ),
                    Query(
                        f"max by (node, gpu) (gpu_prof_nvlink_receive_bytes_per_second{gd})",
                        by_gpu + " receive",
                    ),
                    Query(
                        "sum by (node, gpu, direction) "
                        f"(rate(gpu_nvlink_data_bytes_total{d}[$__rate_interval])) "
                        "unless on (node, gpu) "
                        f"max by (node, gpu) (gpu_prof_nvlink_transmit_bytes_per_second{gd})",
                        by_gpu + " {{direction}} (NVML)",
                    ),
                ],
            ),
            Panel(
                "timeseries",
                "Memory used",
                "Device memory in use on each GPU (MIG instances: see the MIG dashboard).",
                "bytes",
                [Query(f"gpu_memory_used_bytes{d}", by_gpu)],
            ),
            Panel(
                "timeseries",
                "Temperature and overheat threshold",
                "Die temperature of each GPU and its model's overheat threshold from gpucatalog "
                "(the GpuOverheating alert fires after 5 minutes above it).",
                "celsius",
                [
                    Query(f"max by (node, gpu) (gpu_temperature_celsius{d})", by_gpu),
                    Query(
                        f"max by (node, gpu) (uuid:gpu_overheat_threshold_celsius:catalogue{d})",
                        by_gpu + " threshold",
                    ),
                ],
            ),
            Panel(
                "timeseries",
                "Power and limit",
                "Board power drawn by each GPU and its enforced power limit.",
                "watt",
                [
                    Query(f"gpu_power_usage_watts{d}", by_gpu),
                    Query(f"gpu_power_limit_watts{d}", by_gpu + " limit"),
                ],
            ),
            Panel(
                "timeseries",
                "Clocks",
                "SM and memory clock of each GPU.",
                "hertz",
                [Query(f'gpu_clock_hertz{{{DEVICE}, clock=~"sm|memory"}}', by_gpu + " {{clock}}")],
            ),
            Panel(
                "timeseries",
                "Clocks held down, by reason",
                "How many of the selected GPUs have their clocks held down, by the driver's reason: "
                "thermal slowdown and power brake alert; sw_power_cap and gpu_idle are normal.",
                "short",
                [
                    Query(
                        f"sum by (reason) (gpu_clock_event_reason_active{d})",
                        "{{reason}}",
                    )
                ],
            ),
            Panel(
                "stat",
                "XID errors in the time range",
                "XID errors the driver reported on the selected GPUs in the dashboard's time range "
                "(gpu_xid_errors_total), all codes.",
                "short",
                [Query(f"sum(increase(gpu_xid_errors_total{d}[$__range])) or vector(0)")],
                width=6,
                red_from=1,
            ),
            Panel(
                "table",
                "XID errors by code",
                "Per GPU and XID code: errors in the time range and when the code was last seen. "
                "Critical: 48, 62, 64, 74, 79, 95, 119, 120; warning: 94; 13, 31, 43 are usually "
                "application faults.",
                "short",
                [
                    Query(
                        f"sum by (node, gpu, xid) (increase(gpu_xid_errors_total{d}[$__range])) > 0"
                    ),
                    Query(
                        f"max by (node, gpu, xid) (gpu_xid_last_seen_timestamp_seconds{d}) * 1000"
                    ),
                ],
                width=18,
                columns={"Value #A": "Errors", "Value #B": "Last seen"},
                column_units={"Last seen": "dateTimeAsIso"},
            ),
            Panel(
                "table",
                "Memory health",
                "ECC errors since the driver loaded (volatile) and over the GPU's life (inforom), "
                "remapped rows, and pending or failed row remaps. GPUs without ECC show no values.",
                "short",
                [
                    Query(
                        f'max by (node, gpu) (gpu_ecc_errors_total{{{DEVICE}, type="corrected"}})'
                    ),
                    Query(
                        f'max by (node, gpu) (gpu_ecc_errors_total{{{DEVICE}, type="uncorrected"}})'
                    ),
                    Query(
                        f'max by (node, gpu) (gpu_ecc_errors_lifetime{{{DEVICE}, type="uncorrected"}})'
                    ),
                    Query(f"sum by (node, gpu) (gpu_remapped_rows{d})"),
                    Query(f"max by (node, gpu) (gpu_row_remap_pending{d})"),
                    Query(f"max by (node, gpu) (gpu_row_remap_failure{d})"),
                ],
                width=24,
                columns={
                    "Value #A": "Corrected (volatile)",
                    "Value #B": "Uncorrected (volatile)",
                    "Value #C": "Uncorrected (lifetime)",
                    "Value #D": "Remapped rows",
                    "Value #E": "Remap pending",
                    "Value #F": "Remap failed",
                },
            ),
            Panel(
                "timeseries",
                "ECC errors",
                "ECC errors counted per interval on each GPU, by type.",
                "short",
                [
                    Query(
                        "sum by (node, gpu, type) "
                        f"(increase(gpu_ecc_errors_total{d}[$__rate_interval]))",
                        by_gpu + " {{type}}",
                    )
                ],
            ),
            *_interconnect_panels(d, by_gpu),
            Panel(
                "table",
                "Pods holding these GPUs",
                "Containers the kubelet assigned each GPU or MIG instance to "
                "(gpu_pod_allocation_info). Click a pod for its usage and cost.",
                "none",
                [
                    Query(
                        "max by (node, gpu, mig_uuid, namespace, pod, container, resource, sharing) "
                        f"(gpu_pod_allocation_info{d})"
                    )
                ],
                hidden=("Value",),
                links={"pod": POD_LINK},
            ),
            Panel(
                "timeseries",
                "Exporter stage duration",
                "How long the last run of each of the exporter's sampling stages took (nvml, "
                "processes, pod_resources, kubernetes); GpuExporterSlow alerts on it.",
                "s",
                [
                    Query(
                        f"max by (node, stage) (gpu_exporter_stage_duration_seconds{{{NODE}}})",
                        "{{node}} {{stage}}",
                    )
                ],
            ),
            *profiling_panels(),  # GPM profiling (issue 20)
            Panel(
                "stat",
                "Age of the NVML readings",
                "Seconds since the exporter last read NVML successfully (the oldest of the "
                "selected nodes); GpuExporterStale alerts past 120 s.",
                "s",
                [
                    Query(
                        "max(time() - gpu_exporter_stage_last_success_timestamp_seconds"
                        f'{{{NODE}, stage="nvml"}})'
                    )
                ],
                width=6,
                red_from=120,
            ),
            Panel(
                "stat",
                "GPUs the exporter cannot read",
                "GPUs the nodes should have (configured, or the most NVML has reported) minus "
                "GPUs read successfully in the last cycle.",
                "short",
                [
                    Query(
                        f"sum(gpu_exporter_devices_expected{{{NODE}}}) "
                        f"- sum(gpu_exporter_devices_visible{{{NODE}}})"
                    )
                ],
                width=6,
                red_from=1,
            ),
            Panel(
                "timeseries",
                "Exporter errors",
                "Failed operations per second in the exporter (NVML calls, pod-resources and "
                "Kubernetes API requests, unresolvable device ids), by operation.",
                "short",
                [
                    Query(
                        "sum by (node, operation) "
                        f"(rate(gpu_exporter_errors_total{{{NODE}}}[$__rate_interval]))",
                        "{{node}} {{operation}}",
                    )
                ],
            ),
        ],
    )


def namespaces_pods() -> Dashboard:
    q = f"{{{PODS}}}"
    by_pod = "{{namespace}}/{{pod}}"
    return Dashboard(
        "gpu-namespaces-pods",
        "GPU namespaces & pods",
        "GPU usage and list-price cost by namespace and pod. Pods are attributed through "
        "gpu_pod_allocation_info: a shared GPU is never counted twice, and device values are "
        "attributed only where one container holds the whole device." + LIST_PRICE_NOTE,
        ["node", "namespace", "pod"],
        [
            Panel(
                "stat",
                "GPU-equivalents allocated",
                "GPUs held by the selected pods: whole GPUs count 1, MIG instances their compute "
                "share, a time-sliced GPU is split among its holders.",
                "short",
                [Query(f"sum(namespace_pod_container:gpu_allocation_share:ratio{q})")],
                width=4,
                height=4,
            ),
            Panel(
                "stat",
                "List-price cost per hour",
                "What the selected pods' GPUs cost per hour now, at list price." + LIST_PRICE_NOTE,
                "currencyUSD",
                [Query(f"sum(namespace_pod_container:gpu_cost_usd_per_hour:list_price{q})")],
                width=4,
                height=4,
            ),
            Panel(
                "stat",
                "List-price cost over the time range",
                "The hourly list-price cost integrated over the dashboard's time range, in steps "
                "of the panel's interval." + LIST_PRICE_NOTE + RULES_NOTE,
                "currencyUSD",
                [
                    Query(
                        "sum_over_time(sum(namespace_pod_container:gpu_cost_usd_per_hour:list_price"
                        f"{q})[$__range:$__interval]) * $__interval_ms / 3600000"
                    )
                ],
                width=4,
                height=4,
            ),
            Panel(
                "stat",
                "GPU memory attributed",
                "GPU memory used by the selected pods: their processes' own memory where the "
                "exporter reads it per process, else the device's where one container holds it.",
                "bytes",
                [Query(f"sum(namespace_pod_container:gpu_memory_used_bytes:attributed{q})")],
                width=4,
                height=4,
            ),
            Panel(
                "stat",
                "Pods holding GPUs",
                "Pods with at least one GPU, MIG instance or time-sliced replica.",
                "short",
                [Query(f"count(count by (namespace, pod) (gpu_pod_allocation_info{q}))")],
                width=4,
                height=4,
            ),
            Panel(
                "stat",
                "Model-serving pods",
                "Pods the exporter recognised as model servers (vLLM, SGLang, TGI, Triton, ...).",
                "short",
                [Query(f"count(gpu_model_serving_info{q}) or vector(0)")],
                width=4,
                height=4,
            ),
            Panel(
                "bargauge",
                "GPU-equivalents by namespace",
                "GPU-equivalents held by each namespace's pods now.",
                "short",
                [
                    Query(
                        "sum by (namespace) "
                        f"(namespace_pod_container:gpu_allocation_share:ratio{q})",
                        "{{namespace}}",
                    )
                ],
            ),
            Panel(
                "bargauge",
                "List-price cost per hour by namespace",
                "Each namespace's GPUs at list price per hour now." + LIST_PRICE_NOTE,
                "currencyUSD",
                [
                    Query(
                        "sum by (namespace) "
                        f"(namespace_pod_container:gpu_cost_usd_per_hour:list_price{q})",
                        "{{namespace}}",
                    )
                ],
            ),
            Panel(
                "timeseries",
                "GPU-equivalents allocated by namespace",
                "GPU-equivalents held by each namespace over time." + RULES_NOTE,
                "short",
                [
                    Query(
                        "sum by (namespace) "
                        f"(namespace_pod_container:gpu_allocation_share:ratio{q})",
                        "{{namespace}}",
                    )
                ],
            ),
            Panel(
                "timeseries",
                "List-price cost per hour by namespace",
                "Each namespace's GPU cost rate over time, at list price."
                + LIST_PRICE_NOTE
                + RULES_NOTE,
                "currencyUSD",
                [
                    Query(
                        "sum by (namespace) "
                        f"(namespace_pod_container:gpu_cost_usd_per_hour:list_price{q})",
                        "{{namespace}}",
                    )
                ],
            ),
            Panel(
                "timeseries",
                "GPU utilisation by pod",
                "Utilisation attributed to each pod (mean over its devices): the device's busy "
                "rate where it holds a whole GPU alone, else its processes' own SM utilisation. "
                "MIG instances have none." + RULES_NOTE,
                "percentunit",
                [
                    Query(
                        "avg by (namespace, pod) "
                        f"(namespace_pod_container:gpu_utilization:attributed{q})",
                        by_pod,
                    )
                ],
                minimum=0,
                maximum=1,
            ),
            Panel(
                "timeseries",
                "GPU memory by pod",
                "GPU memory attributed to each pod." + RULES_NOTE,
                "bytes",
                [
                    Query(
                        "sum by (namespace, pod) "
                        f"(namespace_pod_container:gpu_memory_used_bytes:attributed{q})",
                        by_pod,
                    )
                ],
            ),
            Panel(
                "table",
                "Pods",
                "Per pod: GPU-equivalents held, list-price cost per hour, attributed utilisation "
                "and GPU memory, devices held, and the served model if any.",
                "short",
                [
                    Query(
                        "sum by (namespace, pod) "
                        f"(namespace_pod_container:gpu_allocation_share:ratio{q})"
                    ),
                    Query(
                        "sum by (namespace, pod) "
                        f"(namespace_pod_container:gpu_cost_usd_per_hour:list_price{q})"
                    ),
                    Query(
                        "avg by (namespace, pod) "
                        f"(namespace_pod_container:gpu_utilization:attributed{q})"
                    ),
                    Query(
                        "sum by (namespace, pod) "
                        f"(namespace_pod_container:gpu_memory_used_bytes:attributed{q})"
                    ),
                    Query(
                        "count by (namespace, pod) "
                        f"(max by (namespace, pod, uuid, mig_uuid) (gpu_pod_allocation_info{q}))"
                    ),
                    Query(
                        "max by (namespace, pod, model_type, model_name) "
                        f"(gpu_model_serving_info{q})"
                    ),
                ],
                width=24,
                columns={
                    "Value #A": "GPU-equivalents",
                    "Value #B": "Cost per hour (list)",
                    "Value #C": "Utilisation",
                    "Value #D": "GPU memory",
                    "Value #E": "Devices",
                },
                column_units={
                    "Cost per hour (list)": "currencyUSD",
                    "Utilisation": "percentunit",
                    "GPU memory": "bytes",
                },
                hidden=("Value #F",),
            ),
            Panel(
                "timeseries",
                "CPU by pod",
                "CPU cores used by each pod's containers (cAdvisor).",
                "short",
                [
                    Query(
                        "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total"
                        f"{{{CONTAINERS}, {PODS}}}[$__rate_interval]))",
                        by_pod,
                    )
                ],
            ),
            Panel(
                "timeseries",
                "Memory by pod",
                "Working-set memory of each pod's containers (cAdvisor).",
                "bytes",
                [
                    Query(
                        "sum by (namespace, pod) (container_memory_working_set_bytes"
                        f"{{{CONTAINERS}, {PODS}}})",
                        by_pod,
                    )
                ],
            ),
            Panel(
                "bargauge",
                "Budget projection by namespace",
                "Projected monthly GPU cost over budget per namespace, from the analytics service "
                "(gpu_analytics_budget_projected_ratio; GpuBudgetExceeded fires above 100%).",
                "percentunit",
                [
                    Query(
                        'max by (name) (gpu_analytics_budget_projected_ratio{scope="namespace", '
                        'name=~"$namespace"})',
                        "{{name}}",
                    )
                ],
                width=24,
                red_from=1,
            ),
        ],
    )


def mig() -> Dashboard:
    d = f"{{{DEVICE}}}"
    md = f"{{{DEVICE}, {MIG_INSTANCE}}}"
    enabled = f'gpu_info{{{DEVICE}, mig_mode="enabled"}}'
    return Dashboard(
        "gpu-mig",
        "GPU MIG",
        "MIG-mode GPUs: how their compute is carved into instances, which instances pods hold, "
        "and the memory used and SM activity inside each instance.",
        ["node", "gpu"],
        [
            Panel(
                "stat",
                "GPUs in MIG mode",
                "Selected GPUs with MIG mode enabled.",
                "short",
                [Query(f"count({enabled}) or vector(0)")],
                width=4,
                height=4,
            ),
            Panel(
                "stat",
                "MIG instances",
                "MIG devices (GPU instance + compute instance) on the selected GPUs.",
                "short",
                [Query(f"count(gpu_mig_info{d}) or vector(0)")],
                width=4,
                height=4,
            ),
            Panel(
                "stat",
                "MIG instances held by pods",
                "MIG instances the kubelet has assigned to a container.",
                "short",
                [
                    Query(
                        "count(count by (mig_uuid) "
                        f'(gpu_pod_allocation_info{{{DEVICE}, mig_uuid!=""}})) or vector(0)'
                    )
                ],
                width=4,
                height=4,
            ),
            Panel(
                "gauge",
                "Compute carved into instances",
                "Compute slices in MIG instances over the compute slices of the MIG-mode GPUs "
                "(7 per GPU, 4 on an A30); the rest is unused by any profile.",
                "percentunit",
                [Query(f"sum(mig_uuid:gpu_mig_compute_share:catalogue{d}) / count({enabled})")],
                width=6,
                height=4,
                minimum=0,
                maximum=1,
            ),
            Panel(
                "gauge",
                "Compute held by pods",
                "Compute slices of MIG instances held by pods over the compute slices of the "
                "MIG-mode GPUs.",
                "percentunit",
                [
                    Query(
                        "sum(namespace_pod_container:gpu_allocation_share:ratio"
                        f'{{{DEVICE}, mig_uuid!=""}}) / count({enabled})'
                    )
                ],
                width=6,
                height=4,
                minimum=0,
                maximum=1,
            ),
            Panel(
                "bargauge",
                "Instances by profile",
                "MIG instances of each profile on the selected GPUs.",
                "short",
                [Query(f"count by (profile) (gpu_mig_info{d})", "{{profile}}")],
            ),
            Panel(
                "bargauge",
                "Compute carved per GPU",
                "Share of each MIG-mode GPU's compute slices that are in instances.",
                "percentunit",
                [
                    Query(
                        f"sum by (node, gpu) (mig_uuid:gpu_mig_compute_share:catalogue{d})",
                        "{{node}} GPU {{gpu}}",
                    )
                ],
                minimum=0,
                maximum=1,
            ),
            Panel(
                "table",
                "MIG instances",
                "Each MIG instance: profile, GPU and compute instance ids, memory used and in "
                "total, and the pod holding it.",
                "none",
                [
                    Query(
                        "max by (node, gpu, mig_uuid, profile, gpu_instance_id, "
                        f"compute_instance_id) (gpu_mig_info{d})"
                    ),
                    Query(f"max by (node, gpu, mig_uuid) (gpu_mig_memory_used_bytes{d})"),
                    Query(f"max by (node, gpu, mig_uuid) (gpu_mig_memory_total_bytes{d})"),
                    Query(
                        "max by (node, gpu, mig_uuid, namespace, pod) "
                        f'(gpu_pod_allocation_info{{{DEVICE}, mig_uuid!=""}})'
                    ),
                ],
                width=24,
                columns={"Value #B": "Memory used", "Value #C": "Memory total"},
                column_units={"Memory used": "bytes", "Memory total": "bytes"},
                hidden=("Value #A", "Value #D"),
                links={"pod": POD_LINK},
            ),
            Panel(
                "timeseries",
                "Memory used per instance",
                "Memory in use inside each MIG instance.",
                "bytes",
                [
                    Query(
                        f"max by (node, gpu, mig_uuid) (gpu_mig_memory_used_bytes{d}) "
                        "* on (mig_uuid) group_left (profile) "
                        f"max by (mig_uuid, profile) (gpu_mig_info{d})",
                        "{{node}} GPU {{gpu}} {{profile}} {{mig_uuid}}",
                    )
                ],
            ),
            Panel(
                "timeseries",
                "Memory used per instance, share",
                "Memory in use inside each MIG instance over the instance's memory.",
                "percentunit",
                [
                    Query(
                        f"max by (node, gpu, mig_uuid) (gpu_mig_memory_used_bytes{d}) "
                        f"/ max by (node, gpu, mig_uuid) (gpu_mig_memory_total_bytes{d})",
                        "{{node}} GPU {{gpu}} {{mig_uuid}}",
                    )
                ],
                minimum=0,
                maximum=1,
            ),
            Panel(
                "timeseries",
                "SM activity per instance",
                "Fraction of cycles each MIG instance's SMs had a warp "
                "(gpu_prof_sm_active_ratio per instance, GPM: Hopper and newer; NVML has no "
                "other utilisation per MIG instance). The analytics service judges idle "
                "instances by it.",
                "percentunit",
                [
                    Query(
                        f"max by (node, gpu, mig_uuid) (gpu_prof_sm_active_ratio{md}) "
                        "* on (mig_uuid) group_left (profile) "
                        f"max by (mig_uuid, profile) (gpu_mig_info{d})",
                        "{{node}} GPU {{gpu}} {{profile}} {{mig_uuid}}",
                    )
                ],
                minimum=0,
                maximum=1,
            ),
            Panel(
                "timeseries",
                "Tensor core and DRAM activity per instance",
                "Fraction of cycles each MIG instance's tensor cores were active, and its "
                "share of device-memory bandwidth in use (GPM).",
                "percentunit",
                [
                    Query(
                        f"max by (node, gpu, mig_uuid) (gpu_prof_tensor_active_ratio{md})",
                        "{{node}} GPU {{gpu}} {{mig_uuid}} tensor",
                    ),
                    Query(
                        "max by (node, gpu, mig_uuid) "
                        f"(gpu_prof_dram_bandwidth_utilization_ratio{md})",
                        "{{node}} GPU {{gpu}} {{mig_uuid}} DRAM",
                    ),
                ],
                minimum=0,
                maximum=1,
            ),
            Panel(
                "table",
                "Layout drift",
                "GPUs whose observed MIG layout differs from the one set through the analytics "
                "service (gpu_analytics_mig_layout_drift; GpuMigLayoutDrift fires after 15 "
                "minutes).",
                "none",
                [
                    Query(
                        f"max by (node, device_id) (gpu_analytics_mig_layout_drift{{{NODE}}}) == 1"
                    )
                ],
                width=24,
                height=6,
                hidden=("Value",),
            ),
        ],
    )


def allocations() -> Dashboard:
    q = f"{{{PODS}}}"
    return Dashboard(
        "gpu-allocations",
        "GPU allocations",
        "Which containers hold which GPUs, MIG instances and time-sliced replicas, as the kubelet "
        "assigned them (gpu_pod_allocation_info), what they cost at list price, and whether the "
        "GPUs held are used." + LIST_PRICE_NOTE,
        ["node", "namespace", "pod"],
        [
            Panel(
                "stat",
                "Containers holding GPUs",
                "Container-device assignments (a container holding two GPUs counts twice).",
                "short",
                [Query(f"count(gpu_pod_allocation_info{q}) or vector(0)")],
                width=4,
                height=4,
            ),
            Panel(
                "stat",
                "Whole GPUs held alone",
                "GPUs held whole by a single container.",
                "short",
                [
                    Query(
                        "count(count by (uuid) (gpu_pod_allocation_info"
                        f'{{{PODS}, mig_uuid="", sharing="exclusive"}})) or vector(0)'
                    )
                ],
                width=4,
                height=4,
            ),
            Panel(
                "stat",
                "Time-sliced GPUs",
                "GPUs shared by time-slicing (each counted once).",
                "short",
                [
                    Query(
                        "count(count by (uuid) (gpu_pod_allocation_info"
                        f'{{{PODS}, mig_uuid="", sharing="shared"}})) or vector(0)'
                    )
                ],
                width=4,
                height=4,
            ),
            Panel(
                "stat",
                "MIG instances held",
                "MIG instances assigned to containers.",
                "short",
                [
                    Query(
                        "count(count by (mig_uuid) "
                        f'(gpu_pod_allocation_info{{{PODS}, mig_uuid!=""}})) or vector(0)'
                    )
                ],
                width=4,
                height=4,
            ),
            Panel(
                "stat",
                "Unallocated GPUs",
                "GPUs not in MIG mode that no container holds.",
                "short",
                [
                    Query(
                        f'count(max by (uuid) (gpu_info{{{NODE}, mig_mode!="enabled"}}) '
                        "unless on (uuid) max by (uuid) (gpu_pod_allocation_info)) or vector(0)"
                    )
                ],
                width=4,
                height=4,
            ),
            Panel(
                "gauge",
                "Fleet allocated",
                "GPU-equivalents held by pods over the GPUs of the selected nodes.",
                "percentunit",
                [
                    Query(
                        f"sum(uuid:gpu_allocation_share:sum{{{NODE}}}) / count(gpu_info{{{NODE}}})"
                    )
                ],
                width=4,
                height=4,
                minimum=0,
                maximum=1,
            ),
            Panel(
                "bargauge",
                "Assignments by resource",
                "Container-device assignments per extended resource (nvidia.com/gpu, "
                "nvidia.com/gpu.shared, nvidia.com/mig-<profile>, ...).",
                "short",
                [Query(f"count by (resource) (gpu_pod_allocation_info{q})", "{{resource}}")],
            ),
            Panel(
                "timeseries",
                "Assignments by namespace",
                "Container-device assignments per namespace over time.",
                "short",
                [Query(f"count by (namespace) (gpu_pod_allocation_info{q})", "{{namespace}}")],
            ),
            Panel(
                "table",
                "Assignments",
                "Every container-device assignment with its share of the physical GPU and its "
                "list-price cost per hour. Click a pod for its usage.",
                "none",
                [
                    Query(
                        "max by (node, namespace, pod, container, gpu, uuid, mig_uuid, resource, "
                        f"sharing) (gpu_pod_allocation_info{q})"
                    ),
                    Query(
                        "max by (node, namespace, pod, container, gpu, uuid, mig_uuid) "
                        f"(namespace_pod_container:gpu_allocation_share:ratio{q})"
                    ),
                    Query(
                        "max by (node, namespace, pod, container, gpu, uuid, mig_uuid) "
                        f"(namespace_pod_container:gpu_cost_usd_per_hour:list_price{q})"
                    ),
                ],
                width=24,
                columns={"Value #B": "Share of GPU", "Value #C": "Cost per hour (list)"},
                column_units={"Share of GPU": "percentunit", "Cost per hour (list)": "currencyUSD"},
                hidden=("Value #A",),
                links={"pod": POD_LINK},
            ),
            Panel(
                "table",
                "Use of GPUs held whole (last hour)",
                "Busy fraction over the last hour of each GPU a container holds whole, lowest "
                "first; under 5% for an hour raises GpuAllocatedIdle. MIG instances report no "
                "utilisation.",
                "percentunit",
                [
                    Query(
                        "max by (node, gpu, uuid, namespace, pod) "
                        f'(gpu_pod_allocation_info{{{PODS}, mig_uuid=""}}) '
                        "* on (uuid) group_left () "
                        "max by (uuid) (rate(gpu_busy_seconds_total[1h]))"
                    )
                ],
                width=12,
                red_below=0.05,
                columns={"Value": "Busy (1h)"},
                sort_by="Busy (1h)",
                links={"pod": POD_LINK},
            ),
            Panel(
                "table",
                "Planned releases",
                "When each allocation of the analytics ledger is due to be released "
                "(gpu_analytics_allocation_planned_release_timestamp_seconds; "
                "GpuAllocationExpiring fires in its last hour).",
                "dateTimeAsIso",
                [
                    Query(
                        "max by (allocation_id, namespace, pod) "
                        "(gpu_analytics_allocation_planned_release_timestamp_seconds"
                        f"{{{NAMESPACE}, {POD}}}) * 1000"
                    )
                ],
                width=12,
                columns={"Value": "Planned release"},
            ),
        ],
    )


DASHBOARDS = (cluster_overview, node_detail, namespaces_pods, mig, allocations)


def render() -> dict[Path, str]:
    """Every dashboard file and its JSON text."""
    files = {}
    for build in DASHBOARDS:
        dashboard = build()
        files[HERE / dashboard.filename] = (
            json.dumps(dashboard.render(), indent=2, ensure_ascii=False) + "\n"
        )
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    wanted = render()
    stale = [path.name for path, text in wanted.items() if _read(path) != text]
    extra = sorted(p.name for p in HERE.glob("*.json") if p not in wanted)
    if args.check:
        if stale or extra:
            print(
                f"stale: {', '.join(stale) or '-'}; not generated: {', '.join(extra) or '-'}; "
                "run .venv/bin/python dashboards/generate.py",
                file=sys.stderr,
            )
            return 1
        return 0
    for path, text in wanted.items():
        if path.name in stale:
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


if __name__ == "__main__":
    raise SystemExit(main())
