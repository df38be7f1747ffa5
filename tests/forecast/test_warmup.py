"""Forecasts are fitted in the background (analytics.services.forecast_warmup): a request after
the warm-up refits nothing, and a worker loads statsmodels without being asked."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.forecasting import ForecastCache
from analytics.prom import PromClient
from analytics.services.forecast import SETTLE_SECONDS, ForecastService
from analytics.services.forecast_warmup import ForecastWarmup
from tests.analytics.prom_fake import FakePrometheus, fake_prometheus
from tests.forecast.test_cache import Clock, prometheus

__all__ = ["fake_prometheus"]

ROOT = Path(__file__).resolve().parents[2]


def test_a_request_after_the_warm_up_fits_nothing(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(prometheus)
    clock = Clock(datetime(2026, 3, 2, 10, 20, tzinfo=UTC))
    prom = PromClient(fake_prometheus.url, timeout_seconds=5)
    service = ForecastService(clock, lambda: prom, ForecastCache(), history_hours=10 * 24)
    warmup = ForecastWarmup(service, clock)
    warmup.run_once()
    fitted = service.cache.computed
    assert fitted > 0 and warmup.rounds == 1
    clock.moment += timedelta(minutes=20)
    for hours in (1, 24, 168):
        service.gpu_forecast(hours)
    assert service.cache.computed == fitted


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC), SETTLE_SECONDS),
        (datetime(2026, 3, 2, 10, 1, 0, tzinfo=UTC), SETTLE_SECONDS - 60),
        (datetime(2026, 3, 2, 10, 0, tzinfo=UTC) + timedelta(seconds=SETTLE_SECONDS), 3600),
        (datetime(2026, 3, 2, 10, 20, 0, tzinfo=UTC), 3600 - 20 * 60 + SETTLE_SECONDS),
    ],
)
def test_the_next_round_follows_each_hour_once_its_history_settled(
    now: datetime, seconds: float
) -> None:
    service = ForecastService(
        Clock(now), lambda: PromClient("http://127.0.0.1:1"), ForecastCache(), 240
    )
    assert ForecastWarmup(service, Clock(now)).seconds_until_next_round() == seconds


SCRIPT = """
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


def test_a_worker_loads_statsmodels_in_the_background_without_a_request() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
