"""Utilisation prefers SM activity (gpu_prof_sm_active_ratio) where a GPU or MIG instance reports
it and falls back to utilization.gpu per device, on a real Prometheus holding both kinds of
series (a day of one-minute history backfilled with promtool).

The fleet, node n1:
- GPU-H (H100, whole, held by ml/train-0): utilization.gpu 0.9 (a kernel always runs) but SM
  activity 0.02: idle by SM activity, busy by utilization.gpu;
- GPU-B (H100, whole, held by ml/train-1): utilization.gpu 0.95 and SM activity 0.4: busy;
- GPU-A (A100, whole, held by ml/serve-0): utilization.gpu 0.6 and no SM activity (no GPM);
- GPU-M (H100 in MIG mode): MIG-1 held by dev/nb-1 with SM activity 0.5 but almost no memory in
  use (idle by the memory rule, busy by SM activity); MIG-2 held by dev/nb-2 with no SM activity
  and no memory in use (idle by the memory rule, the fallback).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from analytics.prom import PromClient
from analytics.prom import queries as q
from analytics.prom.utilization import GPU_UTILIZATION, SM_ACTIVE
from analytics.services.cost.usage import Window, read_usage
from devstack.prometheus import PrometheusServer, backfill_openmetrics
from tests.analytics.conftest import ADMIN, API, AppFactory, register

HISTORY_S = 27 * 3600
IDLE_THRESHOLD = 0.05
GIB = 2**30

_DEVICE = {
    "GPU-H": {"gpu": "0", "model_name": "NVIDIA H100 80GB HBM3", "mig_mode": "disabled"},
    "GPU-A": {"gpu": "1", "model_name": "NVIDIA A100-SXM4-80GB", "mig_mode": "disabled"},
    "GPU-M": {"gpu": "2", "model_name": "NVIDIA H100 80GB HBM3", "mig_mode": "enabled"},
    "GPU-B": {"gpu": "3", "model_name": "NVIDIA H100 80GB HBM3", "mig_mode": "disabled"},
}


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _series() -> dict[str, list[tuple[str, float]]]:
    """Per metric family: (label set, constant value) of each series."""
    info = [
        (
            _labels(
                node="n1",
                uuid=uuid,
                pci_bus_id=f"00000000:{int(d['gpu']) + 17:02X}:00.0",
                driver_version="550.127.05",
                **d,
            ),
            1.0,
        )
        for uuid, d in _DEVICE.items()
    ]

    def device(uuid: str, **extra: str) -> str:
        return _labels(node="n1", gpu=_DEVICE[uuid]["gpu"], uuid=uuid, **extra)

    def mig(mig_uuid: str, gi: str, profile: str) -> str:
        return device(
            "GPU-M", mig_uuid=mig_uuid, gpu_instance_id=gi, compute_instance_id="0", profile=profile
        )

    def holder(namespace: str, pod: str, uuid: str, mig_uuid: str = "") -> str:
        return _labels(
            node="n1",
            namespace=namespace,
            pod=pod,
            container="c",
            gpu=_DEVICE[uuid]["gpu"],
            uuid=uuid,
            mig_uuid=mig_uuid,
            resource="nvidia.com/gpu",
            sharing="exclusive",
        )

    return {
        "gpu_info": info,
        "gpu_utilization_ratio": [
            (device("GPU-H"), 0.9),
            (device("GPU-A"), 0.6),
            (device("GPU-B"), 0.95),
        ],
        "gpu_prof_sm_active_ratio": [
            (device("GPU-H", mig_uuid="", gpu_instance_id=""), 0.02),
            (device("GPU-B", mig_uuid="", gpu_instance_id=""), 0.4),
            (device("GPU-M", mig_uuid="MIG-1", gpu_instance_id="1"), 0.5),
        ],
        "gpu_memory_used_bytes": [(device(u), 10 * GIB) for u in _DEVICE],
        "gpu_memory_total_bytes": [(device(u), 80 * GIB) for u in _DEVICE],
        "gpu_temperature_celsius": [(device(u), 50.0) for u in _DEVICE],
        "gpu_mig_info": [(mig("MIG-1", "1", "3g.40gb"), 1.0), (mig("MIG-2", "9", "1g.10gb"), 1.0)],
        "gpu_mig_memory_used_bytes": [
            (device("GPU-M", mig_uuid="MIG-1"), 0.001 * 40 * GIB),
            (device("GPU-M", mig_uuid="MIG-2"), 0.0),
        ],
        "gpu_mig_memory_total_bytes": [
            (device("GPU-M", mig_uuid="MIG-1"), 40 * GIB),
            (device("GPU-M", mig_uuid="MIG-2"), 10 * GIB),
        ],
        "gpu_pod_allocation_info": [
            (holder("ml", "train-0", "GPU-H"), 1.0),
            (holder("ml", "serve-0", "GPU-A"), 1.0),
            (holder("ml", "train-1", "GPU-B"), 1.0),
            (holder("dev", "nb-1", "GPU-M", "MIG-1"), 1.0),
            (holder("dev", "nb-2", "GPU-M", "MIG-2"), 1.0),
        ],
    }


@dataclass(frozen=True)
class History:
    prom: PromClient
    end: float  # the last sample's time


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    base = tmp_path_factory.mktemp("sm-activity")
    end = float(int(time.time()) // 60 * 60)
    times = range(int(end) - HISTORY_S, int(end) + 1, 60)
    lines = []
    for family, series in _series().items():
        lines.append(f"# TYPE {family} gauge")
        for labels, value in series:
            lines.extend(f"{family}{labels} {value} {t}" for t in times)
    lines.append("# EOF")
    source = base / "history.om"
    source.write_text("\n".join(lines) + "\n")
    server = PrometheusServer(base / "prom")
    backfill_openmetrics(source, server.data_dir)
    with server:
        yield History(PromClient(server.url, timeout_seconds=30), end)


def test_cost_usage_reads_sm_activity_where_a_gpu_has_it(history: History) -> None:
    window = Window(1, history.end // 300 * 300, 300)
    usage = read_usage(history.prom, window, IDLE_THRESHOLD, {})
    h, a = usage.devices["GPU-H"], usage.devices["GPU-A"]
    assert (h.utilization_source, a.utilization_source) == (SM_ACTIVE, GPU_UTILIZATION)
    assert h.utilization_mean == pytest.approx(0.02)
    assert a.utilization_mean == pytest.approx(0.6)
    # GPU-H ran a kernel all the time (utilization.gpu 0.9) but its SMs were idle: held and
    # idle every step. GPU-A is busy by utilization.gpu, its only source.
    assert h.held_steps == h.idle_steps == window.steps
    assert a.held_steps == window.steps
    assert a.idle_steps == 0
    b = usage.devices["GPU-B"]
    assert b.utilization_source == SM_ACTIVE
    assert b.utilization_mean == pytest.approx(0.4)
    assert b.held_steps == window.steps
    assert b.idle_steps == 0


def test_mig_instances_are_judged_by_sm_activity_else_by_memory(history: History) -> None:
    window = Window(1, history.end // 300 * 300, 300)
    usage = read_usage(history.prom, window, IDLE_THRESHOLD, {})
    instances = usage.devices["GPU-M"].mig
    busy, unmeasured = instances["MIG-1"], instances["MIG-2"]
    assert busy.utilization_source == SM_ACTIVE
    assert busy.utilization_mean == pytest.approx(0.5)
    assert busy.utilization_peak == pytest.approx(0.5)
    # Almost no memory in use, but SM activity says it works: not idle.
    assert busy.held_steps == window.steps
    assert busy.idle_steps == 0
    assert unmeasured.utilization_source is None
    assert unmeasured.utilization_mean is None
    assert unmeasured.idle_steps == window.steps
    pods = {(p.pod, p.mig_uuid): p for p in usage.pods.values()}
    assert pods[("nb-1", "MIG-1")].idle_steps == 0
    assert pods[("nb-2", "MIG-2")].idle_steps == window.steps
    assert pods[("train-0", "")].idle_steps == window.steps
    assert pods[("serve-0", "")].idle_steps == 0
    assert pods[("train-1", "")].idle_steps == 0


def test_usage_statistics_read_sm_activity_beside_utilization(history: History) -> None:
    parts = q.usage_statistics_parts(1, history.end, history.end, None)
    samples = history.prom.query_parts(parts, q.STAT_LABEL)
    found = {(s.labels["uuid"], s.labels[q.STAT_LABEL]): s.value for s in samples}
    assert found[("GPU-H", "sm_active")] == pytest.approx(0.02)
    assert found[("GPU-H", "utilization")] == pytest.approx(0.9)
    assert found[("GPU-A", "utilization")] == pytest.approx(0.6)
    assert ("GPU-A", "sm_active") not in found
    # A MIG instance's SM activity is not the whole GPU's.
    assert ("GPU-M", "sm_active") not in found


def test_mig_statistics_read_the_instances_sm_activity(history: History) -> None:
    values = {s.labels[q.STAT_LABEL]: s.value for s in history.prom.query(q.mig_memory())}
    assert values["sm_active"] == pytest.approx(0.5)  # MIG-1 only: MIG-2 measures none
    assert values["instances"] == 2


# -- through the HTTP API ------------------------------------------------------------------------


def _app_on(history: History, make_app: AppFactory) -> FlaskClient:
    client = make_app(prometheus_url=history.prom.base_url).test_client()
    for uuid, device in _DEVICE.items():
        model = "A100_80GB" if "A100" in device["model_name"] else "H100_80GB"
        register(client, "n1", int(device["gpu"]), model, gpuUuid=uuid)
    return client


def test_usage_statistics_name_their_source_per_device(
    history: History, make_app: AppFactory
) -> None:
    client = _app_on(history, make_app)
    response = client.get(f"{API}/gpu/metrics/usage-statistics?hours=1", headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    devices = response.get_json()["data"]["deviceStatistics"]
    found = {
        device_id: (stats["avgGpuUtilization"], stats["utilizationSource"])
        for device_id, stats in devices.items()
    }
    assert found == {
        "n1-GPU-00": (2.0, SM_ACTIVE),  # GPU-H: SM activity, not utilization.gpu's 90%
        "n1-GPU-01": (60.0, GPU_UTILIZATION),  # GPU-A: no GPM
        "n1-GPU-02": (None, None),  # GPU-M: MIG mode, no whole-GPU utilisation of either kind
        "n1-GPU-03": (40.0, SM_ACTIVE),  # GPU-B
    }


def test_mig_statistics_report_the_instances_sm_activity(
    history: History, make_app: AppFactory
) -> None:
    client = _app_on(history, make_app)
    response = client.get(f"{API}/gpu/mig/statistics", headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    stats = response.get_json()["data"]
    assert (stats["utilization"], stats["utilizationSource"]) == (50.0, SM_ACTIVE)
    assert stats["instancesReporting"] == 2
