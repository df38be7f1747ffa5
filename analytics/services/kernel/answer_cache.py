"""Recent answers of expensive computations, per process, each computed once at a time.

A key's answer is kept for ``ttl_s`` seconds. While one thread computes a key, others asking
for the same key wait for that computation and share its answer (or its error) instead of
starting their own: twenty identical cost analyses cost one. Keys carry whatever makes an
answer current (window, filters, a version of the data it reads), so a change elsewhere is
seen at once; the TTL bounds what the key cannot see (the clock, new samples).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass
class _Flight(Generic[V]):
    done: threading.Event = field(default_factory=threading.Event)
    value: V | None = None
    error: BaseException | None = None


class AnswerCache(Generic[V]):
    def __init__(
        self,
        ttl_s: float,
        max_entries: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._answers: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._flights: dict[Hashable, _Flight[V]] = {}
        self.computed = 0  # computations started (tests and telemetry read it)

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The answer for ``key``: a recent one, the one being computed, or ``compute()``."""
        with self._lock:
            now = self._monotonic()
            kept = self._answers.get(key)
            if kept is not None and kept[0] > now:
                return kept[1]
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self.computed += 1
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value  # type: ignore[return-value]
        try:
            flight.value = compute()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
                if flight.error is None and self.ttl_s > 0 and self.max_entries > 0:
                    self._answers[key] = (self._monotonic() + self.ttl_s, flight.value)  # type: ignore[assignment]
                    self._answers.move_to_end(key)
                    while len(self._answers) > self.max_entries:
                        self._answers.popitem(last=False)
            flight.done.set()
        return flight.value
