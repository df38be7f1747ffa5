"""The collector renders a snapshot to exactly the exposition the metric contract promises."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.core import Metric

from exporter.collector import SnapshotCollector, render
from exporter.snapshot import (
    DeviceIdentity,
    DeviceSample,
    MigInstanceSample,
    PodAllocation,
    PodInfo,
    Snapshot,
    StageHealth,
    XidCount,
)

UUID = "GPU-11111111-2222-3333-4444-555555555555"
MIG_UUID = "MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


class _Registry:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> list[Metric]:
        return list(render(self.snapshot))


def _identity(index: int, uuid: str) -> DeviceIdentity:
    return DeviceIdentity(
        index=index,
        uuid=uuid,
        name="NVIDIA A100-SXM4-80GB",
        serial="1650122000001",
        pci_bus_id="00000000:17:00.0",
        vbios_version="92.00.36.00.01",
        architecture="ampere",
    )


def test_known_state_renders_exact_exposition() -> None:
    device = DeviceSample(
        identity=_identity(0, UUID),
        up=True,
        utilization_ratio=0.5,
        memory_used_bytes=1024,
        temperature_celsius=71.0,
        clock_event_reasons=0x20 | 0x1,
        mig_enabled=True,
        mig_instances=(MigInstanceSample(MIG_UUID, 1, 0, "3g.40gb", 512, 4096),),
    )
    lost = DeviceSample(identity=_identity(1, "GPU-lost"), up=False)
    snapshot = Snapshot(
        node="n1",
        timestamp_seconds=100.0,
        driver_version="550.90.07",
        cuda_driver_version="12.4",
        devices=(device, lost),
        expected_devices=3,
        allocations=(
            PodAllocation(
                "ml", "vllm-0", "main", "nvidia.com/mig-3g.40gb", 0, UUID, MIG_UUID, "exclusive"
            ),
        ),
        serving_pods=(
            PodInfo(
                "ml",
                "vllm-0",
                "uid-1",
                "Running",
                "n1",
                model_type="vllm",
                model_name="llama-2-7b-chat-hf",
            ),
        ),
        xids=(XidCount(UUID, 79, 2, 90.0),),
        stages=(StageHealth("nvml", 0.25, 99.0),),
        errors_total=(("nvmlDeviceGetPowerUsage", 4),),
        sequence=1,
    )
    text = generate_latest(_Registry(snapshot)).decode()  # type: ignore[arg-type]
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == [
        'gpu_up{gpu="0",node="n1",uuid="%s"} 1.0' % UUID,
        'gpu_up{gpu="1",node="n1",uuid="GPU-lost"} 0.0',
        'gpu_info{architecture="ampere",cuda_version="12.4",driver_version="550.90.07",'
        'gpu="0",mig_mode="enabled",model_name="NVIDIA A100-SXM4-80GB",node="n1",'
        'pci_bus_id="00000000:17:00.0",serial="1650122000001",uuid="%s",'
        'vbios_version="92.00.36.00.01"} 1.0' % UUID,
        'gpu_info{architecture="ampere",cuda_version="12.4",driver_version="550.90.07",'
        'gpu="1",mig_mode="unsupported",model_name="NVIDIA A100-SXM4-80GB",node="n1",'
        'pci_bus_id="00000000:17:00.0",serial="1650122000001",uuid="GPU-lost",'
        'vbios_version="92.00.36.00.01"} 1.0',
        'gpu_utilization_ratio{gpu="0",node="n1",uuid="%s"} 0.5' % UUID,
        'gpu_memory_used_bytes{gpu="0",node="n1",uuid="%s"} 1024.0' % UUID,
        'gpu_temperature_celsius{gpu="0",node="n1",uuid="%s"} 71.0' % UUID,
        *(
            'gpu_clock_event_reason_active{gpu="0",node="n1",reason="%s",uuid="%s"} %s'
            % (reason, UUID, value)
            for reason, value in (
                ("gpu_idle", "1.0"),
                ("applications_clocks", "0.0"),
                ("sw_power_cap", "0.0"),
                ("hw_slowdown", "0.0"),
                ("sync_boost", "0.0"),
                ("sw_thermal_slowdown", "1.0"),
                ("hw_thermal_slowdown", "0.0"),
                ("hw_power_brake", "0.0"),
            )
        ),
        'gpu_mig_info{compute_instance_id="0",gpu="0",gpu_instance_id="1",mig_uuid="%s",'
        'node="n1",profile="3g.40gb",uuid="%s"} 1.0' % (MIG_UUID, UUID),
        'gpu_mig_memory_used_bytes{gpu="0",mig_uuid="%s",node="n1",uuid="%s"} 512.0'
        % (MIG_UUID, UUID),
        'gpu_mig_memory_total_bytes{gpu="0",mig_uuid="%s",node="n1",uuid="%s"} 4096.0'
        % (MIG_UUID, UUID),
        'gpu_xid_errors_total{gpu="0",node="n1",uuid="%s",xid="79"} 2.0' % UUID,
        'gpu_xid_last_seen_timestamp_seconds{gpu="0",node="n1",uuid="%s",xid="79"} 90.0' % UUID,
        'gpu_pod_allocation_info{claim_name="",claim_namespace="",container="main",gpu="0",'
        'mig_uuid="%s",namespace="ml",'
        'node="n1",pod="vllm-0",resource="nvidia.com/mig-3g.40gb",sharing="exclusive",'
        'uuid="%s"} 1.0' % (MIG_UUID, UUID),
        'gpu_model_serving_info{model_name="llama-2-7b-chat-hf",model_type="vllm",'
        'namespace="ml",node="n1",pod="vllm-0"} 1.0',
        'gpu_exporter_build_info{node="n1",version="0.1.0"} 1.0',
        'gpu_exporter_devices_expected{node="n1"} 3.0',
        'gpu_exporter_devices_visible{node="n1"} 1.0',
        'gpu_exporter_stage_duration_seconds{node="n1",stage="nvml"} 0.25',
        'gpu_exporter_stage_last_success_timestamp_seconds{node="n1",stage="nvml"} 99.0',
        'gpu_exporter_errors_total{node="n1",operation="nvmlDeviceGetPowerUsage"} 4.0',
    ]


def test_unidentified_lost_gpu_only_reports_up() -> None:
    never_seen = DeviceSample(identity=DeviceIdentity(0, "", "", "", "", "", "unknown"), up=False)
    snapshot = Snapshot("n1", 1.0, None, None, (never_seen,), expected_devices=1)
    names = {m.name for m in render(snapshot)}
    assert "gpu_up" in names
    assert "gpu_info" not in names


def test_collector_without_snapshot_yields_nothing() -> None:
    assert list(SnapshotCollector(lambda: None).collect()) == []
