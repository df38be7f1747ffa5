"""``python -m simulator.cluster`` serves kube-state-metrics and cAdvisor series that promtool
accepts without findings, for the whole fleet, until SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.fleet import load_fleet
from tests.conftest import FLEETS, http_get

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.cluster",
            "--fleet",
            str(FLEETS / "demo.yaml"),
            "--listen",
            "127.0.0.1:0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = str(json.loads(process.stdout.readline())["url"])
    yield url
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    process.stdout.close()


@pytest.mark.parametrize("path", ["/metrics", "/metrics/cadvisor"])
def test_promtool_finds_nothing_to_fix(cluster_url: str, promtool: str, path: str) -> None:
    body = http_get(cluster_url + path)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().strip() == "" and result.stderr.decode().strip() == ""


def test_every_node_and_pod_is_served(cluster_url: str) -> None:
    fleet = load_fleet(FLEETS / "demo.yaml")
    before = time.time()
    ksm = http_get(cluster_url + "/metrics").decode()
    cadvisor = http_get(cluster_url + "/metrics/cadvisor").decode()
    after = time.time()
    checked = 0
    for node in fleet.nodes:
        assert f'kube_node_info{{node="{node.name}"' in ksm
        assert f'machine_cpu_cores{{node="{node.name}"}} {node.cpu_cores}' in cadvisor
        for base in node.pods:
            # A scheduled pod is served as the occurrence of now, and not at all outside its
            # windows (one that opened or closed during the requests is left out).
            pod, later = base.pod_at(before), base.pod_at(after)
            if pod != later:
                continue
            if pod is None:
                assert f'pod="{base.name}-' not in ksm + cadvisor
                continue
            assert f'kube_pod_info{{namespace="{pod.namespace}",pod="{pod.name}"' in ksm
            if pod.running:
                assert f'pod="{pod.name}",container="{pod.containers[0].name}"' in cadvisor
            checked += 1
    assert checked >= sum(1 for n in fleet.nodes for p in n.pods if p.schedule is None)


def test_unknown_paths_are_not_found(cluster_url: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        http_get(cluster_url + "/nope")
    assert caught.value.code == 404
    caught.value.close()
    assert http_get(cluster_url + "/healthz") == b"ok\n"
