"""MIG GPU-instance profiles per GPU model: slices, placements, NVML ids.

Profiles, slices, counts and placements follow NVIDIA's MIG user guide
(https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-mig-profiles.html); the ids
are NVML's GPU-instance profile ids (``nvmlGpuInstanceProfileInfo_t.id``, the ID column of
``nvidia-smi mig -lgip``; https://docs.nvidia.com/deploy/nvml-api/).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MigProfile:
    name: str  # e.g. "1g.10gb" or "1g.10gb+me"
    compute_slices: int  # C
    memory_slices: int  # M (consecutive)
    max_count: int
    allowed_starts: tuple[int, ...]
    nvml_profile_id: int  # the profile id NVML reports (the ID column of `nvidia-smi mig -lgip`)
    memory_gb: float

    @property
    def resource_name(self) -> str:
        """The device plugin's mixed-strategy resource (``+`` becomes ``.``)."""
        return "nvidia.com/mig-" + self.name.replace("+", ".")


# (pattern C, M, max, starts, NVML profile id); names per model below, in this row order.
_PATTERN: tuple[tuple[int, int, int, tuple[int, ...], int], ...] = (
    (1, 1, 7, (0, 1, 2, 3, 4, 5, 6), 19),  # 1g small
    (1, 1, 1, (0, 1, 2, 3, 4, 5, 6), 20),  # 1g small + media engines
    (1, 2, 4, (0, 2, 4, 6), 15),  # 1g double memory
    (2, 2, 3, (0, 2, 4), 14),  # 2g
    (3, 4, 2, (0, 4), 9),  # 3g
    (4, 4, 1, (0,), 5),  # 4g
    (7, 8, 1, (0,), 0),  # 7g
)

_NAMES: dict[str, tuple[str, ...]] = {
    "A100_40GB": ("1g.5gb", "1g.5gb+me", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"),
    "A100_80GB": ("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100_80GB": ("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H200_141GB": (
        "1g.18gb",
        "1g.18gb+me",
        "1g.35gb",
        "2g.35gb",
        "3g.71gb",
        "4g.71gb",
        "7g.141gb",
    ),
}

# Memory slices on a MIG-capable GPU (the A30 has 4 compute and 4 memory slices).
TOTAL_COMPUTE_SLICES = {"A30_24GB": 4}
TOTAL_MEMORY_SLICES = {"A30_24GB": 4}
DEFAULT_COMPUTE_SLICES = 7
DEFAULT_MEMORY_SLICES = 8


def _memory_gb(name: str) -> float:
    return float(name.split(".")[1].split("+", maxsplit=1)[0].removesuffix("gb"))


def _build() -> dict[str, tuple[MigProfile, ...]]:
    table: dict[str, tuple[MigProfile, ...]] = {}
    for model_id, names in _NAMES.items():
        table[model_id] = tuple(
            MigProfile(name, c, m, mx, starts, pid, _memory_gb(name))
            for name, (c, m, mx, starts, pid) in zip(names, _PATTERN, strict=True)
        )
    table["A30_24GB"] = (
        MigProfile("1g.6gb", 1, 1, 4, (0, 1, 2, 3), 19, 6.0),
        MigProfile("1g.6gb+me", 1, 1, 1, (0, 1, 2, 3), 20, 6.0),
        MigProfile("2g.12gb", 2, 2, 2, (0, 2), 14, 12.0),
        MigProfile("2g.12gb+me", 2, 2, 1, (0, 2), 21, 12.0),
        MigProfile("4g.24gb", 4, 4, 1, (0,), 5, 24.0),
    )
    return table


_PROFILES = _build()


def mig_profiles(model_id: str) -> tuple[MigProfile, ...]:
    """The GPU-instance profiles of a model; empty for models without MIG."""
    return _PROFILES.get(model_id, ())


def total_slices(model_id: str) -> tuple[int, int]:
    """(compute slices, memory slices) of a MIG-capable model."""
    return (
        TOTAL_COMPUTE_SLICES.get(model_id, DEFAULT_COMPUTE_SLICES),
        TOTAL_MEMORY_SLICES.get(model_id, DEFAULT_MEMORY_SLICES),
    )
