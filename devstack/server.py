"""What every server process devstack runs shares: readiness, reload, stop, its log's tail.

A subclass sets ``process`` (started with :func:`devstack.processes.spawn` or its own
``Popen``), ``log_path``, ``NAME`` (in messages) and ``ERROR`` (raised when it cannot start),
writes its configuration in ``write_config`` and says in ``is_ready`` whether it answers;
``start()`` starts it and calls :meth:`ServerProcess.wait_ready`. ``STOP_SIGNAL`` (SIGTERM) asks
it to stop and ``STOP_GRACE`` is how long it gets before SIGKILL. A ``with`` block whose start
fails stops whatever had started. :class:`HttpServerProcess` is a server with an HTTP readiness
endpoint (``READY_PATH``) and a reload endpoint (``RELOAD_PATH``), as Prometheus and
Alertmanager have.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

# What a server's log says when its port was taken between choosing it and binding it.
PORT_TAKEN = re.compile(r"address already in use", re.IGNORECASE)


class ServerError(RuntimeError):
    """A server devstack runs could not be found, configured or started; the message quotes
    its log."""


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of the log at ``path``."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether a GET of ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_logged(
    command: list[str], log_path: Path, *, own_session: bool
) -> subprocess.Popen[bytes]:
    """Start ``command``, its output appended to ``log_path``: in a session of its own that
    dies with this process (:func:`devstack.processes.spawn`) when ``own_session``, else as a
    plain child."""
    if own_session:
        from devstack.processes import spawn  # psutil only when a session is asked for

        return spawn(command, log_path=log_path)
    log = log_path.open("ab")
    try:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    finally:
        log.close()


def wait_until_ready(
    process: subprocess.Popen[bytes],
    is_ready: Callable[[], bool],
    *,
    name: str,
    log_path: Path,
    timeout: float,
    error: type[Exception] = ServerError,
    poll_seconds: float = 0.1,
) -> None:
    """Return once ``is_ready()``; raise ``error`` quoting the log when ``process`` exits first
    or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise error(f"{name} exited with {process.returncode}: {log_tail(log_path)}")
        if is_ready():
            return
        time.sleep(poll_seconds)
    raise error(f"{name} not ready after {timeout:.0f}s: {log_tail(log_path)}")


class ServerProcess(ABC):
    NAME: ClassVar[str]
    ERROR: ClassVar[type[Exception]] = ServerError
    STOP_GRACE = 10.0
    STOP_SIGNAL = signal.SIGTERM
    READY_POLL_SECONDS = 0.1
    process: subprocess.Popen[bytes] | None
    log_path: Path

    @abstractmethod
    def start(self) -> None:
        """Start the server and wait until it answers."""

    @abstractmethod
    def is_ready(self) -> bool:
        """Whether the server answers now."""

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once the started server answers; raise ``ERROR`` when it exits first or
        does not answer within ``timeout`` seconds."""
        if self.process is None:
            raise self.ERROR(f"{self.NAME} is not started")
        wait_until_ready(
            self.process,
            self.is_ready,
            name=self.NAME,
            log_path=self.log_path,
            timeout=timeout,
            error=self.ERROR,
            poll_seconds=self.READY_POLL_SECONDS,
        )

    def stop(self, grace: float | None = None) -> None:
        from devstack.processes import stop  # psutil only when something is stopped

        if self.process is not None:
            stop(self.process, self.STOP_GRACE if grace is None else grace, self.STOP_SIGNAL)
        self.process = None

    def _log_tail(self, lines: int = 20) -> str:
        return log_tail(self.log_path, lines)

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


class HttpServerProcess(ServerProcess):
    """A server on ``host:port`` that says it is ready at ``READY_PATH`` and re-reads its
    configuration on a POST to ``RELOAD_PATH``."""

    READY_PATH: ClassVar[str] = "/-/ready"
    RELOAD_PATH: ClassVar[str] = "/-/reload"
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def is_ready(self) -> bool:
        return http_ok(self.url + self.READY_PATH)

    @abstractmethod
    def write_config(self) -> None:
        """Write the server's configuration files."""

    def reload(self) -> None:
        """Re-read the configuration: write it again and have the running server read it."""
        self.write_config()
        self.reread_config()

    def reread_config(self) -> None:
        request = urllib.request.Request(self.url + self.RELOAD_PATH, method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass
