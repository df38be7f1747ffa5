"""What every server process devstack runs shares: stop, the tail of its log, ``with`` support.

A subclass sets ``process`` (started with :func:`devstack.processes.spawn`), ``log_path`` and
its own ``start()``; ``STOP_GRACE`` is how long it gets between SIGTERM and SIGKILL.
"""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self


class ServerProcess(ABC):
    STOP_GRACE = 10.0
    process: subprocess.Popen[bytes] | None
    log_path: Path

    @abstractmethod
    def start(self) -> None:
        """Start the server and wait until it answers."""

    def stop(self, grace: float | None = None) -> None:
        from devstack.processes import stop  # psutil only when something is stopped

        if self.process is not None:
            stop(self.process, self.STOP_GRACE if grace is None else grace)
        self.process = None

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
