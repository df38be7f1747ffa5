"""The child processes of a history build (devstack.history.Children, used by the demo's and
the scale stack's builds): statuses, stderr and peak memory of real processes, and a failed
part stopping the parts still running."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from devstack.history import Children, HistoryError


def test_run_reports_status_stderr_and_peak_memory(tmp_path: Path) -> None:
    children = Children()
    err = tmp_path / "err.txt"
    # About 64 MiB held at once: the peak RSS is that process's, not this one's.
    script = (
        "import sys; b = bytearray(64 << 20); sys.stderr.write('done: 7 samples of x'); sys.exit(3)"
    )
    status, peak_mib = children.run([sys.executable, "-c", script], err)
    assert status == 3
    assert err.read_text() == "done: 7 samples of x"
    assert 64 < peak_mib < 1024


def test_a_failed_job_stops_the_others_and_later_runs(tmp_path: Path) -> None:
    children = Children()

    def job(name: str) -> int:
        if name == "fails":
            # Fail once the other job's child runs: Children.run creates its stderr file under
            # the lock it starts the child in, so stop_all sees that child.
            deadline = time.monotonic() + 10
            while not (tmp_path / "sleeps.txt").exists():
                assert time.monotonic() < deadline
                time.sleep(0.01)
            raise RuntimeError("part failed")
        status, _peak = children.run(
            [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / f"{name}.txt"
        )
        return status

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="part failed"):
        children.map(job, ["sleeps", "fails"], workers=2)
    # The sleeping child was terminated, not waited for.
    assert time.monotonic() - started < 30
    with pytest.raises(HistoryError, match="stopped"):
        children.run([sys.executable, "-c", "pass"], tmp_path / "late.txt")


def test_map_keeps_the_order_of_the_jobs(tmp_path: Path) -> None:
    children = Children()

    def job(code: int) -> int:
        status, _peak = children.run(
            [sys.executable, "-c", f"import sys; sys.exit({code})"], tmp_path / f"{code}.txt"
        )
        return status

    assert children.map(job, [5, 0, 2, 1], workers=3) == [5, 0, 2, 1]
