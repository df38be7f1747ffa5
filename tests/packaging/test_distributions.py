"""The two distributions as built: the server wheel (k8s-gpu-management) and the SDK's
(k8s-gpu-client): their files, metadata and entry points, the gRPC/protobuf floors against the
generated stubs, and the SDK wheel installed alone into a fresh virtual environment."""

from __future__ import annotations

import configparser
import email
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT
from tests.packaging.distributions import CLIENT_DIR, VERSION, server_part


@dataclass(frozen=True)
class Wheel:
    path: Path
    names: list[str]
    meta: Message
    entry_points: configparser.ConfigParser

    @property
    def top_level(self) -> set[str]:
        return {n.split("/")[0] for n in self.names if not n.split("/")[0].endswith(".dist-info")}

    def requires(self, extra: str | None = None) -> dict[str, Requirement]:
        found: dict[str, Requirement] = {}
        for line in self.meta.get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            marker = requirement.marker
            wanted = marker.evaluate({"extra": extra or ""}) if marker else extra is None
            if wanted:
                found[canonicalize_name(requirement.name)] = requirement
        return found


def read_wheel(path: Path) -> Wheel:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(archive.read(f"{info}/METADATA"))
        entry_points = configparser.ConfigParser()
        if f"{info}/entry_points.txt" in names:
            entry_points.read_string(archive.read(f"{info}/entry_points.txt").decode())
    return Wheel(path, names, meta, entry_points)


# What the two builds read, copied (links kept) so that setuptools' build/ and egg-info
# directories, which later builds reuse, never stay behind in the checkout.
SOURCES = ["pyproject.toml", "README.md", "VERSION", "LICENSE", "clients/python"]
PACKAGES = ["exporter", "analytics", "gpucatalog", "k8s_gpu_client", "simulator", "devstack"]
LEFT_BEHIND = shutil.ignore_patterns("__pycache__", "build", "*.egg-info")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Wheel]:
    """Both wheels, built by pip with this environment's setuptools from a copy of the checkout."""
    tree = tmp_path_factory.mktemp("tree")
    for name in [*SOURCES, *PACKAGES]:
        source, target = ROOT / name, tree / name
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, ignore=LEFT_BEHIND)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"),
            *("--no-index", "-w", str(out), str(tree / CLIENT_DIR.relative_to(ROOT)), str(tree)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    built = {read_wheel(p).meta["Name"]: read_wheel(p) for p in out.glob("*.whl")}
    assert set(built) == {"k8s-gpu-client", "k8s-gpu-management"}, built
    return built


def test_client_wheel_is_the_sdk_and_gpuctl_alone(wheels: dict[str, Wheel]) -> None:
    client = wheels["k8s-gpu-client"]
    assert client.meta["Version"] == VERSION
    assert client.top_level == {"k8s_gpu_client"}
    for name in ["__init__.py", "py.typed", "cli/__init__.py", "api/devices.py", "_version.py"]:
        assert f"k8s_gpu_client/{name}" in client.names, name
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in client.names)
    assert set(client.requires()) == {"requests", "pyyaml"}
    assert dict(client.entry_points["console_scripts"]) == {"gpuctl": "k8s_gpu_client.cli:main"}


def test_server_wheel_has_no_sdk_simulator_or_devstack(wheels: dict[str, Wheel]) -> None:
    server = wheels["k8s-gpu-management"]
    assert server.meta["Version"] == VERSION
    assert server.top_level == {"exporter", "analytics", "gpucatalog"}
    assert "exporter/podresources/api.proto" in server.names
    assert "analytics/store/migrations/script.py.mako" in server.names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in server.names)
    assert dict(server.entry_points["console_scripts"]) == {
        "gpu-exporter": "exporter.main:main",
        "gpu-analytics": "analytics.cli:main",
    }
    assert set(server.requires()) == {"pyyaml"}
    # The SDK only through the extras that ask for it; the node agent without the service's.
    assert set(server.requires("sdk")) == {"k8s-gpu-client"}
    exporter = set(server.requires("exporter"))
    assert not exporter & {"flask", "pandas", "statsmodels", "k8s-gpu-client", "sqlalchemy"}
    assert "k8s-gpu-client" not in server.requires("analytics")


def generated_floors() -> tuple[Version, Version]:
    """The grpcio and protobuf versions exporter/podresources/api_pb2*.py were generated by."""
    stubs = ROOT / "exporter" / "podresources"
    grpc_text = (stubs / "api_pb2_grpc.py").read_text(encoding="utf-8")
    grpc_match = re.search(r"^GRPC_GENERATED_VERSION = '([^']+)'", grpc_text, re.M)
    pb_text = (stubs / "api_pb2.py").read_text(encoding="utf-8")
    pb_match = re.search(
        r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,"
        r"\s*(\d+),\s*(\d+),\s*(\d+),",
        pb_text,
    )
    assert grpc_match and pb_match, "the stubs' version checks moved: update this test"
    return Version(grpc_match[1]), Version(".".join(pb_match.groups()))


def floor(requirement: Requirement) -> Version:
    (lower,) = [s for s in requirement.specifier if s.operator == ">="]
    return Version(lower.version)


def test_grpc_and_protobuf_floors_are_the_generated_stubs_versions() -> None:
    grpc_version, protobuf_version = generated_floors()
    exporter = server_part("exporter")
    assert floor(exporter["grpcio"]) == grpc_version
    assert floor(exporter["protobuf"]) == protobuf_version
    # protobuf's runtime check refuses another major version than the generator's.
    assert not exporter["protobuf"].specifier.contains(f"{protobuf_version.major + 1}.0.0")
    assert floor(server_part("dev")["grpcio-tools"]) == grpc_version
    # And this environment satisfies them: the stubs import here (tests/exporter use them).
    assert exporter["grpcio"].specifier.contains(metadata.version("grpcio"))
    assert exporter["protobuf"].specifier.contains(metadata.version("protobuf"))


def closure(requirements: list[Requirement]) -> Iterator[metadata.Distribution]:
    """The installed distributions that satisfy requirements, with theirs, transitively."""
    seen: set[str] = set()
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        dist = metadata.distribution(name)
        assert requirement.specifier.contains(dist.version), (requirement, dist.version)
        yield dist
        pending += [Requirement(r) for r in dist.requires or []]


def test_sdk_wheel_installs_alone_with_gpuctl(wheels: dict[str, Wheel], tmp_path: Path) -> None:
    """A fresh venv gets the SDK wheel and, offline, its declared dependencies' installed files:
    gpuctl runs, and nothing of the service, the exporter, Flask or pandas can be imported."""
    client = wheels["k8s-gpu-client"]
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "-q"),
            *("--no-deps", "--no-index", str(client.path)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    # The declared dependencies and theirs, copied from this environment: exactly that closure.
    deps = tmp_path / "deps"
    for dist in closure(list(client.requires().values())):
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if source.is_file() and not str(file).startswith(".."):
                target = deps / file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "declared-deps.pth").write_text(str(deps) + "\n")

    version = subprocess.run(
        [str(env_dir / "bin" / "gpuctl"), "--version"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.stdout.strip() == f"gpuctl {VERSION}"
    probe = (
        "import importlib.util as u, k8s_gpu_client, k8s_gpu_client.cli, yaml, requests;"
        "print(k8s_gpu_client.__version__, k8s_gpu_client.__file__);"
        "print(*[m for m in ('flask','pandas','exporter','analytics','simulator','grpc')"
        " if u.find_spec(m)])"
    )
    result = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    found_version, location = result.stdout.splitlines()[0].split()
    assert found_version == VERSION and location.startswith(site)
    assert result.stdout.splitlines()[1] == ""


def test_files_that_cannot_read_version_repeat_it() -> None:
    """The Go SDK's constant, the Java SDK's POM and the chart's appVersion (the images' tag)
    cannot read VERSION: they must say the same."""
    go = (ROOT / "clients" / "go" / "client.go").read_text(encoding="utf-8")
    go_version = re.search(r'^const Version = "([^"]+)"$', go, re.M)
    assert go_version and go_version[1] == VERSION
    pom = (ROOT / "clients" / "java" / "pom.xml").read_text(encoding="utf-8")
    project_version = re.search(r"</artifactId>\s*<version>([^<]+)</version>", pom)
    assert project_version and project_version[1] == VERSION
    chart = (ROOT / "charts" / "k8s-gpu-management" / "Chart.yaml").read_text(encoding="utf-8")
    app_version = re.search(r'^appVersion: "?([^"\n]+)"?$', chart, re.M)
    assert app_version and app_version[1] == VERSION
