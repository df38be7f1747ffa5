"""Forecasts already computed, per series and hour of its last point, so a warm request does
not refit. In memory, per process (each gunicorn worker keeps its own); least recently used
entries go first."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from analytics.forecasting.baseline import Array
from analytics.forecasting.forecaster import Forecast

CacheKey = tuple[str, int]


class ForecastCache:
    """``max_entries`` 0 turns caching off (every call computes)."""

    def __init__(self, max_entries: int = 256) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must not be negative")
        self.max_entries = max_entries
        self.computed = 0  # forecasts computed (model fits), for tests and telemetry
        self.hits = 0
        self._entries: OrderedDict[CacheKey, tuple[str, Forecast]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_compute(
        self,
        series: str,
        last_point_hour: int,
        values: Array,
        compute: Callable[[], Forecast],
    ) -> Forecast:
        """The cached forecast of ``series`` whose last point is at ``last_point_hour`` (unix
        seconds), else ``compute()``. The values' fingerprint is kept too: a history that
        changed under the same key (a late sample) is refitted."""
        key = (series, last_point_hour)
        fingerprint = hashlib.blake2b(values.tobytes(), digest_size=16).hexdigest()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] == fingerprint:
                self._entries.move_to_end(key)
                self.hits += 1
                return found[1]
        forecast = compute()
        with self._lock:
            self.computed += 1
            if self.max_entries:
                self._entries[key] = (fingerprint, forecast)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return forecast
