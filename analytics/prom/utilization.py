"""Which utilisation a query reads: SM activity where a GPU or MIG instance reports it, NVML's
utilization.gpu elsewhere, decided per device.

NVML's utilization.gpu (``gpu_utilization_ratio``, ``rate(gpu_busy_seconds_total)``) is the
fraction of time *any* kernel ran: one warp on one SM reads as 100%. SM activity
(``gpu_prof_sm_active_ratio``, from GPM on Hopper and newer: the fraction of cycles an SM had a
warp, averaged over the SMs) says how much of the GPU the work used, and it exists per MIG
instance too (``mig_uuid`` set), where utilization.gpu does not. So every utilisation the
analytics service reports prefers it, device by device, and says which one it used
(:data:`SM_ACTIVE` or :data:`GPU_UTILIZATION`).

Every builder here returns an expression aggregated to the labels its caller names, so that
``or`` (:func:`preferred`) keeps a device's SM-activity series and adds utilization.gpu only for
devices without one.
"""

from __future__ import annotations

from analytics.prom.promql import seconds

# The source names a response reports (utilizationSource).
SM_ACTIVE = "SM_ACTIVE"
GPU_UTILIZATION = "GPU_UTILIZATION"
SOURCES = (SM_ACTIVE, GPU_UTILIZATION)

SM_ACTIVE_RATIO = "gpu_prof_sm_active_ratio"
WHOLE_GPU = 'mig_uuid=""'
MIG_INSTANCE = 'mig_uuid!=""'
# Hourly means of SM activity (alerts/recording-rules.yml, group gpu-profiling-hourly), for
# long windows: whole GPUs by (node, gpu, uuid); MIG instances by (node, gpu, uuid, mig_uuid).
RULE_SM_ACTIVE_AVG = "uuid:gpu_prof_sm_active_ratio:avg1h"
RULE_MIG_SM_ACTIVE_AVG = "mig_uuid:gpu_prof_sm_active_ratio:avg1h"
HOUR_S = 3600


def source(has_sm_active: bool) -> str:
    """The source name for a device that has (or lacks) SM activity."""
    return SM_ACTIVE if has_sm_active else GPU_UTILIZATION


def preferred(sm_active: str, utilization: str) -> str:
    """SM activity where a device has it, utilization.gpu for the others. Both sides must be
    aggregated to the same labels (``or`` matches whole label sets). Parenthesised whole: ``or``
    binds more loosely than any comparison a caller appends."""
    return f"(({sm_active}) or ({utilization}))"


def whole_gpu_sm_active(matchers: str = "") -> str:
    """The selector of whole GPUs' SM activity (``matchers``: more, comma-separated)."""
    inside = ",".join(m for m in (matchers, WHOLE_GPU) if m)
    return f"{SM_ACTIVE_RATIO}{{{inside}}}"


def mig_sm_active() -> str:
    """The selector of MIG instances' SM activity."""
    return f"{SM_ACTIVE_RATIO}{{{MIG_INSTANCE}}}"


def gpu_sm_active_per_step(resolution_s: int) -> str:
    """Each whole GPU's SM activity during a step (0-1), by uuid; absent where it has none."""
    if resolution_s < HOUR_S:
        return f"max by (uuid) (avg_over_time({whole_gpu_sm_active()}[{seconds(resolution_s)}]))"
    return f"max by (uuid) (last_over_time({RULE_SM_ACTIVE_AVG}[1h]))"


def mig_sm_active_per_step(resolution_s: int) -> str:
    """Each MIG instance's SM activity during a step (0-1), by (uuid, mig_uuid)."""
    if resolution_s < HOUR_S:
        return (
            f"max by (uuid, mig_uuid) (avg_over_time({mig_sm_active()}[{seconds(resolution_s)}]))"
        )
    return f"max by (uuid, mig_uuid) (last_over_time({RULE_MIG_SM_ACTIVE_AVG}[1h]))"


def gpu_utilization_per_step(resolution_s: int, rule_utilization_avg: str) -> str:
    """Each GPU's utilisation during a step (0-1), by uuid: SM activity where the GPU has it,
    utilization.gpu (its hourly rule ``rule_utilization_avg`` for hourly steps) elsewhere."""
    if resolution_s < HOUR_S:
        nvml = f"max by (uuid) (avg_over_time(gpu_utilization_ratio[{seconds(resolution_s)}]))"
    else:
        nvml = f"max by (uuid) (last_over_time({rule_utilization_avg}[1h]))"
    return preferred(gpu_sm_active_per_step(resolution_s), nvml)
