"""Overheating windows older than DETAIL_HOURS come from the hourly maxima alone: consecutive
hot hours make one window, on the hour, with the hottest hour's maximum as its peak; a window
running across DETAIL_HOURS' boundary is one window, not an hourly and a detailed one."""

from __future__ import annotations

from analytics.services.gpu.metrics import FleetDevice, _alert
from analytics.services.gpu.overheating import (
    REFINE_STEP_SECONDS,
    Window,
    hourly_windows,
    join_windows,
)

HOUR = 3600.0
DEVICE = FleetDevice(
    device_id="node-a-gpu-0",
    node_name="node-a",
    device_index=0,
    model_id="H100_80GB",
    model_name="NVIDIA H100 80GB HBM3",
    gpu_uuid="GPU-1",
    status="ACTIVE",
    presence="REPORTED",
    threshold_c=85.0,
    memory_gb=80.0,
    price_per_hour=4.0,
    allocated=False,
)


def test_consecutive_hot_hours_are_one_window_and_a_gap_starts_another() -> None:
    base = 1_796_000_400.0  # a whole hour
    # Points at t stand for the hour before t: hours ending at +1h, +2h, +3h, then +6h.
    hot = [(base + 3 * HOUR, 91.0), (base + HOUR, 88.0), (base + 2 * HOUR, 93.5)]
    hot.append((base + 6 * HOUR, 86.0))
    alerts = [_alert(DEVICE, *w) for w in hourly_windows(hot)]
    assert [(a["start"].timestamp(), a["end"].timestamp()) for a in alerts] == [
        (base, base + 3 * HOUR),
        (base + 5 * HOUR, base + 6 * HOUR),
    ]
    assert [a["duration_minutes"] for a in alerts] == [180.0, 60.0]
    assert [a["peak_temperature"] for a in alerts] == [93.5, 86.0]
    assert all(a["threshold"] == 85.0 and not a["ongoing"] for a in alerts)
    assert {a["device_id"] for a in alerts} == {"node-a-gpu-0"}


def test_no_hot_hours_no_windows() -> None:
    assert hourly_windows([]) == []


def test_a_window_across_the_detail_boundary_is_one_window() -> None:
    base = 1_796_000_400.0
    boundary = base + 3 * HOUR + 1620  # now - DETAIL_HOURS, not on the hour
    hourly = hourly_windows([(base + HOUR, 87.0), (base + 2 * HOUR, 90.0), (base + 3 * HOUR, 89.0)])
    step = REFINE_STEP_SECONDS
    # Read at minute resolution from the boundary on: hot from its first reading.
    across = Window(boundary + step, boundary + 40 * step, 40.0, 92.0, True)
    later = Window(boundary + 5 * HOUR, boundary + 5 * HOUR + 10 * step, 11.0, 88.0, False)
    one = join_windows(hourly, [later, across], boundary)
    assert sorted(one) == [
        Window(base, boundary + 40 * step, (boundary + 41 * step - base) / 60.0, 92.0, True),
        later,
    ]
    # A detailed window starting well after the boundary is another episode.
    apart = Window(boundary + 20 * step, boundary + 30 * step, 11.0, 88.0, False)
    assert sorted(join_windows(hourly, [apart], boundary)) == sorted([*hourly, apart])
    # So is an hourly window that ended more than an hour before the boundary.
    assert sorted(join_windows(hourly, [across], boundary + HOUR)) == sorted([*hourly, across])
    assert join_windows([], [across], boundary) == [across]
