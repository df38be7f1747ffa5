"""Real exporter processes on the simulated demo fleet, checked with Debian's promtool."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys

import pytest
import yaml

from tests.conftest import FLEETS, ROOT, ExporterFactory, http_get

DEMO = FLEETS / "demo.yaml"
DEMO_NODES = [node["name"] for node in yaml.safe_load(DEMO.read_text())["nodes"]]


def _series(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(rf"{name}[{{ ]", line)]


@pytest.mark.parametrize("node", DEMO_NODES)
def test_promtool_check_metrics_is_clean_for_every_demo_node(
    node: str, exporter_process: ExporterFactory, promtool: str
) -> None:
    url = exporter_process(DEMO, node)
    # Exactly what the issue asks for: curl -s URL/metrics | promtool check metrics
    result = subprocess.run(
        f"curl -s {url}/metrics | {promtool} check metrics",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr == ""
    text = http_get(url + "/metrics").decode()
    assert len(_series(text, "gpu_up")) == 8
    assert _series(text, "gpu_info")


def test_demo_fleet_exposes_mig_pods_and_model_serving(exporter_process: ExporterFactory) -> None:
    texts = {
        node: http_get(exporter_process(DEMO, node) + "/metrics").decode() for node in DEMO_NODES
    }
    everything = "\n".join(texts.values())
    assert _series(everything, "gpu_mig_info"), "some demo A100s run MIG"
    allocations = _series(everything, "gpu_pod_allocation_info")
    assert any('mig_uuid="MIG-' in line for line in allocations), "pods on MIG slices"
    assert any('sharing="shared"' in line for line in allocations), "time-sliced pods"
    serving = _series(everything, "gpu_model_serving_info")
    assert any('model_type="vllm"' in line for line in serving)
    assert any('model_type="sglang"' in line for line in serving)
    # The whole demo holds 16 A100, 8 H100 and 8 RTX 4090.
    names = re.findall(r'model_name="([^"]+)"', "\n".join(_series(everything, "gpu_info")))
    assert sum("A100" in n for n in names) == 16
    assert sum("H100" in n for n in names) == 8
    assert sum("4090" in n for n in names) == 8


def test_gzip_and_openmetrics_negotiation(exporter_process: ExporterFactory, promtool: str) -> None:
    url = exporter_process(DEMO, DEMO_NODES[0])
    body = http_get(url + "/metrics", {"Accept-Encoding": "gzip"})
    assert gzip.decompress(body).startswith(b"# HELP")
    om = http_get(url + "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.rstrip().endswith(b"# EOF")


def test_without_nvml_and_without_simulator_exits_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "exporter.main", "--listen", "127.0.0.1:0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "libnvidia-ml.so.1" in lines[0]
    assert lines[0].startswith("gpu-exporter: error:")


def test_unknown_simulated_node_is_a_clear_error() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator.exporter",
            "--simulated-fleet",
            str(DEMO),
            "--node-name",
            "no-such-node",
            "--listen",
            "127.0.0.1:0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "no-such-node" in result.stderr and "gpu-worker-1" in result.stderr
    assert "Traceback" not in result.stderr
