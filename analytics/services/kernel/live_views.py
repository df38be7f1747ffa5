"""Fleet-wide live views (every pod, every node, every GPU's readings) built once per interval
per process and shared by its requests.

Prometheus' data moves once per scrape interval, and at 1,000 nodes x 8 GPUs one fleet-wide view
costs seconds of CPU: the pod table reads ~170,000 series in Prometheus and assembles 7,500
pods here (docs/scale.md). Building it for every request made the lists take 3-5 s. A view is
kept for ``fresh_s`` seconds; a request after that still gets the kept view, as long as it is
younger than ``max_age_s``, while one background build makes the next (stale while
revalidating, as HTTP caches do). A request that finds no view, or one older than
``max_age_s``, builds it itself, and concurrent requests for the same view wait for that one
build (AnswerCache). So a view served is at most ``fresh_s`` plus one build old while it is
being read, and never older than ``max_age_s``; responses carry its age in seconds (the HTTP
``Age`` header).

Only Prometheus-derived views are kept here: the inventory, allocations and everything in the
database are read per request, so a change made through the API shows at once. ``fresh_s`` 0
(the service's default; the Helm chart sets the scrape interval) builds every view per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from analytics.prom.client import note_view_age
from analytics.services.kernel.answer_cache import AnswerCache

log = logging.getLogger(__name__)

V = TypeVar("V")


@dataclass(frozen=True)
class Kept(Generic[V]):
    value: V
    age_s: float  # seconds since the view's build began (its data were read then)


@dataclass(frozen=True)
class _Built:
    value: Any
    started: float  # monotonic time when the build began


class LiveViews:
    """Views by key (a view's name and its parameters), each kept and refreshed as above."""

    def __init__(
        self,
        fresh_s: float,
        max_age_s: float | None = None,
        max_entries: int = 16,
        monotonic: Callable[[], float] = time.monotonic,
        start: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self.fresh_s = fresh_s
        self.max_age_s = max(fresh_s, max_age_s if max_age_s is not None else 4 * fresh_s)
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._start = start or _daemon_thread
        self._lock = threading.Lock()
        self._kept: dict[Hashable, _Built] = {}
        self._refreshing: set[Hashable] = set()
        # Builds in the request path wait for one another (one build per key at a time).
        self._builds: AnswerCache[_Built] = AnswerCache(ttl_s=0, max_entries=0, monotonic=monotonic)
        self.refreshes = 0  # background builds started (tests read it)

    @property
    def enabled(self) -> bool:
        return self.fresh_s > 0

    def get(self, key: Hashable, build: Callable[[], V]) -> Kept[V]:
        """The view ``key``: kept, or built now by ``build`` (see the module's docstring)."""
        if not self.enabled:
            return Kept(build(), 0.0)
        kept = self._get(key, build)
        note_view_age(kept.age_s)
        return kept

    def _get(self, key: Hashable, build: Callable[[], V]) -> Kept[V]:
        now = self._monotonic()
        with self._lock:
            kept = self._kept.get(key)
            age = self.max_age_s if kept is None else max(0.0, now - kept.started)
            usable = kept is not None and age < self.max_age_s
            refresh = usable and age >= self.fresh_s and key not in self._refreshing
            if refresh:
                self._refreshing.add(key)
                self.refreshes += 1
        if kept is not None and usable:
            if refresh:
                self._start(lambda: self._refresh(key, build))
            return Kept(kept.value, age)
        built = self._builds.get(key, lambda: self._build(key, build))
        return Kept(built.value, max(0.0, self._monotonic() - built.started))

    def _build(self, key: Hashable, build: Callable[[], Any]) -> _Built:
        started = self._monotonic()
        built = _Built(build(), started)
        with self._lock:
            current = self._kept.get(key)
            if current is None or current.started <= built.started:
                self._kept[key] = built
            # Views too old to serve are dropped (a month of overheating windows is ~30 MB).
            for old in [k for k, v in self._kept.items() if started - v.started >= self.max_age_s]:
                del self._kept[old]
            while len(self._kept) > self.max_entries:
                oldest = min(self._kept, key=lambda k: self._kept[k].started)
                del self._kept[oldest]
        return built

    def _refresh(self, key: Hashable, build: Callable[[], Any]) -> None:
        try:
            self._build(key, build)
        except Exception as exc:  # the kept view serves until max_age_s; then a request builds
            log.warning("refreshing the live view %r failed: %s", key, exc)
        finally:
            with self._lock:
                self._refreshing.discard(key)


def _daemon_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="live-view-refresh", daemon=True).start()
