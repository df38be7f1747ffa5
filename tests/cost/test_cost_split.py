"""The four-way split and MIG shares (analytics.services.cost.split): arithmetic on records."""

from __future__ import annotations

import pytest

from analytics.services.cost.split import layout_shares, split_device
from analytics.services.cost.usage import DeviceUsage, MigUsage

# GPU-instance ids the driver gives A100 80GB placements (the GPU instance ID column of
# `nvidia-smi mig -lgi`): 1g.20gb at 0/2/4/6 -> 3..6, 3g.40gb at 0/4 -> 1/2, 4g.40gb at 0 -> 1,
# 2g.20gb at 4 -> 5, 1g.10gb at 6 -> 13.
FOUR_DOUBLE = [MigUsage(f"m{i}", "1g.20gb", 3 + i) for i in range(4)]
THREE_TWO_ONE = [
    MigUsage("a", "4g.40gb", 1),
    MigUsage("b", "2g.20gb", 5),
    MigUsage("c", "1g.10gb", 13),
]
TWO_THREE = [MigUsage("a", "3g.40gb", 1), MigUsage("b", "3g.40gb", 2)]


def test_four_double_memory_instances_strand_three_compute_slices() -> None:
    compute = layout_shares("A100_80GB", FOUR_DOUBLE, "compute")
    assert compute.stranded_share == pytest.approx(3 / 7)
    assert compute.stranded_compute_slices == 3
    assert sum(compute.instance_shares.values()) == pytest.approx(4 / 7)
    memory = layout_shares("A100_80GB", FOUR_DOUBLE, "memory")
    assert memory.stranded_share == 0.0  # all eight memory slices are in instances
    assert sum(memory.instance_shares.values()) == pytest.approx(1.0)


def test_full_compute_layout_strands_memory_only_under_memory_pricing() -> None:
    assert layout_shares("A100_80GB", THREE_TWO_ONE, "compute").stranded_share == 0.0
    memory = layout_shares("A100_80GB", THREE_TWO_ONE, "memory")
    assert memory.stranded_memory_slices == [7]
    assert memory.stranded_share == pytest.approx(1 / 8)
    assert memory.placements == ["4g.40gb@0", "2g.20gb@4", "1g.10gb@6"]


def test_max_pricing_is_scaled_to_the_whole_gpu() -> None:
    shares = layout_shares("A100_80GB", TWO_THREE, "max")
    # max(3/7, 4/8) = 0.5 each, plus one stranded compute slice: scaled to add up to one.
    total = sum(shares.instance_shares.values()) + shares.stranded_share
    assert total == pytest.approx(1.0)
    assert shares.stranded_compute_slices == 1


@pytest.mark.parametrize("rule", ["compute", "memory", "max"])
def test_split_adds_up_to_price_times_hours(rule: str) -> None:
    instances = [
        MigUsage("m0", "1g.20gb", 3, 100, 100, 40),
        MigUsage("m1", "1g.20gb", 4, 100, 30, 0),
        MigUsage("m2", "1g.20gb", 5, 100, 0, 0),
        MigUsage("m3", "1g.20gb", 6, 100, 0, 0),
    ]
    device = DeviceUsage("GPU-x", "n", 0, "NVIDIA A100-SXM4-80GB", present_steps=100)
    device.mig = {m.mig_uuid: m for m in instances}
    layout = layout_shares("A100_80GB", instances, rule)  # type: ignore[arg-type]
    split = split_device(device, 2.0, 1.0, layout)
    assert split.total == pytest.approx(2.0 * 100)
    share = layout.instance_shares["m0"]
    assert split.idle == pytest.approx(2.0 * share * 40)
    assert split.used == pytest.approx(2.0 * share * (60 + 30))


def test_whole_gpu_split() -> None:
    device = DeviceUsage(
        "GPU-x", "n", 0, "NVIDIA H100 80GB HBM3", present_steps=10, held_steps=8, idle_steps=3
    )
    split = split_device(device, 4.0, 0.5, None)
    assert (split.used, split.idle, split.unallocated, split.stranded) == (10.0, 6.0, 4.0, 0.0)
