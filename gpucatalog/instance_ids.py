"""NVML's GPU-instance ids and the memory slices they stand for (MIG placement).

NVML numbers the placements of a GPU instance from the largest size down (NVIDIA MIG user
guide, "GPU Instance" placements; ``nvmlDeviceGetGpuInstancePossiblePlacements_v2``).
"""

from __future__ import annotations

from collections.abc import Sequence


def start_slice_for(
    gpu_instance_id: int,
    memory_slices: int,
    total_memory_slices: int,
    allowed_starts: Sequence[int] | None = None,
) -> int | None:
    """The first memory slice of a GPU instance from its NVML id.

    NVML numbers placements from the largest size down: on an 8-slice GPU 7g is 0, the two
    4-slice places 1-2, the four 2-slice places 3-6, the seven 1-slice places 7-13 (a 1g at
    slice 6 is GI 13). None when the id does not fit the profile's size.
    """
    if memory_slices <= 0 or total_memory_slices <= 0:
        return None
    first_id = total_memory_slices // memory_slices - 1
    position = gpu_instance_id - first_id
    start = position * memory_slices
    if position < 0 or start + memory_slices > total_memory_slices:
        return None
    if allowed_starts is not None and start not in allowed_starts:
        return None
    return start
