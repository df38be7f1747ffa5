"""GPU health verdicts from signals: each rule, and the worst finding deciding the verdict."""

from __future__ import annotations

from analytics.prom import Sample
from analytics.services.gpu.health import DeviceSignals, assess, collect_signals


def codes(signals: DeviceSignals | None, threshold: float = 85.0, seen: bool = True) -> list[str]:
    return [f.code for f in assess(signals, threshold, ever_reported=seen).findings]


def test_a_quiet_gpu_is_healthy() -> None:
    verdict = assess(DeviceSignals(up=True, temperature_c=60), 85, ever_reported=True)
    assert (verdict.status, verdict.findings) == ("HEALTHY", [])


def test_temperature_against_the_model_threshold() -> None:
    assert codes(DeviceSignals(up=True, temperature_c=86)) == ["OVERHEATING"]
    assert codes(DeviceSignals(up=True, temperature_c=81)) == ["TEMPERATURE_HIGH"]
    assert codes(DeviceSignals(up=True, temperature_c=80)) == []
    assert assess(DeviceSignals(up=True, temperature_c=86), 85, True).status == "CRITICAL"


def test_lost_and_unreported_gpus() -> None:
    assert codes(DeviceSignals(up=False)) == ["GPU_LOST"]
    assert codes(None, seen=True) == ["NOT_REPORTED"]
    assert codes(None, seen=False) == ["NO_METRICS"]
    assert assess(None, 85, ever_reported=False).status == "WARNING"


def test_xids_by_reference_lists() -> None:
    signals = DeviceSignals(up=True, xid_counts={79: 1, 94: 2, 13: 5})
    verdict = assess(signals, 85, True)
    assert [(f.code, f.severity, f.xid, f.count) for f in verdict.findings] == [
        ("XID_OTHER", "INFO", 13, 5),
        ("XID_CRITICAL", "CRITICAL", 79, 1),
        ("XID_WARNING", "WARNING", 94, 2),
    ]
    assert verdict.status == "CRITICAL"
    # Application XIDs alone leave the GPU healthy.
    assert assess(DeviceSignals(up=True, xid_counts={13: 3}), 85, True).status == "HEALTHY"


def test_memory_errors_and_throttling() -> None:
    assert codes(DeviceSignals(up=True, ecc_uncorrected_volatile=2)) == ["ECC_UNCORRECTABLE"]
    assert codes(DeviceSignals(up=True, ecc_uncorrected_lifetime=1)) == [
        "ECC_UNCORRECTABLE_LIFETIME"
    ]
    assert codes(DeviceSignals(up=True, remap_failure=True, remap_pending=True)) == [
        "ROW_REMAP_FAILURE",
        "ROW_REMAP_PENDING",
    ]
    assert codes(
        DeviceSignals(up=True, throttle_reasons={"hw_thermal_slowdown", "hw_power_brake"})
    ) == ["THERMAL_THROTTLING", "POWER_BRAKE"]


def test_signals_from_a_tagged_answer() -> None:
    samples = [
        Sample({"uuid": "a", "check": "up"}, 1, 0),
        Sample({"uuid": "a", "check": "temperature"}, 70, 0),
        Sample({"uuid": "a", "check": "xid", "xid": "79", "gpu": "1"}, 1.02, 0),
        Sample({"uuid": "a", "check": "xid_born", "xid": "79", "gpu": "1"}, 1, 0),
        # The same count continued without the gpu label (the GPU was lost): not added.
        Sample({"uuid": "a", "check": "xid_born", "xid": "79"}, 2, 0),
        Sample({"uuid": "a", "check": "xid", "xid": "13"}, 0.1, 0),  # extrapolation noise
        Sample({"uuid": "a", "check": "throttle", "reason": "sw_thermal_slowdown"}, 1, 0),
        Sample({"uuid": "b", "check": "up"}, 0, 0),
        Sample({"uuid": "b", "check": "remap_pending"}, 1, 0),
        Sample({"check": "up"}, 1, 0),  # no uuid: ignored
    ]
    signals = collect_signals(samples)
    assert set(signals) == {"a", "b"}
    assert signals["a"].xid_counts == {79: 2}
    assert signals["a"].throttle_reasons == {"sw_thermal_slowdown"}
    assert signals["b"].up is False and signals["b"].remap_pending
