"""The cost stack: simulator/fleets/cost-scenarios.yaml with 31 days of history at a 5-minute
step in a real Prometheus, the real exporters and cluster series, and the analytics service
under gunicorn (2 workers). One per test session, shared by the modules of tests/cost."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.stack import Stack
from tests.stack_fixtures import backend_of, history_cache, make_stack, shared_stack

ROOT = Path(__file__).resolve().parent.parent.parent
COST_FLEET = ROOT / "simulator" / "fleets" / "cost-scenarios.yaml"
HISTORY_DAYS = 31
HISTORY_STEP_S = 300


class CostStack:
    def __init__(self, stack: Stack, backfill_seconds: float) -> None:
        self.stack = stack
        self.api = stack.analytics_url
        self.admin = {"X-API-Key": stack.admin_api_key}
        self.backfill_seconds = backfill_seconds
        self._keys: dict[str, str] = {}

    def key(self, role: str) -> dict[str, str]:
        """An API key with ``role``, made with the CLI against the service's database."""
        if role not in self._keys:
            env = {k: v for k, v in os.environ.items() if not k.startswith("GPU_ANALYTICS_")}
            env["GPU_ANALYTICS_DATA_DIR"] = str(self.stack.workdir / "analytics")
            created = subprocess.run(
                [sys.executable, "-m", "analytics", "create-api-key", "--role", role],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            self._keys[role] = created.stdout.strip()
        return {"X-API-Key": self._keys[role]}

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.api + path, params=params, timeout=60)

    def data(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()["data"]


@pytest.fixture(scope="session")
def cost_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> CostStack:
    """Prometheus' unless a ``metrics_backends`` test asks for another backend; one per backend
    for the session (tests/stack_fixtures.shared_stack)."""
    backend = backend_of(request)
    started = time.monotonic()

    def make() -> Stack:
        return make_stack(
            tmp_path_factory.mktemp(f"cost-stack-{backend}"),
            COST_FLEET,
            days=HISTORY_DAYS,
            analytics=True,
            step=HISTORY_STEP_S,
            interval_s=5,
            backend=backend,
            cache_dir=history_cache(tmp_path_factory),
        )

    stack = shared_stack(request.config, f"cost-{backend}", make)
    info = stack.history
    backfill = info.seconds if info is not None else time.monotonic() - started
    return CostStack(stack, backfill)
