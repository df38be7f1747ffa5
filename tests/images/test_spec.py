"""scripts/images.py reads what each image runs from its Dockerfile: the parts it relies on, and
the Dockerfiles it refuses (no root user, one `pip install .[extras]`). No root needed."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from gpucatalog.release import release_version

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def images() -> ModuleType:
    sys.path.insert(0, str(ROOT / "scripts"))  # as when run: it imports oci_archive beside it
    spec = importlib.util.spec_from_file_location("images", ROOT / "scripts" / "images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["images"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


GOOD = """\
FROM base AS build
COPY exporter/ exporter/
COPY gpucatalog/ gpucatalog/
RUN /opt/venv/bin/pip install --require-hashes --requirement=exporter.lock.txt
RUN /opt/venv/bin/pip install --no-deps ".[exporter]" \\
    && /opt/venv/bin/pip check
FROM base
ENV PATH=/opt/venv/bin:$PATH \\
    A=1
USER {user}
EXPOSE 9835
ENTRYPOINT ["gpu-exporter"]
CMD ["--log-level", "INFO"]
"""


def test_the_dockerfiles_final_stage_becomes_the_image_config(
    images: ModuleType, tmp_path: Path
) -> None:
    dockerfile = tmp_path / "exporter.Dockerfile"
    dockerfile.write_text(GOOD.format(user="10001:10002"))
    spec = images.read_spec("gpu-exporter", dockerfile)
    assert spec.packages == ("exporter", "gpucatalog")
    assert (spec.install, spec.extras) == (".[exporter]", "exporter")
    assert spec.entrypoint == ("gpu-exporter",) and spec.cmd == ("--log-level", "INFO")
    assert spec.uid_gid == (10001, 10002)
    assert dict(spec.env) == {"PATH": "/opt/venv/bin:" + images.DEFAULT_PATH, "A": "1"}
    assert spec.exposed_ports == ("9835/tcp",) and spec.volumes == ()


@pytest.mark.parametrize("user", ["0", "0:0", "root", "gpu-exporter"])
def test_a_root_or_named_user_is_refused(images: ModuleType, tmp_path: Path, user: str) -> None:
    dockerfile = tmp_path / "exporter.Dockerfile"
    dockerfile.write_text(GOOD.format(user=user))
    with pytest.raises(images.ImageBuildError, match="numeric non-root"):
        images.read_spec("gpu-exporter", dockerfile)


def test_a_build_stage_without_one_project_install_is_refused(
    images: ModuleType, tmp_path: Path
) -> None:
    dockerfile = tmp_path / "exporter.Dockerfile"
    dockerfile.write_text(GOOD.format(user="10001").replace('".[exporter]"', "flask"))
    with pytest.raises(images.ImageBuildError, match=r"one `pip install \.\[extras\]`"):
        images.read_spec("gpu-exporter", dockerfile)


def test_an_unknown_image_is_refused_with_the_known_ones(images: ModuleType) -> None:
    with pytest.raises(images.ImageBuildError, match="gpu-exporter, gpu-analytics"):
        images.read_spec("gpu-dashboard")


def test_the_version_is_the_projects(images: ModuleType) -> None:
    """The one version: VERSION, which pyproject.toml reads (and the server reports)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"file": "VERSION"}
    assert images.project_version() == release_version()


def test_the_lock_files_pin_every_wheel_with_a_hash(images: ModuleType) -> None:
    for name in images.IMAGES:
        lock = images.read_spec(name).lock
        text = lock.read_text()
        pins = images.read_lock(lock)
        assert pins and text.count("--hash=sha256:") == len(pins), lock
    assert [name for name, _ in images.read_lock(images.PIP_LOCK)] == ["pip"]
    exporter = {name for name, _ in images.read_lock(images.read_spec("gpu-exporter").lock)}
    analytics = {name for name, _ in images.read_lock(images.read_spec("gpu-analytics").lock)}
    assert {"nvidia-ml-py", "grpcio", "kubernetes"} <= exporter
    assert {"flask", "pandas", "gunicorn", "psycopg-binary"} <= analytics
    assert not exporter & {"flask", "pandas", "statsmodels", "numpy"}
