"""The simulated exporter's entry point: gpu-exporter's flags plus the fleet, and the simulated
node's kubelet, Kubernetes API and /proc in the place of the real ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from exporter.config import load_settings
from exporter.errors import ExporterError
from simulator.exporter import NodeSimulation, load_simulated_settings

from .conftest import SMALL


def test_the_fleet_and_every_exporter_flag() -> None:
    settings, fleet = load_simulated_settings(
        ["--simulated-fleet", "simulator/fleets/demo.yaml", "--node-name", "gpu-worker-2"], {}
    )
    assert fleet == Path("simulator/fleets/demo.yaml")
    assert settings == load_settings(["--node-name", "gpu-worker-2"], {})


def test_the_fleet_has_an_environment_twin() -> None:
    env = {"GPU_EXPORTER_SIMULATED_FLEET": str(SMALL), "GPU_EXPORTER_NVML_INTERVAL": "2.5"}
    settings, fleet = load_simulated_settings([], env)
    assert fleet == SMALL
    assert settings.nvml_interval_seconds == 2.5


def test_the_fleet_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        load_simulated_settings(["--node-name", "sim-node-1"], {})
    assert exit_info.value.code == 2
    assert "--simulated-fleet" in capsys.readouterr().err


def test_an_unknown_node_names_the_fleets_nodes() -> None:
    with pytest.raises(ExporterError, match=r"'no-such-node' is not in .*: sim-node-1"):
        NodeSimulation(SMALL, "no-such-node")


def test_the_simulated_node_replaces_kubelet_api_and_proc() -> None:
    settings = load_settings(
        ["--node-name", "sim-node-1", "--kubernetes", "false", "--pod-resources-socket", ""], {}
    )
    with NodeSimulation(SMALL, "sim-node-1") as simulation:
        simulated = simulation.exporter_settings(settings)
        assert Path(simulation.socket_path).is_socket()
        assert simulation.proc_root.is_dir()
        assert simulated.pod_resources_socket == simulation.socket_path
        assert simulated.kube_api_url == simulation.kube_api_url
        assert (simulated.kubernetes, simulated.per_process) == (True, True)
        assert simulated.proc_root == simulation.proc_root
        assert simulated.node_name == "sim-node-1"
        (node,) = yaml.safe_load(SMALL.read_text())["nodes"]
        simulation.nvml.nvmlInit()
        assert simulation.nvml.nvmlDeviceGetCount() == sum(g.get("count", 1) for g in node["gpus"])
        simulation.nvml.nvmlShutdown()
    assert not Path(simulation.socket_path).exists()
