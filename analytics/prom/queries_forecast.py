"""PromQL builders of the forecast endpoints: hourly cluster-level series for range queries.

Each query is meant for a range query at a one-hour step (STEP_SECONDS) over up to 30 days and
answers a handful of aggregated series, never per-device samples: per-model GPU series read the
model-hourly rules of ``alerts/recording-rules.yml`` (``last_over_time(rule[1h])`` at a step T
is the rule's newest evaluation in the hour before T, at the group's offset, backfilled or
live); utilisation, CPU and memory read the minutely cluster rules through ``avg_over_time``
over one hour, so each point is that hour's mean. Parts are tagged
(analytics.prom.queries_resources.tagged; the services run one range query per part, side by
side); per-model parts carry ``model_name`` (the
NVML product name of ``gpu_info``). Capacities (GPUs, their memory, allocatable CPU and memory)
are read now, with an instant query beside the range query.
"""

from __future__ import annotations

import math

from analytics.prom import queries_resources
from analytics.prom.promql import tagged

STEP_SECONDS = 3600
# The label naming each part of a tagged query (the services read q.TAG).
TAG = queries_resources.TAG


def hourly_window(now: float, history_hours: int) -> tuple[float, float]:
    """(start, end) of a range query ending at the last whole hour, ``history_hours`` points."""
    if history_hours < 1:
        raise ValueError("history_hours must be at least 1")
    end = math.floor(now / STEP_SECONDS) * STEP_SECONDS
    return end - (history_hours - 1) * STEP_SECONDS, end


def gpu_inventory() -> str:
    """For an instant query: per model_name, gpus (GPUs reported) and memory_total (bytes)."""
    return tagged(
        {
            "gpus": "count by (model_name) (max by (uuid, model_name) (gpu_info))",
            "memory_total": "sum by (model_name) (max by (uuid) (gpu_memory_total_bytes) "
            "* on (uuid) group_left (model_name) max by (uuid, model_name) (gpu_info))",
        },
        queries_resources.TAG,
    )


# Group model-hourly of alerts/recording-rules.yml: per model_name, once an hour.
MODEL_ALLOCATED_RULE = "model_name:gpu_allocated:count"
MODEL_MEMORY_USED_RULE = "model_name:gpu_memory_used_bytes:sum_avg1h"


def gpu_parts() -> dict[str, str]:
    """For a range query: utilization (mean over the GPUs that report one, 0-1, the hour's mean
    of the minutely fleet mean); per model (label model_name): allocated (GPUs with at least
    one container holding the GPU or one of its MIG instances) and memory_used (bytes, the
    model's GPUs' hourly means summed), each the newest evaluation of the model-hourly rules
    in the hour before a point. A few series per model whatever the fleet size."""
    return {
        "utilization": f"avg_over_time({queries_resources.STATISTICS_RULES['gpu']}[1h])",
        "allocated": f"last_over_time({MODEL_ALLOCATED_RULE}[1h])",
        "memory_used": f"last_over_time({MODEL_MEMORY_USED_RULE}[1h])",
    }


def part_query(name: str, expr: str) -> str:
    """One part as a query of its own, tagged as in the union (so the services can run the
    parts side by side)."""
    return tagged({name: expr}, queries_resources.TAG)


def gpu_series() -> str:
    """The hourly history /gpu/forecast learns from, in one range query (see gpu_parts)."""
    return tagged(gpu_parts(), queries_resources.TAG)


def resource_parts() -> dict[str, str]:
    """For a range query: cpu_cores (used by containers, hourly mean), memory_bytes
    (containers' working set, hourly mean), gpu_utilization (0-1, as in gpu_parts). CPU and
    memory are the hours' means of the minutely cluster rules (queries_resources): 60 samples
    a point whatever the number of containers."""
    return {
        "cpu_cores": f"avg_over_time({queries_resources.CPU_CORES_RULE}[1h])",
        "memory_bytes": f"avg_over_time({queries_resources.MEMORY_BYTES_RULE}[1h])",
        "gpu_utilization": gpu_parts()["utilization"],
    }


def resource_capacity() -> str:
    """For an instant query: cpu_allocatable (cores) and memory_allocatable (bytes)."""
    return tagged(
        {
            "cpu_allocatable": 'sum(kube_node_status_allocatable{resource="cpu"})',
            "memory_allocatable": 'sum(kube_node_status_allocatable{resource="memory"})',
        },
        queries_resources.TAG,
    )
