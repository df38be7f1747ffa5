"""What every server process devstack runs shares: stop, the tail of its log, ``with`` support.

A subclass sets ``process`` (started with :func:`devstack.processes.spawn` or its own
``Popen``), ``log_path`` and its own ``start()``; ``STOP_SIGNAL`` (SIGTERM) asks it to stop and
``STOP_GRACE`` is how long it gets before SIGKILL. A ``with`` block whose start fails stops
whatever had started.
"""

from __future__ import annotations

import signal
import subprocess
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self


class ServerProcess(ABC):
    STOP_GRACE = 10.0
    STOP_SIGNAL = signal.SIGTERM
    process: subprocess.Popen[bytes] | None
    log_path: Path

    @abstractmethod
    def start(self) -> None:
        """Start the server and wait until it answers."""

    def stop(self, grace: float | None = None) -> None:
        from devstack.processes import stop  # psutil only when something is stopped

        if self.process is not None:
            stop(self.process, self.STOP_GRACE if grace is None else grace, self.STOP_SIGNAL)
        self.process = None

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
