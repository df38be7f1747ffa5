"""The four-way split of a GPU's cost and the shares of its MIG instances: pure arithmetic.

For every GPU, price x hours present = used + allocated-but-idle + unallocated + stranded:

* whole GPU: held-and-busy steps are *used*, held-and-idle steps *allocated but idle*, steps no
  pod held it *unallocated*; nothing is stranded.
* MIG GPU: each instance carries its share of the GPU (the ``mig_pricing`` rule: C/7, M/8 or
  the larger); its held-busy, held-idle and unheld steps go to used, idle and unallocated. The
  share of the slices that no further instance could ever use (gpucatalog.stranded_slices:
  e.g. four 1g.20gb take all eight memory slices and leave three compute slices that no
  profile can reach) is *stranded* for every step; what is left (free slices a new instance
  could use) is *unallocated*. If the shares of a layout add up to more than the whole GPU
  (possible with the ``max`` rule), they are scaled down so that they add up to one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from analytics.services.cost.usage import DeviceUsage, MigUsage
from analytics.services.kernel.pricing import mig_share
from analytics.settings import MigPricing
from gpucatalog import MigLayoutError, Placement, mig_profiles, stranded_slices
from gpucatalog.instance_ids import start_slice_for
from gpucatalog.mig import total_slices


@dataclass(frozen=True)
class LayoutShares:
    """The shares of one MIG layout, fractions of the GPU that add up to at most one."""

    instance_shares: dict[str, float]  # by mig_uuid
    stranded_share: float
    placements: list[str] = field(default_factory=list)  # "profile@start", by start
    stranded_compute_slices: int = 0
    stranded_memory_slices: list[int] = field(default_factory=list)
    free_compute_slices: int = 0
    free_memory_slices: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Split:
    """USD over the window."""

    used: float = 0.0
    idle: float = 0.0
    unallocated: float = 0.0
    stranded: float = 0.0

    @property
    def total(self) -> float:
        return self.used + self.idle + self.unallocated + self.stranded

    def __add__(self, other: Split) -> Split:
        return Split(
            self.used + other.used,
            self.idle + other.idle,
            self.unallocated + other.unallocated,
            self.stranded + other.stranded,
        )


def layout_shares(model_id: str, instances: Sequence[MigUsage], rule: MigPricing) -> LayoutShares:
    """Shares of a GPU's MIG instances and of its stranded slices under ``rule``."""
    profiles = {p.name: p for p in mig_profiles(model_id)}
    if not profiles:
        return LayoutShares({}, 0.0)
    total_compute, total_memory = total_slices(model_id)
    shares: dict[str, float] = {}
    placements: list[Placement] = []
    for instance in instances:
        profile = profiles.get(instance.profile)
        if profile is None:
            continue
        shares[instance.mig_uuid] = mig_share(
            model_id, profile.compute_slices, profile.memory_slices, rule
        )
        if instance.gpu_instance_id is not None:
            start = start_slice_for(
                instance.gpu_instance_id,
                profile.memory_slices,
                total_memory,
                profile.allowed_starts,
            )
            if start is not None:
                placements.append(
                    Placement(profile.name, start, profile.memory_slices, profile.compute_slices)
                )
    stranded_share = 0.0
    found = None
    # Stranded slices need every instance's position; without them nothing is called stranded.
    if placements and len(placements) == len(shares):
        try:
            found = stranded_slices(model_id, placements)
        except MigLayoutError:
            found = None
    if found is not None:
        compute = found["computeSlices"] / total_compute
        memory = len(found["memorySlices"]) / total_memory
        stranded_share = {"compute": compute, "memory": memory}.get(rule, max(compute, memory))
    whole = sum(shares.values()) + stranded_share
    if whole > 1.0:
        shares = {k: v / whole for k, v in shares.items()}
        stranded_share /= whole
    ordered = sorted(placements, key=lambda p: p.start)
    return LayoutShares(
        instance_shares=shares,
        stranded_share=stranded_share,
        placements=[f"{p.profile}@{p.start}" for p in ordered],
        stranded_compute_slices=found["computeSlices"] if found else 0,
        stranded_memory_slices=list(found["memorySlices"]) if found else [],
        free_compute_slices=found["freeComputeSlices"] if found else 0,
        free_memory_slices=list(found["freeMemorySlices"]) if found else [],
    )


def split_device(
    device: DeviceUsage, price_per_hour: float, step_hours: float, layout: LayoutShares | None
) -> Split:
    """The GPU's cost over the window in four parts that add up to price x hours present."""
    total = price_per_hour * device.present_steps * step_hours
    if layout is None or not layout.instance_shares:
        used = price_per_hour * max(device.held_steps - device.idle_steps, 0.0) * step_hours
        idle = price_per_hour * device.idle_steps * step_hours
        return Split(used, idle, max(total - used - idle, 0.0), 0.0)
    used = idle = 0.0
    for mig_uuid, share in layout.instance_shares.items():
        instance = device.mig.get(mig_uuid)
        if instance is None:
            continue
        unit = price_per_hour * share * step_hours
        used += unit * max(instance.held_steps - instance.idle_steps, 0.0)
        idle += unit * instance.idle_steps
    stranded = price_per_hour * layout.stranded_share * device.present_steps * step_hours
    return Split(used, idle, max(total - used - idle - stranded, 0.0), stranded)
