"""Overheating windows: how the hot intervals of many GPUs over a long window are read cheaply
and joined up (analytics.services.gpu.metrics reads them; these are the pure parts).

Hot hours come from the hourly maxima (recording rule); around them, and over the recent part
no rule sample covers yet, the raw temperatures are read at REFINE_STEP_SECONDS in few range
queries (:func:`merge_ranges`, :func:`chunks`); windows at an hour's resolution
(:func:`hourly_windows`) and at a minute's are joined where one runs across the boundary
(:func:`join_windows`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

# The step of the raw temperature reads (s).
REFINE_STEP_SECONDS = 60
MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series


class Window(NamedTuple):
    """One overheating window of a device: first and last hot instant (unix s), minutes, peak."""

    first: float
    last: float
    minutes: float
    peak: float
    ongoing: bool


def hourly_windows(hot_hours: list[tuple[float, float]]) -> list[Window]:
    """Overheating windows at an hour's resolution from the hourly maxima above the threshold
    (each point at t covers the hour before it): consecutive hot hours make one window."""
    windows: list[Window] = []
    run: list[tuple[float, float]] = []
    for point in [*sorted(hot_hours), (math.inf, 0.0)]:
        if run and point[0] - run[-1][0] > 3600:
            first, last = run[0][0] - 3600, run[-1][0]
            peak = max(value for _t, value in run)
            windows.append(Window(first, last, (last - first) / 60.0, peak, False))
            run = []
        run.append(point)
    return windows


def join_windows(hourly: list[Window], detailed: list[Window], boundary: float) -> list[Window]:
    """A device's hourly windows (before ``boundary``) and minute-resolution ones (after it),
    with a window running across the boundary made one: the last hot hour ending within the
    hour before the boundary and a detailed window starting at it are one heat episode (the
    hour holding the boundary was hot: its maximum is why the minutes after it were read)."""
    if not hourly or not detailed:
        return [*hourly, *detailed]
    before, after = max(hourly), min(detailed)
    if boundary - before.last < 3600 and after.first - boundary <= 1.5 * REFINE_STEP_SECONDS:
        last = after.last
        one = Window(
            before.first,
            last,
            (last + REFINE_STEP_SECONDS - before.first) / 60.0,
            max(before.peak, after.peak),
            after.ongoing,
        )
        return [w for w in hourly if w != before] + [one] + [w for w in detailed if w != after]
    return [*hourly, *detailed]


# What one more query costs, in series-steps of a range query (measured: a few ms each).
QUERY_OVERHEAD_SERIES_STEPS = 3000


def merge_ranges(
    ranges: list[tuple[float, float, set[str] | None]],
) -> list[tuple[float, float, set[str] | None]]:
    """Batch the refinement ranges into few, cheap range queries.

    A range for every device (None: the recent part no rule sample covers yet) stays on its
    own. Device ranges are merged per device where they overlap, then batched greedily in
    time order while one query over the union (steps x devices) costs less than separate
    ones plus a query's overhead, so daily hot hours of many GPUs do not become a month-long
    query over all of them.
    """
    everyone = [(a, b, None) for a, b, u in ranges if u is None]
    per_device: dict[str, list[tuple[float, float]]] = {}
    for start, end, uuids in ranges:
        for uuid in uuids or ():
            per_device.setdefault(uuid, []).append((start, end))
    pieces: list[tuple[float, float, str]] = []
    for uuid, spans in per_device.items():
        current: list[float] | None = None
        for start, end in sorted(spans):
            if current is not None and start <= current[1]:
                current[1] = max(current[1], end)
                continue
            if current is not None:
                pieces.append((current[0], current[1], uuid))
            current = [start, end]
        if current is not None:
            pieces.append((current[0], current[1], uuid))

    def cost(start: float, end: float, devices: int) -> float:
        return (end - start) / REFINE_STEP_SECONDS * devices

    batches: list[tuple[float, float, set[str] | None]] = []
    batch_cost = 0.0
    for start, end, uuid in sorted(pieces):
        if batches:
            b_start, b_end, b_uuids = batches[-1]
            assert b_uuids is not None
            union = cost(min(b_start, start), max(b_end, end), len(b_uuids | {uuid}))
            alone = cost(start, end, 1)
            if union <= batch_cost + alone + QUERY_OVERHEAD_SERIES_STEPS:
                batches[-1] = (min(b_start, start), max(b_end, end), b_uuids | {uuid})
                batch_cost = union
                continue
        batches.append((start, end, {uuid}))
        batch_cost = cost(start, end, 1)
    return [*batches, *everyone]


def chunks(start: float, end: float) -> list[tuple[float, float]]:
    span = REFINE_STEP_SECONDS * MAX_POINTS
    chunks = []
    while start < end:
        chunks.append((start, min(end, start + span)))
        start += span + REFINE_STEP_SECONDS
    return chunks


def align(t: float, step: float, up: bool = False) -> float:
    aligned = math.floor(t / step) * step
    return aligned + step if up and aligned < t else aligned
