"""Fixtures of the SDK tests: the demo fleet under a real stack, keys of each role, clients.

``demo_stack`` is a :class:`devstack.stack.Stack` on ``simulator/fleets/demo.yaml`` (node names
``gpu-worker-1`` ... as in the seed, so its scenarios run as written): one day of history, the
real exporters (with their simulated mig-managers, as ``make demo`` runs them), Prometheus and
the analytics service under gunicorn. Started once per session, its inventory synced before the
first test. Tests that change state (allocations, MIG layouts) undo it at their end, so the
order of tests does not matter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.stack import Stack
from k8s_gpu_client import GpuManagementClient
from tests.analytics.conftest import live_server  # noqa: F401 (a fixture)
from tests.conftest import ROOT
from tests.sdk.recording import Recorder
from tests.stack_fixtures import make_stack

DEMO_FLEET = ROOT / "simulator" / "fleets" / "demo.yaml"
HISTORY_DAYS = 1
SCRAPE_INTERVAL_S = 2


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("sdk-demo-stack")
    stack = make_stack(
        base,
        DEMO_FLEET,
        days=HISTORY_DAYS,
        analytics=True,
        interval_s=SCRAPE_INTERVAL_S,
        mig_manager=True,
    )
    with stack:
        # The inventory follows the exporters: sync once so every GPU of the fleet is known.
        response = requests.post(
            stack.analytics_url + "/gpu/metrics/collect",
            headers={"X-API-Key": stack.admin_api_key},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        yield stack


@pytest.fixture(scope="session")
def api_base(demo_stack: Stack) -> str:
    return demo_stack.analytics_url


@pytest.fixture(scope="session")
def admin_key(demo_stack: Stack) -> str:
    return demo_stack.admin_api_key


def create_api_key(data_dir: Path, role: str) -> str:
    """A key made by the service's own CLI on the service's database."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GPU_ANALYTICS_")},
        "GPU_ANALYTICS_DATA_DIR": str(data_dir),
    }
    result = subprocess.run(
        [sys.executable, "-m", "analytics", "create-api-key", "--role", role, "--name", role],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture(scope="session")
def viewer_key(demo_stack: Stack) -> str:
    return create_api_key(demo_stack.workdir / "analytics", "viewer")


@pytest.fixture(scope="session")
def operator_key(demo_stack: Stack) -> str:
    return create_api_key(demo_stack.workdir / "analytics", "operator")


@pytest.fixture
def client(api_base: str, admin_key: str) -> Iterator[GpuManagementClient]:
    with GpuManagementClient(base_url=api_base, api_key=admin_key) as sdk:
        yield sdk


@pytest.fixture
def anonymous(api_base: str) -> Iterator[GpuManagementClient]:
    with GpuManagementClient(base_url=api_base) as sdk:
        yield sdk


@pytest.fixture(scope="session")
def openapi(api_base: str) -> dict[str, Any]:
    """The OpenAPI document the running service serves."""
    document: dict[str, Any] = requests.get(
        api_base.removesuffix("/api/v1") + "/api-docs", timeout=10
    ).json()
    return document


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.session.close()


@pytest.fixture
def recorded(api_base: str, admin_key: str, recorder: Recorder) -> Iterator[GpuManagementClient]:
    """An admin client whose calls ``recorder`` sees."""
    with GpuManagementClient(base_url=api_base, api_key=admin_key, session=recorder.session) as sdk:
        yield sdk
