"""Rate-limit counter storage shared by every worker: a memory-mapped slot file, a SQL table,
or process memory."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import mmap
import os
import struct
import threading
import time
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from analytics.store.db import Database
from analytics.store.tables import rate_limit_counters

log = logging.getLogger(__name__)


class CounterStore(Protocol):
    def hit(self, bucket: str, window_start: int) -> int:
        """Count one request in (bucket, window) and return the count so far."""
        ...


class SqlCounterStore:
    """Counters in a table: shared by all processes that use the same database.

    One UPSERT per request in its own short write transaction. Windows older than the previous
    one are deleted when a bucket opens a new window. On PostgreSQL the UPSERT is atomic by
    itself (``ON CONFLICT DO UPDATE`` locks the row), so it does not queue behind the
    serialised writers (``Database.write(serialized=False)``).
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        dialect = sqlite if database.is_sqlite else postgresql
        table = rate_limit_counters
        # Built once: this runs on every request.
        self._upsert = (
            dialect.insert(table)
            .values(bucket=bindparam("b_bucket"), window_start=bindparam("b_window"), count=1)
            .on_conflict_do_update(
                index_elements=[table.c.bucket, table.c.window_start],
                set_={"count": table.c.count + 1},
            )
            .returning(table.c.count)
        )
        self._prune = delete(table).where(table.c.window_start < bindparam("b_oldest"))

    def hit(self, bucket: str, window_start: int) -> int:
        def run(conn: Connection) -> int:
            params = {"b_bucket": bucket, "b_window": window_start}
            count = int(conn.execute(self._upsert, params).scalar_one())
            if count == 1:
                conn.execute(self._prune, {"b_oldest": window_start - 60})
            return count

        return self._database.write(run, serialized=False)

    def peek(self, bucket: str, window_start: int) -> int:
        with self._database.read() as conn:
            value = conn.execute(
                select(rate_limit_counters.c.count)
                .where(rate_limit_counters.c.bucket == bucket)
                .where(rate_limit_counters.c.window_start == window_start)
            ).scalar()
        return int(value or 0)


class MemoryCounterStore:
    """Counters in this process only: for a single worker or tests, never for several workers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, bucket: str, window_start: int) -> int:
        with self._lock:
            key = (bucket, window_start)
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._counts[key] == 1:
                for old in [k for k in self._counts if k[1] < window_start - 60]:
                    del self._counts[old]
            return self._counts[key]


# The slot file: a 64-byte header, then fixed 24-byte slots (fingerprint, window start, count).
_MAGIC = b"GARLCNT1"
_HEADER = struct.Struct("<8sQQ")  # magic, slot count, fail-open count
_HEADER_SIZE = 64
_FAIL_OPEN_OFFSET = 16
_SLOT = struct.Struct("<QqQ")  # key fingerprint (0: never used), window start, count
_COUNT = struct.Struct("<Q")
DEFAULT_SLOTS = 1 << 16  # 1.5 MiB
MAX_PROBE = 32
_WINDOW_S = 60


def bucket_hash(bucket: str) -> tuple[int, int]:
    """(fingerprint, home-slot hash) of a bucket: two independent 64-bit halves of blake2b.

    The fingerprint is never 0, which marks a slot that was never used.
    """
    digest = hashlib.blake2b(bucket.encode(), digest_size=16, person=b"gpu-ratelimit").digest()
    fingerprint = int.from_bytes(digest[:8], "little") or 1
    return fingerprint, int.from_bytes(digest[8:], "little")


class FileCounterStore:
    """Counters in a fixed-size memory-mapped file, shared by every process on the host.

    The file (``<data_dir>/ratelimit.counters``) holds ``slots`` counters of (bucket
    fingerprint, window start, count). A bucket's home slot comes from its hash; a hit probes
    at most ``MAX_PROBE`` slots from there (open addressing) under an exclusive ``flock`` on
    the file, plus a thread lock for threaded workers. A slot matches only when both the 64-bit
    fingerprint of the bucket name and the window are equal, so buckets that share a slot never
    merge their counts (two names with the same 64-bit blake2b fingerprint would).

    A new (bucket, window) takes, in order of preference, a never-used slot or one from a window
    older than the previous one; failing that, a slot of the previous window (those counts are
    no longer needed, except by a request that read the clock just before the boundary). When
    all probed slots belong to the current window, the request is let through uncounted (fail
    open): the shared ``fail_open_count`` in the header goes up and a warning is logged, at most
    once a minute per process. With the default 65,536 slots that takes thousands of distinct
    clients within one minute on one probe chain.

    The file is mapped lazily in each process (after gunicorn forks its workers, since an
    ``flock`` taken through a descriptor inherited across fork would not exclude the parent)
    and survives worker restarts. A file with a valid header keeps its slot count.
    """

    def __init__(self, path: Path, slots: int = DEFAULT_SLOTS) -> None:
        if slots < 1:
            raise ValueError("slots must be positive")
        self._path = path
        self._slots = slots
        self._thread_lock = threading.Lock()
        self._pid = -1
        self._fd = -1
        self._map: mmap.mmap | None = None
        self._last_warning = float("-inf")
        # Create (or adopt) the file now, so a bad data dir fails at start-up; map it later.
        os.close(self._open_file())

    @property
    def path(self) -> Path:
        return self._path

    @property
    def slots(self) -> int:
        return self._slots

    def _open_file(self) -> int:
        """Open the file, initialising its header and size if needed; sets ``self._slots``."""
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                header = os.pread(fd, _HEADER.size, 0)
                size = os.fstat(fd).st_size
                if len(header) == _HEADER.size:
                    magic, slots, _fail_open = _HEADER.unpack(header)
                    if magic == _MAGIC and slots > 0 and size == _file_size(slots):
                        self._slots = slots
                        return fd
                # New, truncated or foreign: start afresh (the counters are only a cache).
                os.ftruncate(fd, 0)
                os.ftruncate(fd, _file_size(self._slots))
                os.pwrite(fd, _HEADER.pack(_MAGIC, self._slots, 0), 0)
                return fd
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except BaseException:
            os.close(fd)
            raise

    def _mapped(self) -> tuple[int, mmap.mmap]:
        """This process's descriptor and mapping, (re)opened after a fork."""
        pid = os.getpid()
        if self._pid != pid or self._map is None:
            if self._map is not None:
                # Inherited from the parent: closing our copies leaves the parent's intact.
                self._map.close()
                os.close(self._fd)
                self._map = None
            fd = self._open_file()
            try:
                self._map = mmap.mmap(fd, _file_size(self._slots), mmap.MAP_SHARED)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            self._pid = pid
        return self._fd, self._map

    def hit(self, bucket: str, window_start: int) -> int:
        fingerprint, home_hash = bucket_hash(bucket)
        with self._thread_lock:
            fd, table = self._mapped()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                count = self._hit_locked(table, fingerprint, home_hash, window_start)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        if count == 0:
            self._warn_full(bucket)
            return 1
        return count

    def _hit_locked(self, table: mmap.mmap, fingerprint: int, home: int, window: int) -> int:
        """Count the hit; return the new count, or 0 when no slot could be had (fail open)."""
        slots = self._slots
        free = stale = -1
        index = home % slots
        for _ in range(min(MAX_PROBE, slots)):
            offset = _HEADER_SIZE + index * _SLOT.size
            slot_fingerprint, slot_window, count = _SLOT.unpack_from(table, offset)
            if slot_fingerprint == fingerprint and slot_window == window:
                _COUNT.pack_into(table, offset + 16, count + 1)
                return int(count + 1)
            if slot_fingerprint == 0:
                # Slots are never emptied, so the probe chain ends at the first unused one.
                if free < 0:
                    free = offset
                break
            if free < 0 and slot_window < window - _WINDOW_S:
                free = offset
            elif stale < 0 and slot_window < window:
                stale = offset
            index = (index + 1) % slots
        target = free if free >= 0 else stale
        if target < 0:
            _COUNT.pack_into(
                table, _FAIL_OPEN_OFFSET, _COUNT.unpack_from(table, _FAIL_OPEN_OFFSET)[0] + 1
            )
            return 0
        _SLOT.pack_into(table, target, fingerprint, window, 1)
        return 1

    def _warn_full(self, bucket: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WINDOW_S:
            self._last_warning = now
            log.warning(
                "rate-limit file %s: no free slot for bucket %r among %d probed; request let "
                "through uncounted (%d so far)",
                self._path,
                bucket,
                min(MAX_PROBE, self._slots),
                self.fail_open_count,
            )

    @property
    def fail_open_count(self) -> int:
        """Requests let through uncounted because their probe chain was full (all processes)."""
        with self._thread_lock:
            _fd, table = self._mapped()
            return int(_COUNT.unpack_from(table, _FAIL_OPEN_OFFSET)[0])

    def peek(self, bucket: str, window_start: int) -> int:
        """The count of (bucket, window) without counting a hit; 0 when absent."""
        fingerprint, home = bucket_hash(bucket)
        with self._thread_lock:
            fd, table = self._mapped()
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                index = home % self._slots
                for _ in range(min(MAX_PROBE, self._slots)):
                    slot = _SLOT.unpack_from(table, _HEADER_SIZE + index * _SLOT.size)
                    if slot[0] == fingerprint and slot[1] == window_start:
                        return int(slot[2])
                    if slot[0] == 0:
                        break
                    index = (index + 1) % self._slots
                return 0
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Unmap and close this process's handle (the next hit reopens it)."""
        with self._thread_lock:
            if self._map is not None and self._pid == os.getpid():
                self._map.close()
                os.close(self._fd)
            self._map = None
            self._fd = -1
            self._pid = -1


def _file_size(slots: int) -> int:
    return _HEADER_SIZE + slots * _SLOT.size
