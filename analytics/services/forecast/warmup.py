"""Forecasts are fitted in the background, so no client request pays for statsmodels.

Each worker runs a daemon thread that imports statsmodels at start, then computes the default
GPU and resource forecasts, which fills the per-worker forecast cache (keyed by series and the
hour of its last point, analytics.services.forecast.service): requests of that hour, whatever their
``hours``, reuse the fits. It does so again after every whole hour, once the hour's history has
settled. When Prometheus cannot answer it tries again a minute later.
"""

from __future__ import annotations

import logging
import threading

from analytics.clock import Clock
from analytics.errors import AnalyticsError
from analytics.forecasting import models
from analytics.services.forecast.service import SETTLE_SECONDS, ForecastService

log = logging.getLogger(__name__)

RETRY_SECONDS = 60.0


class ForecastWarmup:
    def __init__(self, forecast: ForecastService, clock: Clock) -> None:
        self._forecast = forecast
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0  # rounds that fitted both forecasts (tests read it)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="forecast-warmup", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> None:
        """Fit the default forecasts now (into the cache)."""
        self._forecast.gpu_forecast()
        self._forecast.resource_forecast()
        self.rounds += 1

    def seconds_until_next_round(self) -> float:
        """Until the next whole hour's history has settled."""
        into_hour = self._clock.now().timestamp() % 3600
        return (SETTLE_SECONDS - into_hour) % 3600 or 3600.0

    def _loop(self) -> None:
        try:
            models.load()
        except Exception:
            log.exception("forecast warm-up could not load the forecasting models")
        wait = 0.0
        while not self._stop.wait(wait):
            try:
                self.run_once()
                wait = self.seconds_until_next_round()
            except AnalyticsError as exc:
                log.info("forecast warm-up: %s; trying again in %.0f s", exc.message, RETRY_SECONDS)
                wait = RETRY_SECONDS
            except Exception:
                log.exception("forecast warm-up failed; trying again in %.0f s", RETRY_SECONDS)
                wait = RETRY_SECONDS
