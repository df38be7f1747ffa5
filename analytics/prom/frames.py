"""Prometheus answers reshaped for the services: tables by key, points by key, runs above a
threshold. Plain Python: these are a few thousand rows per request, and a worker need not load
pandas for them (statsmodels, in analytics.forecasting.models, is the one user of pandas).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from analytics.prom.client import Sample, Series


def pivot(samples: Sequence[Sample], key: str, column_label: str) -> dict[str, dict[str, float]]:
    """Rows by ``key`` (e.g. uuid), one entry per value of ``column_label`` (e.g. stat).

    The rows of a tagged answer (one query, several statistics) become one table; a key with a
    statistic missing has no entry for it, samples without the key are left out, and of two
    samples for one cell the last counts.
    """
    table: dict[str, dict[str, float]] = {}
    for sample in samples:
        row = sample.labels.get(key, "")
        if row:
            table.setdefault(row, {})[sample.labels.get(column_label, "")] = sample.value
    return table


def points_by(series: Iterable[Series], label: str) -> dict[str, list[tuple[float, float]]]:
    """Range-query points by the value of ``label`` (series with the same value merged), in
    time order; of two points at one time (overlapping ranges) the first is kept."""
    merged: dict[str, dict[float, float]] = {}
    for s in series:
        points = merged.setdefault(s.labels.get(label, ""), {})
        for t, value in s.points:
            points.setdefault(float(t), float(value))
    return {key: sorted(points.items()) for key, points in merged.items()}


@dataclass(frozen=True)
class Run:
    """A stretch of readings above a threshold: first and last such reading, the peak, how many."""

    key: str
    start: float
    end: float
    peak: float
    samples: int


def runs_above(
    points: Mapping[str, Sequence[tuple[float, float]]],
    thresholds: Mapping[str, float],
    max_gap_seconds: float,
) -> list[Run]:
    """Contiguous stretches where a key's value exceeds its threshold.

    ``points`` are :func:`points_by`'s; consecutive readings above the threshold that are at most
    ``max_gap_seconds`` apart form one run (a reading at or below it, or a longer gap, as when
    Prometheus filtered cool readings out, ends it). Keys without a threshold have none. Ordered
    by key and start.
    """
    runs: list[Run] = []
    for key in sorted(points):
        threshold = thresholds.get(key)
        if threshold is None:
            continue
        current: list[tuple[float, float]] = []
        previous: float | None = None
        for t, value in [*points[key], (float("inf"), float("-inf"))]:
            hot = value > threshold
            if current and (not hot or previous is None or t - previous > max_gap_seconds):
                peak = max(v for _t, v in current)
                runs.append(Run(key, current[0][0], current[-1][0], peak, len(current)))
                current = []
            if hot:
                current.append((t, value))
            previous = t
    return runs


def group_means(
    rows: Iterable[Mapping[str, float | str | None]], by: str, columns: Sequence[str]
) -> dict[str, dict[str, float | None]]:
    """Per value of ``by``: ``count`` (rows) and the mean of each column over the rows that
    have it (None when none has), unrounded."""
    groups: dict[str, list[Mapping[str, float | str | None]]] = {}
    for row in rows:
        groups.setdefault(str(row[by]), []).append(row)
    means: dict[str, dict[str, float | None]] = {}
    for group, members in groups.items():
        entry: dict[str, float | None] = {"count": float(len(members))}
        for column in columns:
            known = [float(v) for m in members if isinstance(v := m.get(column), (int, float))]
            entry[column] = sum(known) / len(known) if known else None
        means[group] = entry
    return means
