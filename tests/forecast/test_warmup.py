"""Forecasts are fitted in the background (analytics.services.forecast.warmup): a request after
the warm-up refits nothing (that a worker loads statsmodels unasked: test_lazy_import.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.forecasting import ForecastCache
from analytics.prom import PromClient
from analytics.services.forecast.service import SETTLE_SECONDS, ForecastService
from analytics.services.forecast.warmup import ForecastWarmup
from tests.analytics.prom_fake import FakePrometheus, fake_prometheus
from tests.forecast.test_cache import Clock, prometheus

__all__ = ["fake_prometheus"]

ROOT = Path(__file__).resolve().parents[2]


def test_a_request_after_the_warm_up_fits_nothing(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(prometheus)
    clock = Clock(datetime(2026, 3, 2, 10, 20, tzinfo=UTC))
    prom = PromClient(fake_prometheus.url, timeout_seconds=5)
    service = ForecastService(clock, prom, ForecastCache(), history_hours=10 * 24)
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
    service = ForecastService(Clock(now), PromClient("http://127.0.0.1:1"), ForecastCache(), 240)
    assert ForecastWarmup(service, Clock(now)).seconds_until_next_round() == seconds
