"""A :class:`devstack.stack.Stack` for fleets of hundreds or thousands of simulated nodes.

Three things change against the one-process-per-node stack, nothing else:

* **Exporters**: ``shards`` processes of :mod:`simulator.multiexporter` each serve a contiguous
  range of the fleet's nodes, one production-identical exporter pipeline and one port per
  node. The targets reach Prometheus through file-based service discovery
  (``file_sd_configs``): a JSON file with one entry per node, ``instance`` set to the node name,
  as a DaemonSet's pods are discovered in a cluster.
* **History**: written and backfilled in ``history_groups`` parts of many nodes each (one
  ``simulator.history`` process per node would parse a thousand-node fleet a thousand times),
  ``history_workers`` at a time; each group's generation time, promtool time and promtool peak
  memory are kept in :attr:`ScaleStack.history_stats` (and in the cache entry, so a cached
  start still reports what building it cost).
* **The fleet file** is parsed with libyaml where the stack's own code parses it.

Scrape jobs, recording rules, the cluster series and the analytics service are the stack's.

    python -m devstack.scale history-part --fleet F --start S --end E --step 300 \\
        --out OM --counters-out JSON --parts-file PARTS      # one history group (internal)
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from devstack.history import (
    DAY_S,
    META_FILE,
    SAMPLES_WRITTEN,
    Children,
    HistoryError,
    HistoryInfo,
    cache_key,
    default_cache_dir,
    evict_old_entries,
    finish_entry,
    link_blocks,
    load_entry,
)
from devstack.processes import descendants, spawn
from devstack.prometheus import ScrapeJob, backfill_command
from devstack.stack import ROOT, Stack, StackError
from simulator.history import (
    CADVISOR_PART,
    DEFAULT_STATE_INTERVAL_S,
    DEFAULT_TARGETS,
    HOUR_S,
    KSM_PART,
    NODE_PART_PREFIX,
    CounterState,
    counters_from_json,
    counters_to_json,
    write_history,
)
from simulator.multiexporter import load_fleet_fast

EXPORTER_JOB = DEFAULT_TARGETS.exporter_job
SD_FILE = "gpu-exporter-targets.json"
# Scale history cache entries are told apart from devstack.history's by this suffix.
_CACHE_SUFFIX = "-scale"
_SHARD_READY = re.compile(r'"targets": "([^"]+)"')
_CLUSTER_URL = re.compile(r'"url": "(http://[^"]+)"')


@dataclass(frozen=True)
class GroupStats:
    """What one history group cost to build."""

    parts: int
    samples: int
    generate_seconds: float
    promtool_seconds: float
    promtool_max_rss_mib: float


def node_groups(nodes: Sequence[str], groups: int) -> list[list[str]]:
    """``nodes`` in ``groups`` contiguous, nearly equal lists (none empty)."""
    groups = max(1, min(groups, len(nodes)))
    size, extra = divmod(len(nodes), groups)
    found: list[list[str]] = []
    start = 0
    for index in range(groups):
        end = start + size + (1 if index < extra else 0)
        found.append(list(nodes[start:end]))
        start = end
    return found


def prepare_scale_history(
    fleet: Path,
    data_dir: Path,
    *,
    nodes: Sequence[str],
    days: float,
    end: float,
    step: int = 300,
    state_interval: int = DEFAULT_STATE_INTERVAL_S,
    cache_dir: Path | None = None,
    groups: int = 8,
    workers: int = 2,
    block_hours: int = 1458,
    log: Any = None,
    recorded_days: float = 0.0,
    topup_step: int | None = None,
    entry_end: float | None = None,
    reuse_hours: int = 0,
    ahead: float | None = None,
) -> tuple[HistoryInfo, list[GroupStats]]:
    """:func:`devstack.history.prepare_history` for big fleets (see the module docstring).

    ``block_hours`` is promtool's ``--max-block-duration``: promtool holds one block's series
    and samples in memory, so a shorter block bounds its memory (at a thousand nodes the
    cAdvisor part of one day peaks at ~11 GiB in one block) for a few more parses of the file.

    ``recorded_days`` adds that many days before the raw history holding the ``gpu-hourly``
    records alone, hourly, as a downsampled long-term store keeps old data (raw series
    computed at each hour, not written; cached in an entry of their own). ``topup_step`` is
    the step of the minutes after the cached entry's last whole hour (default ``step``), and
    the cached entry ends at the last whole hour before ``entry_end`` (default ``end``).
    Without that entry, one up to ``reuse_hours`` hours older serves (with a longer top-up):
    at a thousand nodes an entry takes a quarter of an hour to build. ``ahead`` moves ``end``
    to that many seconds past the moment the entries are ready (building them can take an
    hour), so that a history meant to reach past "now" still does.
    """
    started = time.monotonic()
    fleet = Path(fleet).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    hour = math.floor((end if entry_end is None else min(end, entry_end)) / HOUR_S) * HOUR_S
    start = hour - round(days * DAY_S)
    cache_dir = cache_dir or default_cache_dir()
    entry = cache_dir / (cache_key(fleet, days, step, state_interval, hour) + _CACHE_SUFFIX)
    for older in range(1, reuse_hours + 1):
        if (entry / META_FILE).is_file():
            break
        key = cache_key(fleet, days, step, state_interval, hour - older * HOUR_S)
        if (cache_dir / (key + _CACHE_SUFFIX) / META_FILE).is_file():
            hour -= older * HOUR_S
            start = hour - round(days * DAY_S)
            entry = cache_dir / (key + _CACHE_SUFFIX)
    samples = 0
    cached = (entry / META_FILE).is_file()
    if not cached:
        parts = [[NODE_PART_PREFIX + n for n in group] for group in node_groups(nodes, groups)]
        # The two cluster sources apart: at a thousand nodes each is as big as a node group.
        parts.extend([[KSM_PART], [CADVISOR_PART]])
        samples += _build_entry(
            fleet, entry, parts, start, hour, step, state_interval, workers, block_hours
        )
        evict_old_entries(cache_dir, keep=entry)
    recorded: list[GroupStats] = []
    if recorded_days > 0:
        recorded = _recorded_entry(
            fleet, data_dir, nodes, start, recorded_days, state_interval, cache_dir, groups, workers
        )
        if log is not None:
            log(
                f"history: {recorded_days:g} days of hourly records before it ({len(recorded)} parts)"
            )
    if ahead is not None:
        end = max(end, time.time() + ahead)
    info, meta = load_entry(
        entry,
        data_dir,
        load_fleet_fast(fleet),
        end,
        step,
        state_interval,
        cached,
        samples,
        started,
        log,
        topup_step,
    )
    return info, [GroupStats(**s) for s in meta.get("groups", [])] + recorded


def _recorded_entry(
    fleet: Path,
    data_dir: Path,
    nodes: Sequence[str],
    raw_start: int,
    days: float,
    state_interval: int,
    cache_dir: Path,
    groups: int,
    workers: int,
) -> list[GroupStats]:
    """The ``gpu-hourly`` records of the ``days`` before ``raw_start`` (its last hour
    excluded: the raw history's first record covers it), built or taken from the cache and
    linked into ``data_dir``; what building them cost."""
    start = raw_start - round(days * DAY_S)
    end = raw_start - HOUR_S
    key = cache_key(fleet, days, HOUR_S, state_interval, end)
    entry = cache_dir / (key + _CACHE_SUFFIX + "-recorded")
    if not (entry / META_FILE).is_file():
        parts = [[NODE_PART_PREFIX + n for n in group] for group in node_groups(nodes, groups)]
        _build_entry(fleet, entry, parts, start, end, HOUR_S, state_interval, workers, 1458, True)
        evict_old_entries(cache_dir, keep=entry)
    link_blocks(entry, data_dir)
    meta = json.loads((entry / META_FILE).read_text())
    return [GroupStats(**s) for s in meta.get("groups", [])]


def _build_entry(
    fleet: Path,
    entry: Path,
    groups: list[list[str]],
    start: int,
    end: int,
    step: int,
    state_interval: int,
    workers: int,
    block_hours: int,
    recorded_only: bool = False,
) -> int:
    entry.parent.mkdir(parents=True, exist_ok=True)
    children = Children()
    with tempfile.TemporaryDirectory(prefix=".building-", dir=entry.parent) as tmp:
        build = Path(tmp)
        jobs = [
            (
                fleet,
                parts,
                start,
                end,
                step,
                state_interval,
                block_hours,
                build / f"group{i}",
                recorded_only,
            )
            for i, parts in enumerate(groups)
        ]
        results = children.map(lambda job: _build_group(children, *job), jobs, workers)
        stats = [group_stats for _dir, _counters, group_stats in results]
        samples = sum(group.samples for group in stats)
        finish_entry(
            entry,
            build,
            [(group_dir, counters) for group_dir, counters, _stats in results],
            {
                "start": start,
                "step": step,
                "samples": samples,
                "groups": [asdict(group) for group in stats],
            },
        )
    return samples


def _build_group(
    children: Children,
    fleet: Path,
    parts: list[str],
    start: int,
    end: int,
    step: int,
    state_interval: int,
    block_hours: int,
    workdir: Path,
    recorded_only: bool = False,
) -> tuple[Path, CounterState, GroupStats]:
    workdir.mkdir(parents=True)
    om = workdir / "part.om"
    counters_file = workdir / "counters.json"
    parts_file = workdir / "parts.txt"
    parts_file.write_text("\n".join(parts))
    err = workdir / "stderr.txt"
    began = time.monotonic()
    status, _rss = children.run(
        [
            sys.executable,
            "-m",
            "devstack.scale",
            "history-part",
            f"--fleet={fleet}",
            f"--start={start}",
            f"--end={end}",
            f"--step={step}",
            f"--state-interval={state_interval}",
            f"--parts-file={parts_file}",
            f"--out={om}",
            f"--counters-out={counters_file}",
            *(["--recorded-only"] if recorded_only else []),
        ],
        err,
    )
    message = err.read_text(errors="replace")
    if status != 0:
        raise HistoryError(f"history group {parts[0]}.. failed: {message[-2000:]}")
    found = SAMPLES_WRITTEN.search(message)
    generated = time.monotonic()
    try:
        status, rss = children.run(backfill_command(om, workdir, block_hours), err)
    finally:
        om.unlink(missing_ok=True)
    if status != 0:
        raise HistoryError(f"promtool failed on {parts[0]}..: {err.read_text()[-2000:]}")
    counters = counters_from_json(json.loads(counters_file.read_text()))
    for leftover in (counters_file, parts_file, err):
        leftover.unlink()
    stats = GroupStats(
        parts=len(parts),
        samples=int(found.group(1)) if found else 0,
        generate_seconds=round(generated - began, 1),
        promtool_seconds=round(time.monotonic() - generated, 1),
        promtool_max_rss_mib=round(rss, 1),
    )
    return workdir, counters, stats


def write_sd_file(path: Path, exporter_urls: Mapping[str, str]) -> Path:
    """The file_sd targets file for ``{node: "http://host:port"}``: one target per node,
    labelled as a DaemonSet's pod is after the usual relabelling (``instance`` = node name)."""
    entries = [
        {
            "targets": [url.removeprefix("http://")],
            "labels": dict(DEFAULT_TARGETS.exporter(node)[1:]),
        }
        for node, url in exporter_urls.items()
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(entries, indent=1))
    temporary.replace(path)  # Prometheus must never read half a file
    return path


# -- the stack -------------------------------------------------------------------------------


class ScaleStack(Stack):
    """A :class:`Stack` whose exporters are :mod:`simulator.multiexporter` shards discovered
    through a file_sd file; see the module docstring. Other arguments are :class:`Stack`'s.

    ``exporter_interval`` is every sampling stage's period (the exporter's flags
    ``--nvml-interval`` ...): a thousand nodes sampling NVML every second would need more CPU
    than a small machine has, and Prometheus reads them every scrape interval anyway.

    ``live=False`` is the query plane alone: the history and the analytics service, no
    exporter, no cluster series, no scrape job (pass ``rule_files=()`` for no rules either).
    The history should then reach past the measurement (``end`` ahead of now), at a
    ``topup_step`` fine enough for the service's rate windows, so that "now" lies inside it
    as with live scraping; ``recorded_days``, ``reuse_hours`` and ``ahead`` as
    :func:`prepare_scale_history`'s.
    """

    def __init__(
        self,
        fleet: Path,
        *,
        shards: int = 4,
        history_groups: int = 8,
        history_workers: int = 2,
        history_block_hours: int = 1458,
        exporter_interval: float = 15.0,
        live: bool = True,
        recorded_days: float = 0.0,
        topup_step: int | None = None,
        reuse_hours: int = 0,
        ahead: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fleet, history_workers=history_workers, **kwargs)
        self.live = live
        self.recorded_days = recorded_days
        self.topup_step = topup_step
        self.reuse_hours = reuse_hours
        self.ahead = ahead
        self.shards = max(1, min(shards, len(self.fleet.nodes)))
        self.history_groups = history_groups
        self.history_block_hours = history_block_hours
        self.exporter_interval = exporter_interval
        self.history_stats: list[GroupStats] = []
        self.shard_pids: list[int] = []
        self.cluster_pid: int | None = None
        self.sd_file = Path()

    def _prepare_history(self, data_dir: Path, end: float) -> HistoryInfo:
        info, stats = prepare_scale_history(
            self.fleet_path,
            data_dir,
            nodes=self.nodes,
            days=self.days,
            end=end,
            step=self.step,
            state_interval=self.state_interval,
            cache_dir=self.cache_dir,
            groups=self.history_groups,
            workers=self.history_workers or 2,
            block_hours=self.history_block_hours,
            log=self._log,
            recorded_days=self.recorded_days,
            topup_step=self.topup_step,
            # The query plane: the minutes before now at the top-up's step too, for the
            # service's 5-minute rate windows (twice that, for the sample before them).
            entry_end=None if self.live else time.time() - 600,
            reuse_hours=self.reuse_hours,
            ahead=self.ahead,
        )
        self.history_stats = stats
        return info

    def _wire_analytics(self) -> None:
        if self.live:  # the query plane scrapes nothing, the service's own metrics included
            super()._wire_analytics()

    def _start_simulated_cluster(self) -> None:
        if not self.live:
            return
        interval = f"{self.exporter_interval:g}"
        shards: list[tuple[subprocess.Popen[bytes], Path]] = []
        exporters_dir = self.workdir / "exporters"
        for index in range(self.shards):
            log = self.workdir / f"multiexporter-{index}.log"
            process = spawn(
                [
                    sys.executable,
                    "-m",
                    "simulator.multiexporter",
                    "--fleet",
                    str(self.fleet_path),
                    "--workdir",
                    str(exporters_dir),
                    "--shard",
                    f"{index}/{self.shards}",
                    "--host",
                    self.host,
                    "--",
                    "--log-level",
                    "WARNING",
                    *("--nvml-interval", interval, "--processes-interval", interval),
                    *("--pod-resources-interval", interval, "--kubernetes-interval", interval),
                ],
                log_path=log,
                cwd=ROOT,
            )
            self._processes.append((f"multiexporter {index}", process, log))
            self.shard_pids.append(process.pid)
            shards.append((process, log))
        cluster_log = self.workdir / "cluster.log"
        cluster = spawn(
            [
                sys.executable,
                "-m",
                "simulator.cluster",
                "--fleet",
                str(self.fleet_path),
                "--listen",
                f"{self.host}:0",
            ],
            log_path=cluster_log,
            cwd=ROOT,
        )
        self._processes.append(("cluster series", cluster, cluster_log))
        self.cluster_pid = cluster.pid
        for index, (process, log) in enumerate(shards):
            path = self._wait_for_line(f"multiexporter {index}", _SHARD_READY, process, log)
            for node, target in json.loads(Path(path).read_text()).items():
                self.exporter_urls[node] = f"http://{target}"
        missing = set(self.nodes) - set(self.exporter_urls)
        if missing:
            raise StackError(f"no exporter for {len(missing)} nodes, e.g. {sorted(missing)[0]}")
        self.sd_file = write_sd_file(self.workdir / "prometheus" / SD_FILE, self.exporter_urls)
        self.cluster_url = self._wait_for_line("cluster series", _CLUSTER_URL, cluster, cluster_log)
        self._wait_http("cluster series", self.cluster_url + "/healthz", cluster, cluster_log)

    def process_groups(self) -> dict[str, list[int]]:
        """Process ids by part: prometheus, multiexporters, cluster, analytics (with workers)."""
        groups: dict[str, list[int]] = {"multiexporters": list(self.shard_pids)}
        if self.prometheus is not None and self.prometheus.process is not None:
            groups["prometheus"] = [self.prometheus.process.pid]
        if self.cluster_pid is not None:
            groups["cluster series"] = [self.cluster_pid]
        for name, process, _log in self._processes:
            if name == "analytics":
                pids = [process.pid, *(child.pid for child in descendants(process.pid))]
                groups["analytics"] = pids
        return groups

    def _scrape_jobs(self) -> list[ScrapeJob]:
        if not self.live:
            return []
        jobs = [job for job in super()._scrape_jobs() if job.name != EXPORTER_JOB]
        return [ScrapeJob(EXPORTER_JOB, (), file_sd_files=(str(self.sd_file),)), *jobs]


# -- internal command: one history group -----------------------------------------------------


def _history_part(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.scale history-part")
    parser.add_argument("--fleet", required=True, type=Path)
    parser.add_argument("--start", required=True, type=float)
    parser.add_argument("--end", required=True, type=float)
    parser.add_argument("--step", required=True, type=int)
    parser.add_argument("--state-interval", required=True, type=int)
    parser.add_argument("--parts-file", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--counters-out", required=True, type=Path)
    parser.add_argument("--recorded-only", action="store_true")
    args = parser.parse_args(argv)
    began = time.monotonic()
    result = write_history(
        load_fleet_fast(args.fleet),
        args.out,
        start=args.start,
        end=args.end,
        step=args.step,
        state_interval=args.state_interval,
        parts=args.parts_file.read_text().split(),
        recorded_only=args.recorded_only,
    )
    args.counters_out.write_text(json.dumps(counters_to_json(result.counters)))
    print(
        f"devstack.scale: {result.samples} samples of {result.series} series "
        f"in {time.monotonic() - began:.1f}s",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["history-part"]:
        return _history_part(args[1:])
    print("usage: python -m devstack.scale history-part ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
