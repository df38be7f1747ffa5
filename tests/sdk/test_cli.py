"""gpuctl: --help on every command, JSON and YAML that parse and carry the API's fields, tables
(wide, without headers, empty), configuration by flags, environment or contexts, TLS, shell
completion, exit codes, against the demo stack."""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8s_gpu_client.cli import build_parser, main
from tests.conftest import ROOT, free_port
from tests.sdk.tls_proxy import Pki, make_pki, tls_front

VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()


def command_paths(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Every command and group of the parser, as argument prefixes (aliases left out)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:
                    continue
                seen.add(id(sub))
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


# kubectl's manners: version, output formats, contexts, TLS, completion.


def test_version_is_the_release_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"], env={})
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"gpuctl {VERSION}\n"


def identity(devices: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(d["deviceId"], d["gpuUuid"], d["serialNumber"], sorted(d)) for d in devices]


def test_get_devices_in_every_output(env: dict[str, str]) -> None:
    node = ["--node", "gpu-worker-3"]
    ids = [f"gpu-worker-3-GPU-{i:02d}" for i in range(8)]
    as_yaml = yaml.safe_load(run(["get", "devices", *node, "-o", "yaml"], env)[1])
    # Readings move between two calls; the identity fields and the field names do not.
    assert identity(as_yaml) == identity(as_json(["get", "devices", *node], env))
    assert [d["deviceId"] for d in as_yaml] == ids
    code, out, _ = run(["get", "devices", *node], env)
    header, *rows = out.splitlines()
    assert code == 0 and header.split()[:3] == ["DEVICE", "NODE", "MODEL"] and "UUID" not in header
    assert [r.split()[0] for r in rows] == ids
    _, wide, _ = run(["get", "devices", *node, "-o", "wide"], env)
    wide_header, *wide_rows = wide.splitlines()
    assert {"UUID", "PCI", "ARCH", "DRIVER"} <= set(wide_header.split())
    uuids = {d["gpuUuid"] for d in as_yaml}
    assert {r.split()[wide_header.split().index("UUID")] for r in wide_rows} == uuids
    _, bare, _ = run(["get", "devices", *node, "--no-headers"], env)
    assert [r.split()[:3] for r in bare.splitlines()] == [r.split()[:3] for r in rows]
    assert run(["get", "devices", *node, "-o", "name"], env)[1].split() == ids
    code, one, _ = run(["get", "devices", ids[3]], env)
    assert code == 0 and [line.split()[0] for line in one.splitlines()] == ["DEVICE", ids[3]]
    # The old spelling answers the same rows.
    assert identity(as_json(["devices", "list", *node], env)) == identity(as_yaml)


def test_an_empty_listing_prints_nothing_on_stdout(env: dict[str, str]) -> None:
    for output in ([], ["-o", "wide"], ["--no-headers"], ["-o", "name"]):
        code, out, err = run(["get", "allocations", "-n", "no-such-namespace", *output], env)
        assert (code, out, err) == (0, "", "No resources found.\n"), output
    code, out, _ = run(["get", "allocations", "-n", "no-such-namespace", "-o", "yaml"], env)
    assert code == 0 and yaml.safe_load(out) == []
    assert as_json(["get", "allocations", "-n", "no-such-namespace"], env) == []


def test_contexts_carry_server_credentials_and_namespace(
    tmp_path: Path, api_base: str, admin_key: str
) -> None:
    config = tmp_path / "gpuctl" / "config.yaml"
    env = {"GPUCTL_CONFIG": str(config)}
    dead = f"http://127.0.0.1:{free_port()}/k8s-monitor/api/v1"
    code, out, err = run(["config", "current-context"], env)
    assert (code, out, err) == (2, "", "gpuctl: current-context is not set\n")
    flags = [f"--server={api_base}", f"--api-key={admin_key}", "--namespace", "cli-ctx"]
    assert run(["config", "set-context", "demo", *flags], env)[0] == 0
    assert run(["config", "set-context", "dead", f"--server={dead}"], env)[0] == 0
    assert config.stat().st_mode & 0o777 == 0o600
    saved = yaml.safe_load(config.read_text())
    assert saved["current-context"] == "demo"  # the first context set becomes current
    assert saved["contexts"][0] == {
        "name": "demo",
        "server": api_base,
        "api-key": admin_key,
        "namespace": "cli-ctx",
    }
    assert run(["config", "current-context"], env)[1] == "demo\n"
    _, table, _ = run(["config", "get-contexts"], env)
    assert [line.split()[:2] for line in table.splitlines()] == [
        ["CURRENT", "NAME"],
        ["*", "demo"],
        ["dead", dead],
    ]
    assert run(["config", "get-contexts", "-o", "name"], env)[1].split() == ["demo", "dead"]

    # The current context's server and key; its namespace is allocate's and get's default.
    assert len(run(["get", "devices", "--model", "RTX4090", "-o", "name"], env)[1].split()) > 0
    created = as_json(["allocate", "--pod", "ctx-pod", "--memory-gb", "5", "--mig"], env)
    try:
        assert created["namespace"] == "cli-ctx"
        listed = run(["get", "allocations", "-o", "name"], env)[1].split()
        assert listed == [created["allocationId"]]
        everywhere = as_json(["get", "allocations", "-A"], env)
        assert created["allocationId"] in {a["allocationId"] for a in everywhere}
    finally:
        assert as_json(["release", created["allocationId"]], env)["status"] == "RELEASED"

    # --context, GPUCTL_CONTEXT and use-context pick another; a flag beats the context.
    assert run(["--context", "dead", "get", "devices", "--timeout", "2"], env)[0] == 3
    assert run(["get", "devices", "--timeout", "2"], {**env, "GPUCTL_CONTEXT": "dead"})[0] == 3
    assert run(["config", "use-context", "dead"], env)[1] == 'Switched to context "dead".\n'
    assert run(["get", "devices", "--timeout", "2"], env)[0] == 3
    flags_win = ["get", "devices", "-o", "name", f"--server={api_base}", f"--api-key={admin_key}"]
    assert len(run(flags_win, env)[1].split()) >= 32
    code, _, err = run(["config", "use-context", "nope"], env)
    assert code == 2 and 'context "nope" is not in' in err
    assert run(["--context", "nope", "get", "devices"], env)[0] == 2
    assert run(["config", "delete-context", "dead"], env)[0] == 0
    assert "current-context" not in yaml.safe_load(config.read_text())
    config.write_text("contexts:\n  - name: x\n    colour: blue\n")
    code, _, err = run(["get", "devices"], env)
    assert code == 2 and "unknown keys colour" in err


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_tls_flags_verify_the_server_and_present_a_client_certificate(
    pki: Pki, api_base: str, admin_key: str
) -> None:
    key = [f"--api-key={admin_key}", "--timeout", "10", "-o", "name"]
    with tls_front(api_base, pki, require_client_cert=False) as url:
        code, _, err = run(["get", "devices", f"--server={url}", *key])
        assert code == 3 and "CERTIFICATE_VERIFY_FAILED" in err
        code, out, err = run(
            ["get", "devices", f"--server={url}", "--certificate-authority", str(pki.ca), *key]
        )
        assert code == 0 and len(out.split()) >= 32, err
        code, out, err = run(
            ["get", "devices", f"--server={url}", "--insecure-skip-tls-verify", *key]
        )
        assert code == 0 and len(out.split()) >= 32 and err == ""
        code, _, err = run(
            ["get", "devices", f"--server={url}", "--certificate-authority", "/nope"]
        )
        assert code == 2 and "no such file" in err
    with tls_front(api_base, pki, require_client_cert=True) as url:
        verified = [f"--server={url}", "--certificate-authority", str(pki.ca), *key]
        assert run(["get", "devices", *verified])[0] == 3
        mutual = [*verified, "--client-certificate", str(pki.client_cert)]
        code, out, err = run(["get", "devices", *mutual, "--client-key", str(pki.client_key)])
        assert code == 0 and len(out.split()) >= 32, err
        tls_env = {
            "GPUCTL_CERTIFICATE_AUTHORITY": str(pki.ca),
            "GPUCTL_CLIENT_CERTIFICATE": str(pki.client_cert),
            "GPUCTL_CLIENT_KEY": str(pki.client_key),
        }
        assert run(["get", "devices", f"--server={url}", *key], tls_env)[0] == 0


def complete(script: Path, words: list[str], env: dict[str, str] | None = None) -> list[str]:
    """What bash completes for ``words`` (the last one being typed), with the script sourced."""
    line = " ".join(shlex.quote(w) for w in words)
    program = (
        f"source {shlex.quote(str(script))}\n"
        f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}\n"
        "_gpuctl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    result = subprocess.run(
        ["bash", "-c", program], check=True, capture_output=True, text=True, env=env, timeout=60
    )
    return result.stdout.split()


def test_bash_completion_completes_commands_options_and_contexts(tmp_path: Path) -> None:
    code, text, _ = run(["completion", "bash"])
    assert code == 0
    script = tmp_path / "gpuctl.bash"
    script.write_text(text)
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=60)
    registered = subprocess.run(
        ["bash", "-c", f"source {script}; complete -p gpuctl"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert registered.stdout.strip() == "complete -o default -F _gpuctl gpuctl"
    assert complete(script, ["gpuctl", "dev"]) == ["devices"]
    assert set(complete(script, ["gpuctl", ""])) >= {"get", "devices", "config", "completion"}
    assert complete(script, ["gpuctl", "--server", "http://x", "get", "dev"]) == ["devices"]
    assert set(complete(script, ["gpuctl", "devices", ""])) >= {"list", "show", "health"}
    assert "--no-headers" in complete(script, ["gpuctl", "get", "devices", "--"])
    assert complete(script, ["gpuctl", "get", "devices", "-o", "y"]) == ["yaml"]
    assert complete(script, ["gpuctl", "config", "use"]) == ["use-context"]
    # Context names come from the contexts file, through the installed gpuctl.
    config = tmp_path / "config.yaml"
    env = {"GPUCTL_CONFIG": str(config)}
    for name in ("prod", "staging"):
        assert run(["config", "set-context", name, "--server", "http://x"], env)[0] == 0
    path = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **env}
    assert complete(script, ["gpuctl", "config", "use-context", ""], path) == ["prod", "staging"]
    assert complete(script, ["gpuctl", "--context", "st"], path) == ["staging"]


def test_zsh_and_fish_completion_scripts() -> None:
    _, zsh, _ = run(["completion", "zsh"])
    assert zsh.startswith("#compdef gpuctl") and "bashcompinit" in zsh and "_gpuctl()" in zsh
    _, fish, _ = run(["completion", "fish"])
    lines = fish.splitlines()
    assert "complete -c gpuctl -n __fish_use_subcommand -a devices -d 'GPU inventory'" in lines
    assert (
        "complete -c gpuctl -n '__fish_seen_subcommand_from devices' -a list -d 'List GPUs'"
        in lines
    )
    for shell, text in (("zsh", zsh), ("fish", fish)):
        if shutil.which(shell):
            subprocess.run([shell, "-n"], input=text, text=True, check=True, timeout=60)
