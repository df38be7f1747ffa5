"""Child processes that leave nothing behind: their own session, killed with their parent.

Every server devstack starts runs in a session of its own (a terminal's Ctrl-C reaches only the
parent, which then stops the children in order) and, on Linux, asks the kernel to SIGTERM it
when the process that started it dies (``PR_SET_PDEATHSIG``), so even a parent killed with
SIGKILL leaves no orphans. The kernel ties that signal to the starting *thread*: start children
from a thread that outlives them (the main thread, in the demo and the test fixtures).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import psutil

_PR_SET_PDEATHSIG = 1
_LIBC = (
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform == "linux" else None
)


def _die_with_parent(parent: int) -> None:
    # Runs in the child between fork and exec: no imports, no allocation-heavy work.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` for a child that must not outlive this process."""
    return functools.partial(_die_with_parent, os.getpid())


def spawn(
    command: Sequence[str],
    *,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: int | IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session, output to ``log_path`` (or ``stdout``)."""
    log = log_path.open("ab") if log_path is not None else None
    try:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log if log is not None else stdout,
            stderr=subprocess.STDOUT if log is not None else None,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - only prctl and getppid run there
        )
    finally:
        if log is not None:
            log.close()


def descendants(pid: int) -> list[psutil.Process]:
    """Every living descendant of ``pid`` (empty when it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def stop(
    process: subprocess.Popen[bytes], grace: float = 10.0, first: int = signal.SIGTERM
) -> None:
    """``first`` (SIGTERM), wait ``grace`` seconds, SIGKILL; then make sure its descendants
    are gone too."""
    children = descendants(process.pid)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(first)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=5)
