"""statsmodels is loaded on the first forecast (or by the background warm-up), never by starting
the service."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, tempfile
from pathlib import Path
from analytics import create_app
from analytics.settings import Settings
import analytics.forecasting, analytics.services.forecast.service, analytics.resources.forecast.routes
app = create_app(Settings(data_dir=Path(tempfile.mkdtemp()), sync_interval_seconds=0, forecast_warmup=False))
app.test_client().get("/k8s-monitor/api-docs")
assert "statsmodels" not in sys.modules, "statsmodels was imported at start"
import numpy as np
from analytics.forecasting import forecast_series
t = np.arange(240)
forecast_series(50 + 30 * np.cos(2 * np.pi * t / 24) + np.random.default_rng(0).normal(0, 2, 240), 24)
assert "statsmodels" in sys.modules, "the forecast did not use statsmodels"
print("ok")
"""


BACKGROUND_SCRIPT = """
import sys, tempfile, time
from pathlib import Path
from analytics import create_app
from analytics.settings import Settings
app = create_app(Settings(data_dir=Path(tempfile.mkdtemp()), sync_interval_seconds=0,
                          prometheus_url="http://127.0.0.1:9", prometheus_timeout_seconds=1))
deadline = time.monotonic() + 60
while "statsmodels.tsa.holtwinters" not in sys.modules:
    assert time.monotonic() < deadline, "statsmodels was not loaded in the background"
    time.sleep(0.1)
print("ok")
"""


def run_fresh(script: str) -> None:
    """``script`` in a fresh interpreter (nothing imported yet), warnings as errors: it prints ok."""
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_starting_the_service_does_not_import_statsmodels() -> None:
    run_fresh(SCRIPT)


def test_a_worker_loads_statsmodels_in_the_background_without_a_request() -> None:
    """The default forecast warm-up (analytics.services.forecast.warmup)."""
    run_fresh(BACKGROUND_SCRIPT)
