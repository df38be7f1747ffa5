"""The Stack stops everything it started: on stop(), on SIGTERM to its holder, and when its
holder is killed outright (the kernel's parent-death signal)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from devstack.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "simulator" / "fleets" / "test-small.yaml"

HOLDER = """
import sys
from pathlib import Path
from devstack.stack import Stack
stack = Stack(Path(sys.argv[1]), days=0.05, scrape_interval="1s", analytics=sys.argv[3] == "1",
              workdir=Path(sys.argv[2]) / "stack", cache_dir=Path(sys.argv[2]) / "cache",
              wait_for_scrapes=False)
with stack:
    # "ready" once the SIGTERM handler is in place (printed before, a SIGTERM could kill the
    # holder outright).
    stack.wait(ready=lambda: print("ready", flush=True))
"""


def gone(pids: list[int], timeout: float = 30.0) -> list[int]:
    """The pids still alive (zombies count as gone) after waiting up to ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = pids
    while True:
        alive = [p for p in alive if _alive(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    stack = Stack(
        SMALL,
        days=0.05,
        scrape_interval="1s",
        workdir=tmp_path / "stack",
        cache_dir=tmp_path / "cache",
        wait_for_scrapes=False,
    )
    with stack:
        pids = stack.pids()
        # Two exporter processes (the exporter and its simulated kubelet), the cluster series,
        # Prometheus, gunicorn's master and two workers.
        assert len(pids) >= 7
        assert all(_alive(p) for p in pids)
    assert gone(pids) == []
    assert stack.pids() == []


def _holder(tmp_path: Path, analytics: bool) -> tuple[subprocess.Popen[str], list[int]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(SMALL), str(tmp_path), "1" if analytics else "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "ready"
    children = [c.pid for c in psutil.Process(holder.pid).children(recursive=True)]
    assert len(children) >= 4
    return holder, children


def test_sigterm_to_the_holder_stops_everything(tmp_path: Path) -> None:
    holder, children = _holder(tmp_path, analytics=True)
    holder.send_signal(signal.SIGTERM)
    assert holder.wait(timeout=90) == 0
    assert gone(children) == []
    assert holder.stdout is not None
    holder.stdout.close()


def test_a_killed_holder_leaves_no_orphans(tmp_path: Path) -> None:
    holder, children = _holder(tmp_path, analytics=False)
    holder.kill()
    holder.wait(timeout=30)
    assert gone(children) == []
    assert holder.stdout is not None
    holder.stdout.close()
