"""Every third-party import of each part is declared where that part is installed from, and
each declared dependency is imported: the pyprojects' extras against the code's own imports."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.conftest import ROOT
from tests.packaging.distributions import client_requirements, server_part

OUR_PACKAGES = {"exporter", "analytics", "gpucatalog", "k8s_gpu_client", "simulator", "devstack"}
# The import name of a namespace shared by several distributions: the subpackage decides.
NAMESPACE_PACKAGES = {"google.protobuf": "protobuf"}
# Declared, never imported by name: loaded by another library at run time.
LOADED_INDIRECTLY = {
    # SQLAlchemy imports the driver named by the database URL (postgresql+psycopg://).
    "psycopg",
}


def imported_modules(package: str) -> Iterator[tuple[Path, str]]:
    """Every absolute import in a package's modules (lazy and TYPE_CHECKING ones too)."""
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield path, node.module


@cache
def distributions_of_top_level() -> dict[str, list[str]]:
    return {
        name: [canonicalize_name(d) for d in dists]
        for name, dists in metadata.packages_distributions().items()
    }


def distribution_of(module: str) -> str | None:
    """The distribution that provides an imported module; None for ours and the stdlib's."""
    top = module.split(".", maxsplit=1)[0]
    if top in OUR_PACKAGES or top in sys.stdlib_module_names or top == "__future__":
        return None
    for prefix, dist in NAMESPACE_PACKAGES.items():
        if module == prefix or module.startswith(prefix + "."):
            return dist
    candidates = distributions_of_top_level().get(top)
    assert candidates, f"{module} is imported but no installed distribution provides it"
    assert len(candidates) == 1, f"{module}: which of {candidates}?"
    return candidates[0]


def third_party(packages: list[str]) -> dict[str, set[str]]:
    """Distribution -> the files that import it."""
    found: dict[str, set[str]] = {}
    for package in packages:
        for path, module in imported_modules(package):
            dist = distribution_of(module)
            if dist is not None:
                found.setdefault(dist, set()).add(str(path.relative_to(ROOT)))
    return found


# Each part: its packages.
PARTS = {
    "exporter": ["exporter", "gpucatalog"],
    "analytics": ["analytics", "gpucatalog"],
    "k8s-gpu-client": ["k8s_gpu_client"],
}


def declared(part: str) -> set[str]:
    """What installing the part asks for directly."""
    if part == "k8s-gpu-client":
        return set(client_requirements())
    return set(server_part(part))


@pytest.mark.parametrize("part", sorted(PARTS))
def test_every_third_party_import_is_declared(part: str) -> None:
    imported = third_party(PARTS[part])
    missing = {d: sorted(files) for d, files in imported.items() if d not in declared(part)}
    assert not missing, f"{part} imports distributions it does not declare: {missing}"


@pytest.mark.parametrize("part", sorted(PARTS))
def test_every_declared_dependency_is_imported(part: str) -> None:
    imported = set(third_party(PARTS[part]))
    unused = declared(part) - imported - LOADED_INDIRECTLY
    assert not unused, f"{part} declares distributions nothing of it imports: {sorted(unused)}"


def test_the_checker_sees_lazy_imports() -> None:
    # statsmodels is imported inside a function of analytics.forecasting.models alone.
    assert "statsmodels" in third_party(["analytics"])
    assert "grpcio" in third_party(["exporter"]) and "protobuf" in third_party(["exporter"])
    assert "flask" not in third_party(["exporter", "k8s_gpu_client"])
