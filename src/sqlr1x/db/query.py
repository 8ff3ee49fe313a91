"""Single-query execution: a per-process pool of guarded connections, limits, and a result cache.

:class:`QueryExecutor` resolves a database path, takes a guarded connection from its bounded LRU
pool (:class:`~sqlr1x.db.guard.ConnectionPool`) and runs one statement under its time, row and
byte limits. ``execute_cached`` memoises results (gold queries) keyed by file identity + SQL +
limits. Batches, worker processes and result comparison live in :mod:`sqlr1x.db.scheduler`.

>>> import sqlite3, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "t.sqlite")
>>> sqlite3.connect(path).executescript("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);").close()
>>> with QueryExecutor(timeout=1.0, max_rows=1) as ex:
...     r = ex.execute(path, "SELECT x FROM t ORDER BY x")
>>> r.rows, r.truncated
([(1,)], True)
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import sqlite3
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace

from .guard import DEFAULT_MAX_BYTES, DEFAULT_MAX_CONNECTIONS, ConnectionPool, ExecResult, file_signature

__all__ = ["QueryExecutor"]

# A timeout, a missing file, a dead worker, a batch deadline or a transient runtime error may not
# recur: never remember one of them as the query's result (a gold timeout is not a permanent gold).
_TRANSIENT_ERRORS = frozenset({"timeout", "deadline", "missing_db", "runtime"})

# (timeout, deadline) for the ``execute`` calls made inside ``QueryExecutor.limited``: a context
# variable rather than parameters, so subclasses that wrap ``execute(db_path, sql)`` keep working.
_LIMITS: contextvars.ContextVar[tuple[float | None, float | None]] = contextvars.ContextVar(
    "sqlr1x_query_limits", default=(None, None)
)


@functools.lru_cache(maxsize=4096)
def _resolve(db_path: str) -> str:
    return os.path.realpath(db_path)


class QueryExecutor:
    """Guarded read-only SQLite execution of one statement at a time, with connection reuse and a cache.

    ``timeout`` (s) and ``max_rows`` bound every query; ``max_bytes`` is the result budget
    (``too_large`` beyond it; None: unbounded); ``max_connections`` bounds the open connections
    of this executor in this process (least recently used closed first); ``cache_size`` bounds
    the ``execute_cached`` LRU.
    """

    def __init__(
        self,
        timeout: float = 5.0,
        max_rows: int | None = 10_000,
        *,
        cache_size: int = 4096,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        if max_rows is not None and max_rows < 0:
            raise ValueError(f"max_rows must be >= 0 or None, got {max_rows!r}")
        if max_bytes is not None and max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0 or None, got {max_bytes!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections!r}")
        self.timeout = float(timeout)
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.max_connections = int(max_connections)
        self.cache_size = int(cache_size)
        self._init_state()

    def _init_state(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._connections = ConnectionPool(self.max_connections, busy_timeout=self.timeout)
        self._cache: OrderedDict[tuple, ExecResult] = OrderedDict()

    def _config(self) -> dict:
        return {
            "timeout": self.timeout,
            "max_rows": self.max_rows,
            "max_bytes": self.max_bytes,
            "max_connections": self.max_connections,
            "cache_size": self.cache_size,
        }

    # Pickling (spawn children, pool arguments) carries the configuration only.
    def __getstate__(self) -> dict:
        return self._config()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_state()

    def __enter__(self) -> QueryExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Interpreter shutdown may have torn down module globals already.
        if sys is not None and not sys.is_finalizing():
            with contextlib.suppress(Exception):
                self.close(wait=False)

    def close(self, wait: bool = True) -> None:
        """Close every connection this executor opened."""
        if self._pid != os.getpid():  # inherited through fork: the parent owns these
            self._init_state()
            return
        self._connections.close()

    def _check_pid(self) -> None:
        if self._pid != os.getpid():
            # A forked child must not use the parent's connections (SQLite forbids carrying
            # connections across fork); drop the references and start afresh.
            self._init_state()

    # ----------------------------------------------------------------------------- execution
    def execute(self, db_path: str | os.PathLike, sql: str) -> ExecResult:
        """Run one statement read-only; never raises for SQL problems (see ``ExecResult.error_kind``)."""
        timeout, deadline = _LIMITS.get()
        return self._execute(
            db_path, sql, self.timeout if timeout is None else timeout, self.max_rows, deadline
        )

    @contextlib.contextmanager
    def limited(self, timeout: float | None = None, deadline: float | None = None) -> Iterator[None]:
        """Within the block, :meth:`execute` uses ``timeout`` (s) and stops at ``deadline`` (``time.monotonic()``).

        >>> with QueryExecutor() as ex, ex.limited(deadline=0.0):
        ...     ex.execute("/nonexistent/x.sqlite", "SELECT 1").error_kind
        'deadline'
        """
        token = _LIMITS.set((timeout, deadline))
        try:
            yield
        finally:
            _LIMITS.reset(token)

    def _execute(
        self,
        db_path: str | os.PathLike | None,
        sql: str,
        timeout: float,
        max_rows: int | None,
        deadline: float | None = None,
    ) -> ExecResult:
        """``deadline``: ``time.monotonic()`` value after which nothing runs (a batch's deadline)."""
        start = time.perf_counter()
        if not isinstance(sql, str) or not sql.strip():
            return ExecResult(error_kind="empty", error="empty SQL", elapsed=time.perf_counter() - start)
        self._check_pid()
        if db_path is None:
            return ExecResult(
                error_kind="missing_db", error="no database path given", elapsed=time.perf_counter() - start
            )
        cut_by_deadline = False
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return ExecResult(error_kind="deadline", error="the batch deadline had passed")
            if left < timeout:
                timeout, cut_by_deadline = left, True
        path = _resolve(os.fspath(db_path))
        try:
            conn = self._connections.acquire(path)
        except sqlite3.Error as exc:  # unreadable file, permissions, out of file descriptors
            return ExecResult(
                error_kind="missing_db", error=f"{path}: {exc}", elapsed=time.perf_counter() - start
            )
        if conn is None:
            return ExecResult(
                error_kind="missing_db",
                error=f"no such database file: {path}",
                elapsed=time.perf_counter() - start,
            )
        try:
            result = conn.run(sql, timeout=timeout, max_rows=max_rows, max_bytes=self.max_bytes, start=start)
        finally:
            self._connections.release(conn)
        if cut_by_deadline and result.error_kind == "timeout":
            return replace(result, error_kind="deadline", error="interrupted at the batch deadline")
        return result

    # ----------------------------------------------------------------------------- caching
    def _cache_key(self, db_path: str | os.PathLike, sql: str) -> tuple:
        path = _resolve(os.fspath(db_path))
        return (path, file_signature(path), sql, self.timeout, self.max_rows, self.max_bytes)

    def _cache_get(self, key: tuple) -> ExecResult | None:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        # A fresh list so a caller that mutates rows cannot corrupt the cache.
        return None if hit is None else replace(hit, rows=list(hit.rows))

    def _cache_put(self, key: tuple, result: ExecResult) -> None:
        if self.cache_size <= 0 or result.error_kind in _TRANSIENT_ERRORS:
            return  # neither says anything about the query itself
        with self._lock:
            self._cache[key] = result
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def execute_cached(self, db_path: str | os.PathLike, sql: str) -> ExecResult:
        """Like :meth:`execute`, but the same file version + SQL is executed once per process (gold queries)."""
        self._check_pid()
        key = self._cache_key(db_path, sql)
        hit = self._cache_get(key)
        if hit is not None:
            return hit
        result = self.execute(db_path, sql)
        self._cache_put(key, result)
        return replace(result, rows=list(result.rows))

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
