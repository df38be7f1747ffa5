"""gpuctl: --help on every command, JSON that parses and carries the API's fields, tables,
configuration by flags or environment, exit codes, against the demo stack."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from k8s_gpu_client.cli import build_parser, main
from tests.conftest import ROOT, free_port


def command_paths(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Every command and group of the parser, as argument prefixes."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from command_paths(sub, (*prefix, name))


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, env=env or {}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_help_on_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    paths = list(command_paths(build_parser({})))
    assert len(paths) >= 20
    for path in [(), *paths]:
        with pytest.raises(SystemExit) as exited:
            main([*path, "--help"], env={})
        assert exited.value.code == 0, path
        text = capsys.readouterr().out
        assert text.startswith("usage: gpuctl " + " ".join(path)), path
    result = subprocess.run(
        [sys.executable, "-m", "k8s_gpu_client.cli", "mig", "plan", "--help"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "--apply" in result.stdout and "GPUCTL_BASE_URL" in result.stdout


@pytest.fixture
def env(api_base: str, admin_key: str) -> dict[str, str]:
    return {"GPUCTL_BASE_URL": api_base, "GPUCTL_API_KEY": admin_key}


def as_json(argv: list[str], env: dict[str, str]) -> Any:
    code, out, err = run([*argv, "-o", "json"], env)
    assert code == 0, err
    return json.loads(out)


def test_json_output_is_the_apis_fields(env: dict[str, str]) -> None:
    devices = as_json(["devices", "list", "--node", "gpu-worker-3"], env)
    assert [d["deviceId"] for d in devices] == [f"gpu-worker-3-GPU-{i:02d}" for i in range(8)]
    assert as_json(["devices", "show", "gpu-worker-3-GPU-00"], env)["modelId"] == "H100_80GB"
    assert as_json(["devices", "health", "gpu-worker-3-GPU-00"], env)["status"]
    assert as_json(["devices", "stats"], env)["totalDevices"] >= 32
    layout = as_json(["mig", "show", "gpu-worker-1-GPU-04"], env)
    assert layout["observedLayout"] == ["4g.40gb@0", "2g.20gb@4", "1g.10gb@6"]
    assert isinstance(as_json(["mig", "available"], env), list)
    assert isinstance(as_json(["allocations", "list"], env), list)
    assert isinstance(as_json(["allocations", "expiring", "--hours", "168"], env), list)
    assert as_json(["overview"], env)["totalGpuDevices"] >= 32
    assert "costByTeam" in as_json(["cost", "stats"], env)


def test_cost_and_forecast_commands(env: dict[str, str]) -> None:
    report = as_json(["cost", "report", "--days", "1"], env)
    assert report["dailyCost"] > 0 and "costByNamespace" in report
    assert isinstance(as_json(["cost", "optimize"], env)["suggestions"], list)
    gpu = as_json(["forecast", "--hours", "6"], env)
    assert gpu["hours"] == 6 and gpu["utilization"]["points"]
    resources = as_json(["forecast", "--resources", "--hours", "6"], env)
    assert resources["cpu"]["points"]
    code, table, _ = run(["forecast", "--hours", "6"], env)
    assert code == 0 and table.startswith("SERIES") and "utilization" in table


def test_allocate_and_release_from_flags(api_base: str, admin_key: str) -> None:
    # "=" form: a key may begin with "-" (token_urlsafe), which argparse would take for a flag.
    flags = [f"--base-url={api_base}", f"--api-key={admin_key}"]
    created = as_json(
        [*flags, "allocate", "--namespace", "cli", "--pod", "cli-pod", "--memory-gb", "5", "--mig"],
        {},
    )
    assert created["resourceType"] == "MIG_INSTANCE" and created["podName"] == "cli-pod"
    code, table, _ = run(["allocations", "list", "--namespace", "cli", *flags])
    assert code == 0 and table.splitlines()[0].split()[:3] == ["ALLOCATION", "NAMESPACE", "POD"]
    assert created["allocationId"] in table
    released = as_json(["release", created["allocationId"], *flags], {})
    assert released["status"] == "RELEASED"


def test_mig_plan_pre_checks_and_applies(env: dict[str, str]) -> None:
    plan = as_json(["mig", "plan", "gpu-worker-3-GPU-07", "3g.40gb", "4g.40gb"], env)
    assert plan["fits"] is True and plan["computeSlicesRequested"] == 7
    code, out, _ = run(["mig", "plan", "gpu-worker-1-GPU-04", "1g.10gb", "-o", "json"], env)
    refused = json.loads(out)
    assert code == 1 and refused["fits"] is False and refused["computeSlicesFree"] == 0
    code, out, _ = run(["mig", "plan", "gpu-worker-4-GPU-01", "1g.10gb"], env)
    assert code == 1 and "MIG_NOT_SUPPORTED" in out
    applied = as_json(["mig", "plan", "gpu-worker-3-GPU-07", "1g.10gb", "--apply"], env)
    try:
        assert [i["profile"] for i in applied["instances"]] == ["1g.10gb"]
    finally:
        assert as_json(["mig", "delete", "gpu-worker-3-GPU-07"], env)["instances"] == []


def test_errors_and_exit_codes(env: dict[str, str]) -> None:
    code, out, err = run(["devices", "show", "invalid-device-id"], env)
    assert code == 1 and out == "" and "RESOURCE_NOT_FOUND (HTTP 404)" in err
    code, _, err = run(["devices", "list", "--status", "bogus"], env)
    assert code == 1 and "INVALID_PARAMETER" in err and "details: status: " in err
    assert "field status: " in err
    dead = {"GPUCTL_BASE_URL": f"http://127.0.0.1:{free_port()}/k8s-monitor/api/v1"}
    code, _, err = run(["devices", "list", "--timeout", "2"], dead)
    assert code == 3 and "gpuctl:" in err
    code, _, err = run(["devices", "list", "--api-key", "k", "--username", "u"], dead)
    assert code == 2


def test_environment_configures_the_console_entry(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "k8s_gpu_client.cli", "devices", "list", "--model", "RTX4090"],
        cwd=ROOT,
        env={**os.environ, **env, "GPUCTL_OUTPUT": "json"},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert {d["modelId"] for d in json.loads(result.stdout)} == {"RTX4090"}
