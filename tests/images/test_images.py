"""`make images` end to end: both OCI archives built (scripts/images.py), read as a registry
would, and run the way the chart runs them (non-root, read-only root, writable data and /tmp).

No container runtime runs here (no Docker daemon; podman loads the archives, but its runtime
may not set the container's rlimits in this sandbox: crun's setrlimit fails with EPERM), so each
image's layers are unpacked and run in a chroot in a private mount namespace: the image's own
Python, venv, user and environment; the host's network and kernel. The exporter runs on the
simulator (`python -m simulator.exporter` from the image's venv, with the checkout's simulator/
mounted read-only at /opt/test: the server wheel leaves the simulator out); the analytics
service runs its entry point and command.

The build is cached in build/images/cache by its inputs: the first run builds the Debian base
and both venvs (minutes), later runs re-assemble the archives (seconds).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.chart.chart import render
from tests.images.oci import (
    OciImage,
    chroot_command,
    descendants,
    image_env,
    is_root,
    running_as,
)

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
SOURCE = "https://git.example.com/k8s-gpu-management"
SITE_PACKAGES = "/opt/venv/lib/python3.11/site-packages"
# The checkout's simulator/ is mounted here (read-only to the image's user) for the exporter.
TEST_MOUNT = "/opt/test"
BUILD_TIMEOUT_S = 900

pytestmark = [
    pytest.mark.skipif(not is_root(), reason="building and running the images needs root"),
    pytest.mark.timeout(BUILD_TIMEOUT_S + 120),
]


def build(out: Path, *options: str) -> dict[str, Path]:
    """`make images` into ``out`` (layers cached in build/images/cache unless ``--cache``)."""
    result = subprocess.run(
        [
            sys.executable,
            "scripts/images.py",
            "build",
            "--out",
            str(out),
            "--source",
            SOURCE,
            *options,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {name: out / f"{name}.oci.tar" for name in ("gpu-exporter", "gpu-analytics")}


@pytest.fixture(scope="session")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def images(archives: dict[str, Path]) -> dict[str, OciImage]:
    return {name: OciImage.read(path) for name, path in archives.items()}


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


# -- the archives ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gpu-exporter", "gpu-analytics"])
def test_archive_is_an_oci_layout_whose_blobs_match_their_digests(
    images: dict[str, OciImage], name: str
) -> None:
    image = images[name]
    image.verify_layers()
    (entry,) = image.index["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == f"{name}:{VERSION}"
    assert image.config["os"] == "linux" and image.config["architecture"] == "amd64"


def test_skopeo_reads_both_archives(archives: dict[str, Path]) -> None:
    for name, path in archives.items():
        result = subprocess.run(
            ["skopeo", "inspect", f"oci-archive:{path}"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["Labels"]["org.opencontainers.image.title"] == name


@pytest.mark.parametrize("name", ["gpu-exporter", "gpu-analytics"])
def test_labels_name_the_version_revision_source_and_licence(
    images: dict[str, OciImage], name: str
) -> None:
    labels = images[name].config["config"]["Labels"]
    commit_time = int(_git("log", "-1", "--format=%ct"))
    expected_created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(commit_time))
    assert labels == {
        "org.opencontainers.image.title": name,
        "org.opencontainers.image.version": VERSION,
        "org.opencontainers.image.revision": _git("rev-parse", "HEAD"),
        "org.opencontainers.image.source": SOURCE,
        "org.opencontainers.image.licenses": PROJECT["license"]["text"],
        "org.opencontainers.image.created": expected_created,
    }
    assert images[name].config["created"] == expected_created


def test_dockerfiles_set_the_same_labels(images: dict[str, OciImage]) -> None:
    for name, image in images.items():
        text = (ROOT / "docker" / f"{name.removeprefix('gpu-')}.Dockerfile").read_text()
        in_dockerfile = set(re.findall(r"(org\.opencontainers\.image\.[a-z]+)=", text))
        assert in_dockerfile == set(image.config["config"]["Labels"]) - {
            "org.opencontainers.image.created"  # Docker's own `Created`, from the build
        }


def test_both_images_share_the_debian_base_layer(images: dict[str, OciImage]) -> None:
    exporter, analytics = images["gpu-exporter"], images["gpu-analytics"]
    assert len(exporter.layer_digests) == len(analytics.layer_digests) == 2
    assert exporter.layer_digests[0] == analytics.layer_digests[0]
    assert exporter.layer_digests[1] != analytics.layer_digests[1]


def test_images_run_their_entry_points_as_the_charts_non_root_user(
    images: dict[str, OciImage],
) -> None:
    scripts = PROJECT["scripts"]
    exporter = images["gpu-exporter"].config["config"]
    analytics = images["gpu-analytics"].config["config"]
    assert exporter["Entrypoint"] == ["gpu-exporter"] and "gpu-exporter" in scripts
    assert analytics["Entrypoint"] == ["gpu-analytics"] and "gpu-analytics" in scripts
    assert analytics["Cmd"][0] == "serve"
    pod = render({}).one("Deployment")["spec"]["template"]["spec"]
    user = f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    assert analytics["User"] == exporter["User"] == user != "0:0"
    data_dir = pod["containers"][0]["volumeMounts"][0]["mountPath"]
    assert analytics["Volumes"] == {data_dir: {}}
    assert f"GPU_ANALYTICS_DATA_DIR={data_dir}" in analytics["Env"]
    assert exporter["ExposedPorts"] == {"9835/tcp": {}}
    assert analytics["ExposedPorts"] == {"8080/tcp": {}}


def test_exporter_image_rebuilds_bit_for_bit_from_its_inputs(
    archives: dict[str, Path], tmp_path: Path
) -> None:
    """Its venv layer made again from nothing (wheels fetched, venv installed, bytecode
    compiled, layer tarred and compressed) gives the same archive, digests and all. The Debian
    base is reused: rebuilding it needs the archive to be unchanged since (a snapshot mirror)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for base in (ROOT / "build" / "images" / "cache").glob("base-*"):
        os.link(base, cache / base.name)
    assert list(cache.glob("base-*.tar"))
    rebuilt = build(tmp_path / "out", "--cache", str(cache), "--only", "gpu-exporter")
    assert [path.name for path in cache.glob("gpu-exporter-*.tar")]
    assert rebuilt["gpu-exporter"].read_bytes() == archives["gpu-exporter"].read_bytes()


# -- the images, run ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rootfs(
    images: dict[str, OciImage], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    found = {}
    for name, image in images.items():
        path = tmp_path_factory.mktemp(name) / "rootfs"
        image.unpack(path)
        found[name] = path
    return found


class Container:
    """A process started in an unpacked image; its output in ``log``; stopped on exit."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            assert self.process.poll() is None, (
                f"exited {self.process.returncode}:\n{self.output()}"
            )
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in {timeout}s:\n{self.output()}")

    def processes_running(self, marker: str) -> list[int]:
        found = []
        for pid in descendants(self.process.pid):
            try:
                if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    found.append(pid)
            except OSError:
                continue
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


Start = Callable[[list[str]], Container]


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Start]:
    started: list[Container] = []

    def start(command: list[str]) -> Container:
        started.append(Container(command, tmp_path / f"container-{len(started)}.log"))
        return started[-1]

    yield start
    for item in started:
        item.stop()


def test_runtime_images_hold_the_venv_but_no_build_tools(rootfs: dict[str, Path]) -> None:
    for name, path in rootfs.items():
        site = path / SITE_PACKAGES.lstrip("/")
        installed = {entry.name.split("-")[0].lower() for entry in site.glob("*.dist-info")}
        assert "k8s_gpu_management" in installed, name
        assert not installed & {"pip", "setuptools", "wheel"}, name
        assert not (path / "build").exists() and not (path / "usr/bin/pip3").exists(), name
        # Documentation, manual pages and translations left out; copyright files kept.
        docs = [
            entry
            for top in ("usr/share/doc", "usr/share/man", "usr/share/locale")
            for entry in (path / top).rglob("*")
            if entry.is_file() and not entry.is_symlink() and entry.name != "copyright"
        ]
        assert not docs, docs[:5]
        assert list((path / "usr/share/doc").glob("*/copyright"))
    exporter = {
        entry.name.split("-")[0].lower()
        for entry in (rootfs["gpu-exporter"] / SITE_PACKAGES.lstrip("/")).glob("*.dist-info")
    }
    assert {"nvidia_ml_py", "grpcio", "kubernetes"} <= exporter
    assert not exporter & {"flask", "pandas", "statsmodels", "numpy"}
    for absent in ("analytics", "simulator", "devstack"):
        assert not (rootfs["gpu-exporter"] / SITE_PACKAGES.lstrip("/") / absent).exists(), absent


def test_exporter_image_serves_the_simulated_nodes_gpus(
    images: dict[str, OciImage], rootfs: dict[str, Path], container: Start
) -> None:
    config = images["gpu-exporter"].config
    fleet_file = "test-small.yaml"
    fleet = yaml.safe_load((ROOT / "simulator" / "fleets" / fleet_file).read_text())
    node = fleet["nodes"][0]
    exporter = container(
        chroot_command(
            rootfs["gpu-exporter"],
            [
                "python",
                "-m",
                "simulator.exporter",
                "--simulated-fleet",
                f"{TEST_MOUNT}/simulator/fleets/{fleet_file}",
                "--node-name",
                node["name"],
                "--listen",
                "127.0.0.1:0",
            ],
            user=config["config"]["User"],
            env={**image_env(config), "PYTHONPATH": TEST_MOUNT},
            writable={f"{TEST_MOUNT}/simulator": ROOT / "simulator"},
        )
    )
    url = exporter.wait_for(r"serving (http://\S+)/metrics").group(1)
    status, text = _get(url + "/metrics")
    assert status == 200
    gpus = {
        (labels["node"], labels["gpu"])
        for line in text.splitlines()
        if line.startswith("gpu_info{")
        for labels in [dict(re.findall(r'(\w+)="([^"]*)"', line))]
    }
    assert gpus == {(node["name"], str(index)) for index in range(len(node["gpus"]))}
    (pid,) = exporter.processes_running("simulator.exporter")
    uid, _, gid = config["config"]["User"].partition(":")
    assert running_as(pid) == (int(uid), int(gid)) != (0, 0)


def test_exporter_entry_point_runs_and_says_when_nvml_is_missing(
    images: dict[str, OciImage], rootfs: dict[str, Path]
) -> None:
    config = images["gpu-exporter"].config
    command = chroot_command(
        rootfs["gpu-exporter"],
        [*config["config"]["Entrypoint"], "--node-name", "node-1", "--listen", "127.0.0.1:0"],
        user=config["config"]["User"],
        env=image_env(config),
        writable={},
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    # No driver in the image: the NVIDIA runtime mounts libnvidia-ml.so.1 at run time.
    assert result.returncode != 0
    assert re.search(r"gpu-exporter: error: .*NVML", result.stdout + result.stderr), result


def test_analytics_image_serves_health_with_its_database_migrated(
    images: dict[str, OciImage], rootfs: dict[str, Path], container: Start, tmp_path: Path
) -> None:
    config = images["gpu-analytics"].config
    (data_dir,) = config["config"]["Volumes"]
    volume = tmp_path / "data"
    volume.mkdir()
    uid, gid = (int(part) for part in config["config"]["User"].split(":"))
    os.chown(volume, uid, gid)
    port = _free_port()
    command = list(config["config"]["Cmd"])
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    service = container(
        chroot_command(
            rootfs["gpu-analytics"],
            [*config["config"]["Entrypoint"], *command],
            user=config["config"]["User"],
            env=image_env(config),
            writable={data_dir: volume},
        )
    )
    deadline = time.monotonic() + 90
    status, body = 0, ""
    while time.monotonic() < deadline:
        assert service.process.poll() is None, service.output()
        try:
            status, body = _get(f"http://127.0.0.1:{port}/k8s-monitor/api/actuator/health")
            break
        except OSError:
            time.sleep(0.25)
    assert status == 200, (body, service.output())
    health = json.loads(body)
    assert health["status"] == "UP"
    assert health["components"]["db"] == {"status": "UP"}
    assert health["components"]["migrations"]["status"] == "UP"
    # The database lives on the volume, written by the image's user.
    databases = list(volume.iterdir())
    assert databases and all(path.stat().st_uid == uid for path in databases)
    workers = service.processes_running("gpu-analytics")
    assert workers and all(running_as(pid) == (uid, gid) for pid in workers)
