"""What the two pyprojects declare, read as pip reads them: names, extras and requirements."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

SERVER_PYPROJECT = ROOT / "pyproject.toml"
CLIENT_DIR = ROOT / "clients" / "python"
CLIENT_PYPROJECT = CLIENT_DIR / "pyproject.toml"
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()


def project(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        table: dict[str, Any] = tomllib.load(handle)["project"]
    return table


def requirements(lines: list[str]) -> dict[str, Requirement]:
    """Requirements by canonical distribution name."""
    parsed = [Requirement(line) for line in lines]
    return {canonicalize_name(r.name): r for r in parsed}


def server_part(extra: str) -> dict[str, Requirement]:
    """What installing ``k8s-gpu-management[extra]`` asks for directly: base plus the extra."""
    table = project(SERVER_PYPROJECT)
    return {
        **requirements(table["dependencies"]),
        **requirements(table["optional-dependencies"][extra]),
    }


def client_requirements() -> dict[str, Requirement]:
    return requirements(project(CLIENT_PYPROJECT)["dependencies"])
