"""``gpuctl mig plan``: a pre-check of MIG profiles against a GPU's current layout.

The service validates a layout exactly (a placement search on the model's real geometry) when
it is applied; this pre-check only catches what the client can see without that geometry:
profile names, MIG support, and whether the compute slices (of 7) and memory (GB) left on the
GPU can hold the request at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from k8s_gpu_client.models.devices import Device
from k8s_gpu_client.models.mig import MigLayout

PROFILE = re.compile(r"^(?P<compute>[1-7])g\.(?P<memory>\d+)gb(?:\+me)?$")
COMPUTE_SLICES = 7
MEMORY_SLICES = 8


@dataclass
class MigPlan:
    device_id: str
    model_id: str | None
    current_layout: list[str]
    requested: list[str]
    compute_slices_free: int
    memory_gb_free: float
    compute_slices_requested: int = 0
    memory_gb_requested: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not self.problems


def plan_layout(device: Device, layout: MigLayout, profiles: Sequence[str]) -> MigPlan:
    device_id = device.device_id or layout.device_id or "?"
    used_compute = sum(i.compute_slices or 0 for i in layout.instances)
    free_memory_slices = len(layout.free_memory_slices)
    memory_gb = device.memory_gb or 0.0
    plan = MigPlan(
        device_id=device_id,
        model_id=device.model_id,
        current_layout=list(layout.desired_layout),
        requested=list(profiles),
        compute_slices_free=max(0, COMPUTE_SLICES - used_compute),
        memory_gb_free=round(memory_gb * free_memory_slices / MEMORY_SLICES, 1),
    )
    if device.mig_support is False:
        plan.problems.append(
            f"{device.model_id} has no MIG (the service answers MIG_NOT_SUPPORTED)"
        )
    for profile in profiles:
        match = PROFILE.match(profile)
        if match is None:
            plan.problems.append(f"{profile!r} is not a MIG profile name like 1g.10gb")
            continue
        plan.compute_slices_requested += int(match["compute"])
        plan.memory_gb_requested += float(match["memory"])
    if plan.compute_slices_requested > plan.compute_slices_free:
        plan.problems.append(
            f"needs {plan.compute_slices_requested} compute slices, "
            f"{plan.compute_slices_free} of {COMPUTE_SLICES} are free"
        )
    if memory_gb and plan.memory_gb_requested > plan.memory_gb_free + 0.5:
        plan.problems.append(
            f"needs {plan.memory_gb_requested:g} GB, about {plan.memory_gb_free:g} GB is free"
        )
    return plan
