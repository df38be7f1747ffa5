"""Periodic jobs of a worker process (the inventory sync, the budget check, the allocation
sweep), and the names their leases are taken under.

A job is a daemon thread calling its work every interval until stopped. create_app starts the
jobs; gunicorn runs it in each worker after the fork, and a job started in a process that then
forks is started again by the child's ``start`` (the thread did not cross the fork). Jobs that
only one worker of all may run at a time take a lease in the database under :func:`holder_id`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

log = logging.getLogger(__name__)


def holder_id() -> str:
    """A lease holder's name: host, process, thread and a random part (one per attempt)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


class Periodic:
    """``work`` every ``interval_s`` seconds on a daemon thread named ``name``, the first call
    ``first_after_s`` after ``start`` (default: one interval). An error is logged and the next round comes as planned;
    errors of the ``expected`` types (Prometheus down) as a warning without a traceback."""

    def __init__(
        self,
        name: str,
        work: Callable[[], object],
        interval_s: float,
        expected: tuple[type[Exception], ...] = (),
        first_after_s: float | None = None,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self.first_after_s = interval_s if first_after_s is None else first_after_s
        self._work = work
        self._expected = expected
        self._lock = threading.Lock()
        self._pid = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread in this process (once; nothing when the interval is not positive)."""
        if self.interval_s <= 0:
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the current round; with ``timeout``, wait that long for it to end."""
        self._stop.set()
        thread = self._thread
        if timeout is not None and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self) -> None:
        stop = self._stop
        wait = self.first_after_s
        while not stop.wait(wait):
            wait = self.interval_s
            try:
                self._work()
            except self._expected as exc:
                log.warning("%s skipped this round: %s", self.name, getattr(exc, "message", exc))
            except Exception:
                log.exception("%s failed; trying again next round", self.name)
