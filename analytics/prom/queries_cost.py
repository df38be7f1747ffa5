"""PromQL builders of the cost endpoints: GPU-hours and MIG slice-hours per pod and per device.

Every number is an aggregate over a window computed in Prometheus: a *subquery* evaluates an
instant expression at every ``resolution`` step of the window (steps at multiples of the
resolution, ending at ``end``), and ``sum_over_time``/``count_over_time`` add the steps up, so
one row comes back per pod and device, never the samples. A step stands for ``resolution``
seconds: steps x resolution / 3600 are hours.

* **Who holds what**: ``gpu_pod_allocation_info`` (the kubelet's assignment, one series per
  container and device; a MIG instance has ``mig_uuid``). A pod's share of a unit (a whole GPU
  or a MIG instance) at a step is 1 / the number of pods holding that unit then, so pods
  time-sharing a GPU split it and shares never add up to more than the unit.
* **Idle**: a whole GPU is idle at a step when its utilisation then is below the threshold:
  SM activity where the GPU reports it, else utilization.gpu (analytics.prom.utilization); the
  mean over the step when the step is shorter than an hour, else the hourly recording rules
  (reading raw samples for every hour of a month would cost Prometheus tens of millions of
  samples). A MIG instance is idle when its SM activity is below the threshold; where it has
  none (GPUs before Hopper: NVML has no utilisation per MIG instance), when the memory in use
  inside it is (no process holds memory there).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from analytics.prom import utilization as util
from analytics.prom.promql import regex_alternatives, seconds, tagged
from analytics.prom.queries import RULE_UTILIZATION_AVG

STAT = "stat"
HOUR_S = 3600
# Windows up to this long are read at a 5-minute resolution, longer ones hourly.
FINE_WINDOW_LIMIT_S = 3 * 86400
FINE_RESOLUTION_S = 300
COARSE_RESOLUTION_S = HOUR_S

_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")
# Whole GPUs and MIG instances, as units of the pod attribution.
_WHOLE = 'mig_uuid=""'
_MIG = 'mig_uuid!=""'
_UNIT = "uuid, mig_uuid"


def resolution_seconds(window_seconds: int) -> int:
    """The step of a window's subqueries."""
    return FINE_RESOLUTION_S if window_seconds <= FINE_WINDOW_LIMIT_S else COARSE_RESOLUTION_S


def pod_label(kubernetes_label: str) -> str:
    """kube-state-metrics' label for a pod label: ``team`` -> ``label_team``."""
    return "label_" + _LABEL_CHARS.sub("_", kubernetes_label)


def _over(function: str, expr: str, window_s: int, resolution_s: int, end: float) -> str:
    # A range includes both ends in Prometheus 2.x: one second less keeps the step at the
    # window's start out, so a window holds exactly window / resolution steps (as in 3.x).
    window = seconds(window_s - 1)
    return f"{function}(({expr})[{window}:{seconds(resolution_s)}] @ {end:.3f})"


def utilization_per_step(resolution_s: int) -> str:
    """Each GPU's utilisation during a step (0-1), by uuid: SM activity where it has it."""
    return util.gpu_utilization_per_step(resolution_s, RULE_UTILIZATION_AVG)


def _holders(matcher: str = "") -> str:
    selector = f"gpu_pod_allocation_info{{{matcher}}}" if matcher else "gpu_pod_allocation_info"
    return f"max by (node, namespace, pod, {_UNIT}) ({selector})"


def _share(matcher: str = "") -> str:
    holders = _holders(matcher)
    return f"({holders} / on({_UNIT}) group_left() count by ({_UNIT}) ({holders}))"


def _mig_idle(threshold: float, resolution_s: int) -> str:
    """1 at a step where a MIG instance was idle, else 0, by (uuid, mig_uuid)."""
    used = f"max by ({_UNIT}) (gpu_mig_memory_used_bytes)"
    total = f"max by ({_UNIT}) (gpu_mig_memory_total_bytes)"
    by_activity = f"{util.mig_sm_active_per_step(resolution_s)} < bool {threshold:g}"
    return util.preferred(by_activity, f"{used} / {total} < bool {threshold:g}")


def pod_usage(window_s: int, resolution_s: int, end: float, idle_threshold: float) -> str:
    """Per pod and unit: share-weighted steps held (``held``) and held while idle (``idle``),
    and the pod's peak GPU memory on the unit in bytes (``memory_peak``)."""
    utilization = utilization_per_step(resolution_s)
    idle_whole = (
        f"{_share(_WHOLE)} * on(uuid) group_left() ({utilization} < bool {idle_threshold:g})"
    )
    idle_mig = (
        f"{_share(_MIG)} * on({_UNIT}) group_left() ({_mig_idle(idle_threshold, resolution_s)})"
    )
    memory = f"max by (namespace, pod, {_UNIT}) (gpu_pod_memory_used_bytes)"
    return tagged(
        {
            "held": _over("sum_over_time", _share(), window_s, resolution_s, end),
            "idle": _over(
                "sum_over_time", f"({idle_whole}) or ({idle_mig})", window_s, resolution_s, end
            ),
            "memory_peak": _over("max_over_time", memory, window_s, resolution_s, end),
        },
        label=STAT,
    )


def device_usage(window_s: int, resolution_s: int, end: float, idle_threshold: float) -> str:
    """Per GPU (and per MIG instance) over the window, tagged by ``stat``.

    ``present``: steps the exporter reported the GPU (with ``node``, ``gpu``, ``model_name``);
    ``held`` / ``idle``: steps a pod held the whole GPU, and held it while it was idle;
    ``utilization_mean`` / ``utilization_peak``: over the steps with a reading;
    ``memory_peak`` / ``memory_total``: device memory, bytes;
    ``sm_active``: steps the GPU reported SM activity (its utilisation's source);
    ``mig_present`` (with ``profile`` and ``gpu_instance_id``), ``mig_held``, ``mig_idle``:
    steps per MIG instance; ``mig_utilization_mean`` / ``mig_utilization_peak``: its SM
    activity, where it has any.
    """
    utilization = utilization_per_step(resolution_s)
    held_whole = f"max by (uuid) (gpu_pod_allocation_info{{{_WHOLE}}})"
    held_mig = f"max by ({_UNIT}) (gpu_pod_allocation_info{{{_MIG}}})"
    mig_info = f"max by ({_UNIT}, profile, gpu_instance_id) (gpu_mig_info)"
    parts = {
        "present": "max by (node, gpu, uuid, model_name) (gpu_info)",
        "held": held_whole,
        "idle": f"{held_whole} and on(uuid) ({utilization} < {idle_threshold:g})",
        "mig_present": mig_info,
        "mig_held": held_mig,
        "mig_idle": f"{held_mig} and on({_UNIT}) (({_mig_idle(idle_threshold, resolution_s)}) == 1)",
        "sm_active": util.gpu_sm_active_per_step(resolution_s),
    }
    mig_activity = util.mig_sm_active_per_step(resolution_s)
    counted = {
        stat: _over("count_over_time", expr, window_s, resolution_s, end)
        for stat, expr in parts.items()
    }
    return tagged(
        {
            **counted,
            "utilization_mean": _over("avg_over_time", utilization, window_s, resolution_s, end),
            "utilization_peak": _over("max_over_time", utilization, window_s, resolution_s, end),
            "mig_utilization_mean": _over(
                "avg_over_time", mig_activity, window_s, resolution_s, end
            ),
            "mig_utilization_peak": _over(
                "max_over_time", mig_activity, window_s, resolution_s, end
            ),
            "memory_peak": _over(
                "max_over_time",
                "max by (uuid) (gpu_memory_used_bytes)",
                window_s,
                resolution_s,
                end,
            ),
            "memory_total": _over(
                "max_over_time",
                "max by (uuid) (gpu_memory_total_bytes)",
                window_s,
                resolution_s,
                end,
            ),
        },
        label=STAT,
    )


def pod_owners(window_s: int, resolution_s: int, end: float, labels: Mapping[str, str]) -> str:
    """The team/user/project pod labels (``labels``: role -> Kubernetes label) of every pod that
    held a GPU in the window, as their last value in the window."""
    names = ", ".join(pod_label(label) for label in labels.values())
    pods = _over(
        "max_over_time",
        "max by (namespace, pod) (gpu_pod_allocation_info)",
        window_s,
        resolution_s,
        end,
    )
    owners = _over(
        "last_over_time",
        f"max by (namespace, pod, {names}) (kube_pod_labels)",
        window_s,
        resolution_s,
        end,
    )
    return f"{owners} and on(namespace, pod) {pods}"


def holdings_now(end: float, pods: Mapping[str, list[str]] | None = None) -> str:
    """What each pod holds at ``end`` (optionally only these pods, by namespace)."""
    selector = "gpu_pod_allocation_info"
    if pods:
        namespaces = regex_alternatives(pods)
        names = regex_alternatives([name for group in pods.values() for name in group])
        selector += f"{{namespace=~{namespaces},pod=~{names}}}"
    return (
        f"max by (node, gpu, namespace, pod, {_UNIT}) (last_over_time({selector}[5m] @ {end:.3f}))"
    )
