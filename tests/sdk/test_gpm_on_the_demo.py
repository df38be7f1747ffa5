"""GPM profiling on the demo fleet as ``make demo`` runs it: every GPU of the Hopper node
(gpu-worker-3, 8 x H100) and every MIG instance a layout carves there export the gpu_prof_*
series; the other nodes (A100, RTX 4090) export none, only the info metric saying why.

The MIG layout goes through the declarative path (the API, the simulated mig-manager, the
exporter's re-enumeration), so the instances are those the exporter itself discovers."""

from __future__ import annotations

import time
from collections import defaultdict

import requests
from prometheus_client.parser import text_string_to_metric_families

from devstack.stack import Stack

HOPPER_NODE = "gpu-worker-3"
DEVICE = f"{HOPPER_NODE}-GPU-07"
LAYOUT = ["3g.40gb", "2g.20gb", "1g.10gb"]

Labels = dict[str, str]


def scrape(url: str) -> dict[str, list[Labels]]:
    """Each family's samples' labels, by sample name."""
    found: dict[str, list[Labels]] = defaultdict(list)
    body = requests.get(url.rstrip("/") + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[sample.name].append(dict(sample.labels))
    return found


def mig_instances(series: dict[str, list[Labels]], gpu: str) -> set[str]:
    return {s["mig_uuid"] for s in series.get("gpu_mig_info", []) if s["gpu"] == gpu}


def test_every_hopper_gpu_and_mig_instance_has_gpm_and_no_other_node_does(
    demo_stack: Stack, api_base: str, admin_key: str
) -> None:
    headers = {"X-API-Key": admin_key}
    url = f"{api_base}/gpu/mig/devices/{DEVICE}"
    created = requests.post(url, json={"profileIds": LAYOUT}, headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    try:
        exporter = demo_stack.exporter_urls[HOPPER_NODE]
        deadline = time.monotonic() + 90
        while True:
            series = scrape(exporter)
            instances = mig_instances(series, "7")
            profiled = {
                s["mig_uuid"]
                for s in series.get("gpu_prof_sm_active_ratio", [])
                if s["gpu"] == "7" and s["mig_uuid"]
            }
            if len(instances) == len(LAYOUT) and profiled >= instances:
                break
            assert time.monotonic() < deadline, (instances, profiled)
            time.sleep(1)

        sm = series["gpu_prof_sm_active_ratio"]
        gpus_with_gpm = {s["gpu"] for s in sm}
        assert gpus_with_gpm == {str(i) for i in range(8)}
        # Whole GPUs: one series each for the seven not in MIG mode.
        assert {s["gpu"] for s in sm if not s["mig_uuid"]} >= {str(i) for i in range(7)}
        # Each carved instance: the same families, with its MIG uuid and GPU instance id.
        for name in ("gpu_prof_tensor_active_ratio", "gpu_prof_dram_bandwidth_utilization_ratio"):
            assert {s["mig_uuid"] for s in series[name] if s["gpu"] == "7"} >= instances, name
        assert all(s["gpu_instance_id"] for s in sm if s["mig_uuid"])
        support = series["gpu_prof_support_info"]
        assert {s["supported"] for s in support} == {"true"} and len(support) == 8
    finally:
        deleted = requests.delete(url, headers=headers, timeout=30)
        assert deleted.status_code == 200, deleted.text

    for node, other in demo_stack.exporter_urls.items():
        if node == HOPPER_NODE:
            continue
        series = scrape(other)
        profiling = {name for name in series if name.startswith("gpu_prof_")}
        assert profiling == {"gpu_prof_support_info"}, node
        verdicts = {(s["supported"], s["reason"]) for s in series["gpu_prof_support_info"]}
        assert verdicts == {("false", "device_not_supported")}, node
