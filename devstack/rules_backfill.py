"""Recording rules over a backfilled history, as Prometheus would have recorded them live.

A history written by :mod:`simulator.history` holds raw series (and the ``gpu-hourly`` group,
which the writer computes itself). Rules that aggregate the whole cluster (group
``cluster-statistics`` of ``alerts/recording-rules.yml``) span every part of the history, so
they are computed by Prometheus itself: a Prometheus started on the history's data directory,
without scraping or rules, answers ``promtool tsdb create-blocks-from rules`` for the history's
range, and the blocks promtool writes join the data directory before the stack's Prometheus
starts. The live Prometheus then evaluates the same groups from its start on, so each rule is
one series from the history's first minute to now (Prometheus' documented route for new rules
over old data: https://prometheus.io/docs/prometheus/latest/storage/#backfilling-for-recording-rules).

promtool evaluates each rule against the data as it was before the backfill: a rule that reads
another rule's output would see nothing, so the groups backfilled here read raw series only.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from devstack.prometheus import PrometheusError, PrometheusServer, binary

ROOT = Path(__file__).resolve().parent.parent
RULE_FILE = ROOT / "alerts" / "recording-rules.yml"
# Groups of RULE_FILE the history writer does not compute itself.
BACKFILLED_GROUPS: tuple[str, ...] = ("cluster-statistics", "model-hourly")


def rules_digest(rule_file: Path = RULE_FILE, groups: Sequence[str] = BACKFILLED_GROUPS) -> bytes:
    """What the backfilled rules are: part of a history cache entry's key."""
    return yaml.safe_dump(_groups(rule_file, groups), sort_keys=True).encode()


@dataclass(frozen=True)
class RuleRange:
    """Evaluate the rules over [start, end]; their blocks go to ``target``."""

    start: int
    end: int
    target: Path


def backfill_rules(
    data_dir: Path,
    ranges: Sequence[RuleRange],
    *,
    rule_file: Path = RULE_FILE,
    groups: Sequence[str] = BACKFILLED_GROUPS,
    timeout: float = 900.0,
    workers: int | None = None,
) -> float:
    """Evaluate ``groups`` of ``rule_file`` at their intervals over each range of the history in
    ``data_dir`` (a TSDB directory no Prometheus runs on now) and move the blocks to the range's
    target: ``data_dir`` itself, or a cache entry (each block renamed into it whole, so a reader
    of the entry never sees half a block). ``workers``: promtool runs at once (default: the
    CPU count). Returns the seconds it took."""
    started = time.monotonic()
    wanted = _groups(rule_file, groups)
    with tempfile.TemporaryDirectory(prefix=".rules-backfill-", dir=data_dir.parent) as tmp:
        work = Path(tmp)
        rules = work / "rules.yml"
        rules.write_text(yaml.safe_dump({"groups": wanted}, sort_keys=False))
        # The history's Prometheus, read-only in effect: no scrape jobs, no rules.
        server = PrometheusServer(work, log_level="error")
        server.data_dir = data_dir
        server.start(timeout=timeout)
        try:
            # Chunks side by side (promtool only asks; Prometheus evaluates on every core),
            # each written next to its target, so that moving a block is a rename.
            chunks = [
                (chunk, Path(tempfile.mkdtemp(prefix=".rules-", dir=one.target.parent)))
                for one in ranges
                for chunk in _chunks(one, workers or os.cpu_count() or 1)
            ]
            try:
                with concurrent.futures.ThreadPoolExecutor(len(chunks)) as pool:
                    list(
                        pool.map(
                            lambda job: _promtool(server.url, job[0], rules, job[1], timeout),
                            chunks,
                        )
                    )
                for chunk, out in chunks:
                    for block in out.iterdir():
                        if (block / "meta.json").is_file():
                            block.rename(chunk.target / block.name)
            finally:
                for _chunk, out in chunks:
                    shutil.rmtree(out, ignore_errors=True)
        finally:
            server.stop()
    return time.monotonic() - started


# promtool writes two-hour blocks: chunks end on their boundaries.
_BLOCK_S = 7200


def _chunks(one: RuleRange, parts: int) -> list[RuleRange]:
    """``one`` cut into up to ``parts`` ranges that follow each other without a gap: promtool
    evaluates a group at its fixed offset in each interval, so [a, b] then [b + 1, c] is
    [a, c]."""
    size = math.ceil((one.end - one.start) / parts / _BLOCK_S) * _BLOCK_S
    if size <= 0:
        return [one]
    cuts = [
        t for t in range(math.ceil(one.start / _BLOCK_S) * _BLOCK_S, one.end, size) if t > one.start
    ]
    bounds = [one.start, *cuts, one.end]
    return [
        RuleRange(a if i == 0 else a + 1, b, one.target)
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    ]


def _promtool(url: str, one: RuleRange, rules: Path, output: Path, timeout: float) -> None:
    result = subprocess.run(
        [
            binary("promtool"),
            "tsdb",
            "create-blocks-from",
            "rules",
            "--quiet",
            f"--url={url}",
            f"--start={one.start}",
            f"--end={one.end}",
            f"--output-dir={output}",
            str(rules),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise PrometheusError(f"promtool rule backfill failed: {result.stderr[-2000:]}")


def _groups(rule_file: Path, names: Sequence[str]) -> list[dict[str, object]]:
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    found = [group for group in groups if group["name"] in names]
    missing = set(names) - {group["name"] for group in found}
    if missing:
        raise PrometheusError(f"{rule_file.name} has no rule group {sorted(missing)}")
    return found
