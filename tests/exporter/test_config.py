"""Every exporter flag has a GPU_EXPORTER_* twin, and bad values are refused with a clear line."""

from __future__ import annotations

import pytest

from exporter.config import ENV_PREFIX, build_parser, load_settings


def test_every_flag_has_an_environment_twin() -> None:
    parser = build_parser({})
    flags = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert len(flags) >= 15
    for action in flags:
        flag = action.option_strings[0].lstrip("-")
        env_name = ENV_PREFIX + flag.replace("-", "_").replace(".", "_").upper()
        assert env_name in (action.help or ""), action.option_strings


def test_environment_sets_values_and_flags_win() -> None:
    env = {
        "GPU_EXPORTER_LISTEN": "127.0.0.1:9999",
        "GPU_EXPORTER_NODE_NAME": "gpu-worker-7",
        "GPU_EXPORTER_NVML_INTERVAL": "2.5",
        "GPU_EXPORTER_PER_PROCESS": "true",
        "GPU_EXPORTER_POD_RESOURCES_SOCKET": "",
    }
    settings = load_settings([], env)
    assert (settings.listen_host, settings.listen_port) == ("127.0.0.1", 9999)
    assert settings.node_name == "gpu-worker-7"
    assert settings.nvml_interval_seconds == 2.5
    assert settings.per_process is True
    assert settings.pod_resources_socket is None
    overridden = load_settings(["--node-name", "other", "--nvml-interval", "4"], env)
    assert overridden.node_name == "other"
    assert overridden.nvml_interval_seconds == 4.0


def test_node_name_falls_back_to_downward_api_variable() -> None:
    assert load_settings([], {"NODE_NAME": "from-downward-api"}).node_name == "from-downward-api"


def test_the_production_exporter_has_no_simulator_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The simulated mode is simulator.exporter's (tests/simulator/test_exporter.py).
    with pytest.raises(SystemExit) as exit_info:
        load_settings(["--simulated-fleet", "simulator/fleets/demo.yaml"], {})
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --simulated-fleet" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--listen", "nonsense"], {}),
        (["--nvml-interval", "0"], {}),
        ([], {"GPU_EXPORTER_PER_PROCESS": "maybe"}),
    ],
)
def test_bad_values_exit_with_usage_error(
    argv: list[str], env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        load_settings(argv, env)
    assert exit_info.value.code == 2
    assert "gpu-exporter: error:" in capsys.readouterr().err
