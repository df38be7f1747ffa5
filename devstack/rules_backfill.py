"""Recording rules over a backfilled history, as Prometheus would have recorded them live.

A history written by :mod:`simulator.history` holds raw series (and the ``gpu-hourly`` group,
which the writer computes itself). Rules that aggregate the whole cluster (group
``cluster-statistics`` of ``alerts/recording-rules.yml``) span every part of the history, so
they are computed by Prometheus itself: a Prometheus started on the history's data directory,
without scraping or rules, answers each rule as a range query over the history, and the
answers, backfilled by promtool, join the data directory before the stack's Prometheus
starts. The live Prometheus then evaluates the same groups from its start on, so each rule is
one series from the history's first minute to now (Prometheus' documented route for new rules
over old data: https://prometheus.io/docs/prometheus/latest/storage/#backfilling-for-recording-rules).

Each rule is evaluated against the data as it was before the backfill: a rule that reads
another rule's output would see nothing, so the groups backfilled here read raw series only.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devstack.prometheus import (
    PrometheusError,
    PrometheusServer,
    backfill_openmetrics,
    duration_seconds,
    query_range,
)
from simulator.cluster import format_labels

ROOT = Path(__file__).resolve().parent.parent
RULE_FILE = ROOT / "alerts" / "recording-rules.yml"
# Groups of RULE_FILE the history writer does not compute itself.
BACKFILLED_GROUPS: tuple[str, ...] = ("cluster-statistics", "model-hourly")
# Groups over series the simulated history does not hold (GPM's gpu_prof_*: live exporters
# only), so they start with the live Prometheus.
LIVE_ONLY_GROUPS: tuple[str, ...] = ("gpu-profiling-hourly",)


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
    """Evaluate ``groups`` of ``rule_file`` over each range of the history in ``data_dir`` (a
    TSDB directory no Prometheus runs on now) and add the results to the range's target as
    TSDB blocks: ``data_dir`` itself, or a cache entry (each block renamed into it whole, so a
    reader of the entry never sees half a block). ``workers``: queries at once (default: the
    CPU count). Returns the seconds it took.

    Each rule is a range query at its group's interval, on the interval's multiples (the live
    Prometheus evaluates at an offset of its own within the interval: where the two meet, one
    interval is shorter), written as OpenMetrics and turned into blocks by promtool like the
    history. (``promtool tsdb create-blocks-from rules`` writes a block per rule and two hours:
    thousands for the demo's month.)
    """
    started = time.monotonic()
    jobs = [
        (number, rule.record, rule.expr, window)
        for number, one in enumerate(ranges)
        for rule in _rules(rule_file, groups)
        for window in _windows(one, rule.interval)
    ]
    with tempfile.TemporaryDirectory(prefix=".rules-backfill-", dir=data_dir.parent) as tmp:
        work = Path(tmp)
        # The history's Prometheus, read-only in effect: no scrape jobs, no rules.
        server = PrometheusServer(work, log_level="error")
        server.data_dir = data_dir
        server.start(timeout=timeout)
        try:
            with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:

                def ask(job: tuple[int, str, str, tuple[int, int, int]]) -> Any:
                    start, end, step = job[3]
                    return query_range(server.url, job[2], start, end, step, timeout=timeout)

                answers = list(pool.map(ask, jobs))
        finally:
            server.stop()
        for number, one in enumerate(ranges):
            om = work / f"rules-{number}.om"
            mine = list(zip(jobs, answers, strict=True))
            _write_openmetrics(om, [(job[1], answer) for job, answer in mine if job[0] == number])
            # Written next to the target, so that moving a block is a rename.
            out = Path(tempfile.mkdtemp(prefix=".rules-", dir=one.target.parent))
            try:
                backfill_openmetrics(om, out)
                for block in out.iterdir():
                    if (block / "meta.json").is_file():
                        block.rename(one.target / block.name)
            finally:
                shutil.rmtree(out, ignore_errors=True)
    return time.monotonic() - started


@dataclass(frozen=True)
class _Rule:
    record: str
    expr: str
    interval: int  # seconds


def _rules(rule_file: Path, groups: Sequence[str]) -> list[_Rule]:
    return [
        _Rule(
            str(rule["record"]),
            str(rule["expr"]),
            int(duration_seconds(str(group.get("interval", "1m")))),
        )
        for group in _groups(rule_file, groups)
        for rule in group["rules"]  # type: ignore[attr-defined]
        if "record" in rule
    ]


def _write_openmetrics(path: Path, answers: Sequence[tuple[str, Any]]) -> None:
    """Range-query answers as OpenMetrics, one family per record, each series' samples in
    time order (answers of one record come in the order of their windows)."""
    families: dict[str, dict[tuple[tuple[str, str], ...], list[str]]] = {}
    for record, answer in answers:
        family = families.setdefault(record, {})
        for result in answer["result"]:
            labels = tuple(sorted(result["metric"].items()))
            family.setdefault(labels, []).extend(f"{v} {t}" for t, v in result["values"])
    with path.open("w") as out:
        for record, family in sorted(families.items()):
            out.write(f"# TYPE {record} gauge\n")
            for labels, points in family.items():
                prefix = f"{record}{{{format_labels(labels)}}} "
                out.writelines(f"{prefix}{point}\n" for point in points)
        out.write("# EOF\n")


# Prometheus answers at most 11,000 points a series per range query.
_MAX_POINTS = 10_000


def _windows(one: RuleRange, interval: int) -> list[tuple[int, int, int]]:
    """(start, end, step) of the range queries covering ``one`` at ``interval``: the multiples
    of the interval in [start, end], at most _MAX_POINTS a query."""
    first = math.ceil(one.start / interval) * interval
    last = one.end // interval * interval
    span = _MAX_POINTS * interval
    return [(t, min(t + span - interval, last), interval) for t in range(first, last + 1, span)]


def _groups(rule_file: Path, names: Sequence[str]) -> list[dict[str, object]]:
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    found = [group for group in groups if group["name"] in names]
    missing = set(names) - {group["name"] for group in found}
    if missing:
        raise PrometheusError(f"{rule_file.name} has no rule group {sorted(missing)}")
    return found
