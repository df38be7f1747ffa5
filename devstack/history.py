"""Backfilled TSDB history for a simulated fleet: generated in parallel, cached, topped up.

The history up to the last whole hour is the expensive part (a month for the demo fleet is
some 20 million samples); it is written by :mod:`simulator.history` in independent parts
(one per node, two for the cluster) in parallel processes, each turned into TSDB blocks by
``promtool``, and the blocks are kept in a cache entry keyed by (fleet file contents, days,
step, state interval, that hour, writer version). The minutes from that hour to ``end`` are
always written fresh (a few seconds), continuing the cached counters, so a second start within
the hour takes seconds and still ends at the current minute.

Cache entries are directories of TSDB blocks plus ``history.json``; they are linked (or copied
across file systems) into the Prometheus data directory, and the oldest beyond
:data:`KEEP_ENTRIES` are removed. The first load of an entry adds the blocks of the cluster-wide
recording rules (:mod:`devstack.rules_backfill`, evaluated by Prometheus over the history; the
key covers those rules) and ``rules.done``; blocks are never modified.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from devstack.processes import die_with_parent
from devstack.prometheus import backfill_command, backfill_openmetrics
from devstack.rules_backfill import RuleRange, backfill_rules, rules_digest
from simulator.fleet import FleetSpec, load_fleet
from simulator.history import (
    DEFAULT_STATE_INTERVAL_S,
    HOUR_S,
    CounterState,
    counters_from_json,
    counters_to_json,
    history_parts,
    write_history,
)

# Bump when simulator.history writes different series or values: old cache entries then miss.
WRITER_VERSION = 1
KEEP_ENTRIES = 4
DAY_S = 86400
ROOT = Path(__file__).resolve().parent.parent


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "k8s-gpu-management" / "history"


@dataclass(frozen=True)
class HistoryInfo:
    """What was loaded into a data directory."""

    start: int  # first sample
    end: int  # last sample
    step: int
    cached: bool  # the part before the last whole hour came from the cache
    seconds: float  # wall time spent here
    samples: int  # samples written in this call (0 for the cached part)


def prepare_history(
    fleet: Path,
    data_dir: Path,
    *,
    days: float,
    end: float,
    step: int = 60,
    state_interval: int = DEFAULT_STATE_INTERVAL_S,
    cache_dir: Path | None = None,
    workers: int | None = None,
) -> HistoryInfo:
    """Put ``days`` of history ending at ``end`` (rounded down to ``step``) into ``data_dir``.

    The series carry simulator.history's default target labels, which :mod:`devstack.stack`
    configures Prometheus with. ``cache_dir`` None uses :func:`default_cache_dir`; a cache is
    always used (tests pass a directory of their own). ``workers`` bounds the parts written and
    backfilled at once (default: the CPU count).
    """
    started = time.monotonic()
    fleet = Path(fleet).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    hour = math.floor(end / HOUR_S) * HOUR_S
    start = hour - round(days * DAY_S)
    cache_dir = cache_dir or default_cache_dir()
    entry = cache_dir / cache_key(fleet, days, step, state_interval, hour)
    samples = 0
    cached = (entry / META_FILE).is_file()
    if not cached:
        samples += _build_entry(fleet, entry, start, hour, step, state_interval, workers)
        evict_old_entries(cache_dir, keep=entry)
    info, _meta = load_entry(
        entry, data_dir, fleet, end, step, state_interval, cached, samples, started
    )
    return info


def load_entry(
    entry: Path,
    data_dir: Path,
    fleet: FleetSpec | Path,
    end: float,
    step: int,
    state_interval: int,
    cached: bool,
    samples: int,
    started: float,
    log: Callable[[str], None] | None = None,
    topup_step: int | None = None,
) -> tuple[HistoryInfo, dict[str, Any]]:
    """Link a cache entry's blocks into ``data_dir`` and write the minutes from the entry's
    end to ``end`` fresh, continuing its counters, every ``topup_step`` seconds (default
    ``step``); the HistoryInfo (``samples`` written before plus the top-up's, timed from
    ``started``) and the entry's metadata."""
    meta: dict[str, Any] = json.loads((entry / META_FILE).read_text())
    counters = counters_from_json(meta["counters"])
    link_blocks(entry, data_dir)
    topup = topup_step or step
    last = math.floor(end / topup) * topup
    if last > counters.time:
        if log is not None:
            log(f"history: topping up {counters.time}..{last}")
        with tempfile.TemporaryDirectory(prefix=".topup-", dir=data_dir.parent) as tmp:
            om = Path(tmp) / "topup.om"
            result = write_history(
                fleet,
                om,
                start=counters.time + topup,
                end=last,
                step=topup,
                state_interval=state_interval,
                continue_from=counters,
            )
            samples += result.samples
            backfill_openmetrics(om, data_dir)
    _backfill_rules(entry, data_dir, int(meta["start"]), counters.time, last, log)
    info = HistoryInfo(
        start=int(meta["start"]),
        end=max(last, counters.time),
        step=step,
        cached=cached,
        seconds=time.monotonic() - started,
        samples=samples,
    )
    return info, meta


META_FILE = "history.json"
# In a cache entry: its rule blocks (devstack.rules_backfill) are complete.
RULES_FILE = "rules.done"


def _backfill_rules(
    entry: Path,
    data_dir: Path,
    start: int,
    cached_end: int,
    last: int,
    log: Callable[[str], None] | None,
) -> None:
    """The cluster-wide recording rules over the history: once per cache entry for its span
    (kept in the entry, whose key covers the rules), and fresh for the top-up minutes."""
    ranges: list[RuleRange] = []
    if not (entry / RULES_FILE).is_file():
        ranges.append(RuleRange(start, cached_end, entry))
    if last > cached_end:
        # promtool evaluates at the group's offset in each interval: the first after cached_end.
        ranges.append(RuleRange(cached_end + 1, last, data_dir))
    if not ranges:
        return
    seconds = backfill_rules(data_dir, ranges)
    if log is not None:
        log(f"history: recording rules backfilled in {seconds:.1f}s")
    if ranges[0].target == entry:
        (entry / RULES_FILE).write_text("")
        link_blocks(entry, data_dir)


def cache_key(fleet: Path, days: float, step: int, state_interval: int, hour: int) -> str:
    digest = hashlib.sha256()
    digest.update(fleet.read_bytes())
    digest.update(repr((WRITER_VERSION, days, step, state_interval)).encode())
    # The entry keeps the backfilled rules' blocks: other rules, another entry.
    digest.update(rules_digest())
    return f"{hour}-{digest.hexdigest()[:20]}"


def _build_entry(
    fleet: Path,
    entry: Path,
    start: int,
    end: int,
    step: int,
    state_interval: int,
    workers: int | None,
) -> int:
    """Write, backfill and cache the history for start..end; returns the samples written.

    Each part is ``python -m simulator.history --part P`` then ``promtool``, in processes of
    their own (no multiprocessing: callers need no ``__main__`` guard; a thread only waits).
    On any exception (Ctrl-C included) the running children are stopped before it propagates.
    """
    entry.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(entry.parent)
    parts = history_parts(load_fleet(fleet))
    workers = max(1, min(workers or os.cpu_count() or 1, len(parts)))
    children = Children()
    with tempfile.TemporaryDirectory(prefix=".building-", dir=entry.parent) as tmp:
        build = Path(tmp)
        jobs = [
            (fleet, part, start, end, step, state_interval, build / f"part{i}")
            for i, part in enumerate(parts)
        ]
        results = children.map(lambda job: _build_part(children, *job), jobs, workers)
        samples = sum(part_samples for _dir, _counters, part_samples in results)
        finish_entry(
            entry,
            build,
            [(part_dir, counters) for part_dir, counters, _samples in results],
            {"start": start, "step": step, "samples": samples},
        )
    return samples


def finish_entry(
    entry: Path,
    build: Path,
    parts: Sequence[tuple[Path, CounterState]],
    meta: Mapping[str, Any],
) -> None:
    """Move the blocks of the parts' directories (under ``build``) into one directory with
    META_FILE (``meta`` plus the end and every part's counters) and rename it to ``entry``; a
    concurrent builder's finished entry already there is kept."""
    blocks = build / "blocks"
    blocks.mkdir()
    busy: dict[str, float] = {}
    for part_dir, counters in parts:
        for block in part_dir.iterdir():
            if block.is_dir():
                block.rename(blocks / block.name)
        busy.update(counters.busy_seconds)
    last = parts[-1][1]
    merged = CounterState(time=last.time, origin=last.origin, busy_seconds=busy)
    full = {**meta, "end": last.time, "counters": counters_to_json(merged)}
    (blocks / META_FILE).write_text(json.dumps(full, sort_keys=True))
    try:
        blocks.rename(entry)
    except OSError:
        if not (entry / META_FILE).is_file():  # not a concurrent builder's finished entry
            raise


J = TypeVar("J")
R = TypeVar("R")


class Children:
    """The generator and promtool processes of a history build, run to completion from worker
    threads and stopped together when the build fails."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._stopping = False

    def run(self, command: list[str], stderr_path: Path) -> tuple[int, float]:
        """Run ``command`` to completion, its stderr into ``stderr_path``; (exit status, peak
        RSS of that process in MiB)."""
        with self._lock, stderr_path.open("wb") as err:
            if self._stopping:
                raise HistoryError("stopped")
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=ROOT,
                preexec_fn=die_with_parent(),  # noqa: PLW1509 - stopped by the kernel if we die
            )
            self._running.add(process)
        try:
            # wait4: this child's own resource usage (its peak RSS), not all children's.
            _pid, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        finally:
            with self._lock:
                self._running.discard(process)
        return process.returncode, usage.ru_maxrss / 1024

    def map(self, work: Callable[[J], R], jobs: Sequence[J], workers: int) -> list[R]:
        """``work`` on each job, ``workers`` at a time (threads that only wait on children: no
        multiprocessing, so callers need no ``__main__`` guard); results in order. On any
        exception (Ctrl-C included) the running children are stopped before it propagates."""
        pool = concurrent.futures.ThreadPoolExecutor(max(1, workers))
        futures = [pool.submit(work, job) for job in jobs]
        try:
            # The first failure, not the first job's result: a part that fails while earlier
            # ones still run stops them now.
            concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
            for future in futures:
                error = future.exception() if future.done() else None
                if error is not None:
                    raise error
            results = [future.result() for future in futures]
        except BaseException:
            self.stop_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
        return results

    def stop_all(self) -> None:
        with self._lock:
            self._stopping = True
            running = list(self._running)
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()


# What simulator.history prints on stderr when it is done.
SAMPLES_WRITTEN = re.compile(r": (\d+) samples of ")


def _build_part(
    children: Children,
    fleet: Path,
    part: str,
    start: int,
    end: int,
    step: int,
    state_interval: int,
    workdir: Path,
) -> tuple[Path, CounterState, int]:
    """One part: OpenMetrics written by a child process, backfilled into ``workdir``, deleted."""
    workdir.mkdir(parents=True)
    om = workdir / "part.om"
    counters_file = workdir / "counters.json"
    err = workdir / "stderr.txt"
    status, _rss = children.run(
        [
            sys.executable,
            "-m",
            "simulator.history",
            f"--fleet={fleet}",
            f"--start={start}",
            f"--end={end}",
            f"--step={step}",
            f"--state-interval={state_interval}",
            f"--part={part}",
            f"--out={om}",
            f"--counters-out={counters_file}",
        ],
        err,
    )
    message = err.read_text(errors="replace")
    if status != 0:
        raise HistoryError(f"history part {part} failed: {message[-2000:]}")
    found = SAMPLES_WRITTEN.search(message)
    try:
        status, _rss = children.run(backfill_command(om, workdir), err)
    finally:
        om.unlink(missing_ok=True)
    if status != 0:
        raise HistoryError(f"promtool failed on history part {part}: {err.read_text()[-2000:]}")
    counters = counters_from_json(json.loads(counters_file.read_text()))
    counters_file.unlink()
    err.unlink()
    return workdir, counters, int(found.group(1)) if found else 0


def _remove_stale_builds(cache_dir: Path, older_than_s: float = 6 * 3600) -> None:
    """Leftovers of builds that were killed (their OpenMetrics parts can be gigabytes)."""
    for leftover in cache_dir.glob(".building-*"):
        with contextlib.suppress(OSError):
            if time.time() - leftover.stat().st_mtime > older_than_s:
                shutil.rmtree(leftover)


class HistoryError(RuntimeError):
    """History could not be generated or backfilled."""


def link_blocks(entry: Path, data_dir: Path) -> None:
    """Hard-link the entry's blocks into ``data_dir`` (copy across file systems).

    Prometheus never rewrites a block's files in place (deletions and compactions write new
    files or directories), so the cache's copies stay intact.
    """
    for block in entry.iterdir():
        if not block.is_dir():
            continue
        target = data_dir / block.name
        if target.exists():
            continue
        try:
            shutil.copytree(block, target, copy_function=os.link)
        except OSError:
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(block, target)


def evict_old_entries(cache_dir: Path, keep: Path) -> None:
    entries = [p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP_ENTRIES:]:
        if old != keep:
            with contextlib.suppress(OSError):
                shutil.rmtree(old)
