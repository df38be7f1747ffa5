"""Overheating windows older than DETAIL_HOURS come from the hourly maxima alone: consecutive
hot hours make one window, on the hour, with the hottest hour's maximum as its peak."""

from __future__ import annotations

from analytics.services.gpu_metrics import FleetDevice, _hourly_alerts

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
    alerts = _hourly_alerts(DEVICE, hot)
    assert [(a["start"].timestamp(), a["end"].timestamp()) for a in alerts] == [
        (base, base + 3 * HOUR),
        (base + 5 * HOUR, base + 6 * HOUR),
    ]
    assert [a["duration_minutes"] for a in alerts] == [180.0, 60.0]
    assert [a["peak_temperature"] for a in alerts] == [93.5, 86.0]
    assert all(a["threshold"] == 85.0 and not a["ongoing"] for a in alerts)
    assert {a["device_id"] for a in alerts} == {"node-a-gpu-0"}


def test_no_hot_hours_no_windows() -> None:
    assert _hourly_alerts(DEVICE, []) == []
