"""The ``file`` rate-limit storage: a memory-mapped slot file shared by processes."""

from __future__ import annotations

import logging
import multiprocessing
from itertools import count
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from analytics.store.ratelimits import MAX_PROBE, FileCounterStore, bucket_hash

WINDOW = 1_767_614_400  # a minute boundary


def _hammer(
    store: FileCounterStore | str,
    buckets: list[str],
    hits: int,
    start: Barrier,
    results: Queue[dict[str, list[int]]],
) -> None:
    """Runs in another process: ``hits`` hits per bucket, interleaved; puts the counts seen.

    ``store`` is a path (spawned child: a new handle) or the parent's store (forked child).
    """
    if isinstance(store, str):
        store = FileCounterStore(Path(store))
    seen: dict[str, list[int]] = {bucket: [] for bucket in buckets}
    start.wait(timeout=60)
    for _ in range(hits):
        for bucket in buckets:
            seen[bucket].append(store.hit(bucket, WINDOW))
    results.put(seen)


def _same_home(slots: int, how_many: int) -> list[str]:
    """Distinct bucket names whose home slot is the same in a table of ``slots``."""
    first = "bucket-0"
    home = bucket_hash(first)[1] % slots
    names = [first]
    for number in count(1):
        name = f"bucket-{number}"
        if bucket_hash(name)[1] % slots == home:
            names.append(name)
            if len(names) == how_many:
                return names
    raise AssertionError("unreachable")


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_counts_are_shared_by_processes_without_lost_updates(tmp_path: Path, method: str) -> None:
    path = tmp_path / "ratelimit.counters"
    store = FileCounterStore(path)
    # Mapped here before the children start: forked children inherit this very object (as
    # gunicorn workers inherit the master's app) and must open their own descriptor.
    assert store.hit("key:shared", WINDOW) == 1
    context = multiprocessing.get_context(method)
    processes, hits = 4, 3000
    buckets = ["key:shared", "ip:10.0.0.1"]
    start = context.Barrier(processes)
    queue: Queue[dict[str, list[int]]] = context.Queue()
    target = store if method == "fork" else str(path)
    children = [
        context.Process(target=_hammer, args=(target, buckets, hits, start, queue))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    results = [queue.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    # Every hit got its own count: none lost, none seen twice.
    shared = sorted(c for result in results for c in result["key:shared"])
    assert shared == list(range(2, processes * hits + 2))
    other = sorted(c for result in results for c in result["ip:10.0.0.1"])
    assert other == list(range(1, processes * hits + 1))
    assert store.peek("key:shared", WINDOW) == processes * hits + 1
    assert store.hit("key:shared", WINDOW) == processes * hits + 2
    assert store.fail_open_count == 0


def test_counts_survive_a_new_process_handle(tmp_path: Path) -> None:
    path = tmp_path / "ratelimit.counters"
    first = FileCounterStore(path)
    for _ in range(3):
        first.hit("key:a", WINDOW)
    first.close()
    # A restarted worker: same file, fresh handle.
    assert FileCounterStore(path).hit("key:a", WINDOW) == 4
    # The file is a fixed size: header plus slots, whatever the traffic.
    assert path.stat().st_size == 64 + 24 * first.slots


def test_a_foreign_or_truncated_file_is_reinitialised(tmp_path: Path) -> None:
    path = tmp_path / "ratelimit.counters"
    path.write_bytes(b"SQLite format 3\x00" + bytes(100))
    store = FileCounterStore(path, slots=16)
    assert store.hit("key:a", WINDOW) == 1
    assert path.stat().st_size == 64 + 24 * 16


def test_an_existing_file_keeps_its_slot_count(tmp_path: Path) -> None:
    path = tmp_path / "ratelimit.counters"
    FileCounterStore(path, slots=16).hit("key:a", WINDOW)
    adopted = FileCounterStore(path, slots=1024)
    assert adopted.slots == 16
    assert adopted.hit("key:a", WINDOW) == 2


def test_windows_roll_over(tmp_path: Path) -> None:
    store = FileCounterStore(tmp_path / "ratelimit.counters", slots=64)
    assert [store.hit("key:a", WINDOW) for _ in range(3)] == [1, 2, 3]
    assert store.hit("key:a", WINDOW + 60) == 1
    assert store.hit("key:a", WINDOW + 60) == 2
    assert store.peek("key:a", WINDOW) == 3  # the previous window is kept while slots are free
    assert store.hit("key:a", WINDOW + 120) == 1
    assert store.hit("key:a", WINDOW + 600) == 1
    assert store.peek("key:a", WINDOW + 600) == 1


def test_distinct_buckets_never_merge(tmp_path: Path) -> None:
    store = FileCounterStore(tmp_path / "ratelimit.counters", slots=4096)
    buckets = [f"key:{n}" for n in range(1000)]
    for times, bucket in enumerate(buckets):
        for _ in range(times % 5 + 1):
            store.hit(bucket, WINDOW)
    assert [store.peek(b, WINDOW) for b in buckets] == [n % 5 + 1 for n in range(1000)]
    assert store.fail_open_count == 0


def test_buckets_with_the_same_home_slot_keep_their_own_counts(tmp_path: Path) -> None:
    slots = 8
    first, second, third = _same_home(slots, 3)
    assert len({bucket_hash(b)[0] for b in (first, second, third)}) == 3
    store = FileCounterStore(tmp_path / "ratelimit.counters", slots=slots)
    assert [store.hit(first, WINDOW) for _ in range(3)] == [1, 2, 3]
    assert [store.hit(second, WINDOW) for _ in range(2)] == [1, 2]
    assert store.hit(first, WINDOW) == 4
    assert store.hit(third, WINDOW) == 1
    assert (store.peek(first, WINDOW), store.peek(second, WINDOW)) == (4, 2)
    # Same bucket, other window: a separate counter too.
    assert store.hit(second, WINDOW + 60) == 1
    assert store.peek(second, WINDOW) == 2


def test_full_table_fails_open_and_counts_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    slots = 4
    assert slots < MAX_PROBE  # every bucket probes the whole table
    store = FileCounterStore(tmp_path / "ratelimit.counters", slots=slots)
    residents = [f"key:{n}" for n in range(slots)]
    for bucket in residents:
        assert store.hit(bucket, WINDOW) == 1
    with caplog.at_level(logging.WARNING, logger="analytics.store.ratelimits"):
        assert [store.hit("key:late", WINDOW) for _ in range(3)] == [1, 1, 1]
    assert store.fail_open_count == 3
    assert store.peek("key:late", WINDOW) == 0
    # One warning per minute per process, not one per request.
    warnings = [r for r in caplog.records if "no free slot" in r.getMessage()]
    assert len(warnings) == 1
    # The residents are still counted exactly.
    assert [store.hit(bucket, WINDOW) for bucket in residents] == [2] * slots
    # Next window: slots of the previous one are taken over, oldest data first.
    assert store.hit("key:late", WINDOW + 60) == 1
    assert store.hit("key:late", WINDOW + 60) == 2
    assert store.fail_open_count == 3
