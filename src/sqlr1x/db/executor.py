"""Read-only, time-bounded execution of one SQL statement on a SQLite file.

Every query runs under four guards: a ``mode=ro`` URI connection, an authorizer that allows only
reads (``SELECT``, ``READ``, ``FUNCTION``, ``RECURSIVE``; ``load_extension`` denied by name),
``SQLITE_LIMIT_ATTACHED = 0`` and ``PRAGMA query_only``. A progress handler interrupts a query at
its deadline (exact, unlike thread timeouts that leave the query burning CPU) and ``fetchmany``
caps the rows. SQL errors never raise: they come back as an :class:`ExecResult` with an
``error_kind``.

>>> import sqlite3, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "t.sqlite")
>>> con = sqlite3.connect(path); _ = con.execute("CREATE TABLE t(x)"); con.close()
>>> execute(path, "SELECT 1 + 1").rows
[(2,)]
>>> execute(path, "DROP TABLE t").error_kind
'not_authorized'
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import multiprocessing
import os
import re
import sqlite3
import stat
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

__all__ = [
    "ERROR_KINDS",
    "ExecResult",
    "MatchOutcome",
    "MatchTask",
    "PendingMatches",
    "SQLiteExecutor",
    "execute",
]

logger = logging.getLogger("sqlr1x.db")

ERROR_KINDS = frozenset(
    {
        "timeout",
        "not_authorized",
        "syntax",
        "no_such_table",
        "no_such_column",
        "missing_db",
        "empty",
        "multiple_statements",
        "runtime",
    }
)

_TRANSIENT_ERRORS = frozenset({"timeout", "missing_db", "runtime"})

# The progress handler runs every PROGRESS_STEPS VM instructions. Measured on CPU-bound queries
# (1000 steps ~ 6 us; min of 25 runs): the check costs ~3 % at 1000, ~2 % at 2000, ~1.5 % at
# 10000. 2000 keeps it ~2 % while a deadline is noticed within ~15 us.
PROGRESS_STEPS = 2000

_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
# Functions that reach outside the database (native code, files) where a build provides them.
_DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})

# Largest string/blob a query may build: ``zeroblob(1e9)`` is a single VM instruction the progress
# handler cannot interrupt, and its result would be copied into Python.
MAX_VALUE_BYTES = 32 * 1024 * 1024

# Batch scheduling, measured on 2 cores (benchmarks/bench_sql_core.py prints the comparison): a warm
# pool adds ~1-3 ms per batch, so typical Spider queries (~25 us each) never gain from it, while
# queries of >= 0.3 ms gain from ~8 items on. Batches under PARALLEL_THRESHOLD items run
# in-process; larger ones first run in-process for INLINE_BUDGET_S seconds and send only the rest
# to the pool, so cheap batches never pay the round trip and expensive ones lose at most the budget.
PARALLEL_THRESHOLD = 16
INLINE_BUDGET_S = 0.005
# Pool work is cut into about this many chunks per worker and handed out as workers free up, so a
# query that runs into its timeout holds back only its own small chunk (measured on the reward
# benchmark: 4 static chunks per worker put a 2 s runaway and ten 0.1 s queries, adjacent after
# sorting, into one chunk that finished 3 s after the rest).
CHUNKS_PER_WORKER = 16


@dataclass(frozen=True)
class ExecResult:
    """Outcome of one query: rows and column names, or an error kind and message.

    >>> ExecResult(rows=[(1,)], columns=["x"]).ok
    True
    """

    rows: list[tuple] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    error_kind: str | None = None
    error: str | None = None
    elapsed: float = 0.0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.error_kind is None


@dataclass(frozen=True)
class MatchTask:
    """One gold query and the distinct predictions to compare with its result on one database.

    ``mode`` and ``order_matters`` are passed to :func:`sqlr1x.db.compare.results_match`. ``gold``
    is a gold result the caller already has (e.g. from its cache); it is not executed again. The
    gold runs only when a prediction executed, unless ``gold_required`` (the caller compares it
    with rows of its own); ``cache``: whether ``gold_sql``'s result may come from / go into the
    executor's gold cache.
    """

    db_path: str
    gold_sql: str
    pred_sqls: tuple[str, ...] = ()
    order_matters: bool = False
    mode: str = "spider"
    gold: ExecResult | None = None
    gold_required: bool = False
    cache: bool = True


@dataclass(frozen=True)
class MatchOutcome:
    """What :meth:`SQLiteExecutor.run_match` found for a :class:`MatchTask`, per prediction.

    ``preds[i]`` is the prediction's result *without rows* (they stay where the comparison ran;
    ``pred_empty[i]`` says whether there were none). ``matches[i]`` is the comparison verdict, or
    None when it was not made (prediction or gold failed) or raised (``errors[i]`` says why).
    ``gold`` keeps its rows; it is None when no prediction executed, so the gold was not needed.
    """

    gold: ExecResult | None
    preds: tuple[ExecResult, ...]
    matches: tuple[bool | None, ...]
    pred_empty: tuple[bool, ...]
    errors: tuple[str | None, ...]
    failed: bool = False  # the task could not run (e.g. its worker died): every result is that error


def _failed_outcome(task: MatchTask, message: str) -> MatchOutcome:
    err = ExecResult(error_kind="runtime", error=message)
    n = len(task.pred_sqls)
    gold = task.gold if task.gold is not None or not task.gold_required else err
    return MatchOutcome(gold, (err,) * n, (None,) * n, (True,) * n, (None,) * n, failed=True)


_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(?:\*/|$)", re.DOTALL)


def _authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
    if action not in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and arg2 is not None and arg2.lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def classify_error(exc: BaseException) -> str:
    """Map an exception raised by ``sqlite3`` to an ``error_kind``.

    >>> classify_error(sqlite3.OperationalError('near "SELEC": syntax error'))
    'syntax'
    """
    msg = str(exc).lower()
    if isinstance(exc, (sqlite3.ProgrammingError, sqlite3.Warning)) and "one statement at a time" in msg:
        return "multiple_statements"
    if "interrupted" in msg:
        return "timeout"
    if "not authorized" in msg or "authorization denied" in msg or "prohibited" in msg:
        return "not_authorized"
    if "syntax error" in msg or "incomplete input" in msg or "unrecognized token" in msg:
        return "syntax"
    if "no such table" in msg:
        return "no_such_table"
    if "no such column" in msg:
        return "no_such_column"
    return "runtime"


@functools.lru_cache(maxsize=4096)
def _resolve(db_path: str) -> str:
    return os.path.realpath(db_path)


def _signature(path: str) -> tuple[int, int, int] | None:
    """(mtime_ns, inode, size) of the file, or None when it does not exist as a file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_mtime_ns, st.st_ino, st.st_size)


class _Connection:
    """One guarded read-only connection plus the deadline its progress handler checks."""

    __slots__ = ("con", "signature", "deadline", "__weakref__")

    def __init__(self, path: str, signature: tuple[int, int, int], busy_timeout: float) -> None:
        uri = f"file:{quote(path)}?mode=ro"
        self.con = sqlite3.connect(
            uri, uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self.signature = signature
        self.deadline = math.inf
        try:
            self.con.execute("PRAGMA query_only = ON")
            self.con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
            self.con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
            self.con.set_authorizer(_authorizer)
            self.con.set_progress_handler(self._progress, PROGRESS_STEPS)
        except BaseException:
            self.con.close()
            raise

    def _progress(self) -> bool:
        return time.perf_counter() > self.deadline

    def close(self) -> None:
        self.con.close()


class SQLiteExecutor:
    """Guarded read-only SQLite execution with connection reuse, a gold cache and a process pool.

    One connection per (database file, thread) is kept open and reopened when the file changes
    (mtime, inode or size) or disappears. ``execute_cached`` memoises results in a bounded LRU
    keyed by file identity + SQL + limits. ``execute_many`` spreads a batch over worker processes.

    >>> import sqlite3, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.sqlite")
    >>> sqlite3.connect(path).executescript("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);").close()
    >>> with SQLiteExecutor(timeout=1.0, max_rows=1) as ex:
    ...     r = ex.execute(path, "SELECT x FROM t ORDER BY x")
    >>> r.rows, r.truncated
    ([(1,)], True)
    """

    parallel_threshold: int = PARALLEL_THRESHOLD
    inline_budget: float = INLINE_BUDGET_S

    def __init__(
        self, timeout: float = 5.0, max_rows: int | None = 10_000, *, cache_size: int = 4096
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        if max_rows is not None and max_rows < 0:
            raise ValueError(f"max_rows must be >= 0 or None, got {max_rows!r}")
        self.timeout = float(timeout)
        self.max_rows = max_rows
        self.cache_size = int(cache_size)
        self._init_state()

    def _init_state(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._connections: dict[tuple[int, str], _Connection] = {}
        self._cache: OrderedDict[tuple, ExecResult] = OrderedDict()
        self._pool: ProcessPoolExecutor | None = None
        self._pool_workers = 0

    # Pickling (spawn children, pool arguments) carries the configuration only.
    def __getstate__(self) -> dict:
        return {"timeout": self.timeout, "max_rows": self.max_rows, "cache_size": self.cache_size}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_state()

    def __enter__(self) -> SQLiteExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Interpreter shutdown may have torn down module globals already.
        if sys is not None and not sys.is_finalizing():
            with contextlib.suppress(Exception):
                self.close(wait=False)

    def close(self, wait: bool = True) -> None:
        """Shut down the worker pool and close every connection this executor opened."""
        if self._pid != os.getpid():  # inherited through fork: the parent owns these
            self._init_state()
            return
        with self._lock:
            pool, self._pool = self._pool, None
            connections = list(self._connections.values())
            self._connections.clear()
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)
        for conn in connections:
            conn.close()

    # ----------------------------------------------------------------------------- connections
    def _check_pid(self) -> None:
        if self._pid != os.getpid():
            # A forked child must not use the parent's connections or pool (SQLite forbids
            # carrying connections across fork); drop the references and start afresh.
            self._init_state()

    def _connection(self, path: str) -> _Connection | None:
        """Cached connection to ``path`` for this thread, reopened if the file changed; None if missing."""
        signature = _signature(path)
        key = (threading.get_ident(), path)
        conn = self._connections.get(key)
        if conn is not None and conn.signature != signature:
            with self._lock:
                self._connections.pop(key, None)
            conn.close()
            conn = None
        if signature is None:
            return None
        if conn is None:
            conn = _Connection(path, signature, busy_timeout=self.timeout)
            with self._lock:
                self._connections[key] = conn
        return conn

    # ----------------------------------------------------------------------------- execution
    def execute(self, db_path: str | os.PathLike, sql: str) -> ExecResult:
        """Run one statement read-only; never raises for SQL problems (see ``ExecResult.error_kind``)."""
        return self._execute(db_path, sql, self.timeout, self.max_rows)

    def _execute(
        self, db_path: str | os.PathLike, sql: str, timeout: float, max_rows: int | None
    ) -> ExecResult:
        start = time.perf_counter()
        if not isinstance(sql, str) or not sql.strip():
            return ExecResult(error_kind="empty", error="empty SQL", elapsed=time.perf_counter() - start)
        self._check_pid()
        if db_path is None:
            return ExecResult(
                error_kind="missing_db", error="no database path given", elapsed=time.perf_counter() - start
            )
        path = _resolve(os.fspath(db_path))
        try:
            conn = self._connection(path)
        except sqlite3.Error as exc:  # unreadable file, permissions
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
            return self._run(conn, sql, start, timeout, max_rows)
        except sqlite3.OperationalError as exc:
            if "could not decode" not in str(exc).lower() or conn.con.text_factory is _lenient_text:
                raise
            # Decoding every text value in Python costs ~40 % on text-heavy results, so a
            # connection only switches to the lenient decoder once it meets invalid UTF-8.
            conn.con.text_factory = _lenient_text
            return self._run(conn, sql, start, timeout, max_rows)

    def _run(
        self, conn: _Connection, sql: str, start: float, timeout: float, max_rows: int | None
    ) -> ExecResult:
        cursor = conn.con.cursor()
        conn.deadline = start + timeout
        try:
            cursor.execute(sql)
            if cursor.description is None:
                # Nothing was prepared (comments only), or a statement that passes the authorizer
                # yet returns no result set (bare REINDEX); mode=ro keeps the latter harmless.
                if _COMMENTS.sub("", sql).strip(" \t\r\n\f;"):
                    kind, msg = "not_authorized", "not a query: only SELECT statements may run"
                else:
                    kind, msg = "empty", "no statement in SQL"
                return ExecResult(error_kind=kind, error=msg, elapsed=time.perf_counter() - start)
            columns = [d[0] for d in cursor.description]
            if max_rows is None:
                rows, truncated = cursor.fetchall(), False
            else:
                rows = cursor.fetchmany(max_rows + 1)
                truncated = len(rows) > max_rows
                if truncated:
                    del rows[max_rows:]
            return ExecResult(
                rows=rows, columns=columns, elapsed=time.perf_counter() - start, truncated=truncated
            )
        except sqlite3.OperationalError as exc:
            if "could not decode" in str(exc).lower() and conn.con.text_factory is not _lenient_text:
                raise
            return self._error(exc, start)
        except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError, UnicodeError, MemoryError) as exc:
            # ValueError: NUL character in the SQL; UnicodeError: lone surrogates.
            return self._error(exc, start)
        finally:
            conn.deadline = math.inf
            cursor.close()

    @staticmethod
    def _error(exc: BaseException, start: float) -> ExecResult:
        return ExecResult(error_kind=classify_error(exc), error=str(exc), elapsed=time.perf_counter() - start)

    # ----------------------------------------------------------------------------- caching
    def _cache_key(self, db_path: str | os.PathLike, sql: str) -> tuple:
        path = _resolve(os.fspath(db_path))
        return (path, _signature(path), sql, self.timeout, self.max_rows)

    def _cache_get(self, key: tuple) -> ExecResult | None:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        # A fresh list so a caller that mutates rows cannot corrupt the cache.
        return None if hit is None else replace(hit, rows=list(hit.rows))

    def _cache_put(self, key: tuple, result: ExecResult) -> None:
        # A timeout, a missing file or a dead worker may not recur: never remember it as the result.
        if self.cache_size <= 0 or result.error_kind in _TRANSIENT_ERRORS:
            return
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

    # ----------------------------------------------------------------------------- comparison
    def run_match(self, task: MatchTask) -> MatchOutcome:
        """Execute ``task``'s predictions here and compare each with the gold result (never raises).

        The gold runs at most once, and only when a prediction executed; a prediction whose SQL is
        the gold's reuses the gold result. This is what a pool worker runs, so the rows of the
        predictions never cross a process boundary.
        """
        try:
            return self._run_match(task)
        except Exception as exc:  # a bug or an unexpected sqlite3 error must not lose the batch
            return _failed_outcome(task, f"{type(exc).__name__}: {exc}")

    def _run_match(self, task: MatchTask) -> MatchOutcome:
        from .compare import results_match  # compare imports this module

        gold = task.gold
        if gold is None and task.gold_required:
            gold = self.execute(task.db_path, task.gold_sql)
        preds, matches, empty, errors = [], [], [], []
        for sql in task.pred_sqls:
            if sql == task.gold_sql:
                if gold is None:
                    gold = self.execute(task.db_path, task.gold_sql)
                pred = gold
            else:
                pred = self.execute(task.db_path, sql)
            verdict: bool | None = None
            error: str | None = None
            if pred.ok:
                if gold is None:
                    gold = self.execute(task.db_path, task.gold_sql)
                if gold.ok:
                    try:
                        verdict = results_match(
                            pred.rows, gold.rows, task.mode, order_matters=task.order_matters
                        )
                    except Exception as exc:
                        error = repr(exc)
            preds.append(replace(pred, rows=[]) if pred.rows else pred)
            matches.append(verdict)
            empty.append(not pred.rows)
            errors.append(error)
        return MatchOutcome(gold, tuple(preds), tuple(matches), tuple(empty), tuple(errors))

    def submit_matches(
        self, tasks: Iterable[MatchTask], *, workers: int | None = None, cache_gold: bool = True
    ) -> PendingMatches:
        """Start :meth:`run_match` on every task; ``.result()`` of the returned handle gives the outcomes.

        Work goes to the process pool right away (after ``inline_budget`` seconds in-process, and
        not at all for batches under ``parallel_threshold`` queries, ``workers=1`` or daemonic
        callers), so the caller can do other work meanwhile; ``result()`` then runs the chunks no
        worker has started yet in-process too. With ``cache_gold`` the gold results of tasks with
        ``cache=True`` come from / go into the ``execute_cached`` cache.
        """
        self._check_pid()
        tasks = list(tasks)
        keys: list[tuple | None] = [None] * len(tasks)
        if cache_gold:
            for i, task in enumerate(tasks):
                if task.gold is not None or not task.cache:
                    continue
                keys[i] = key = self._cache_key(task.db_path, task.gold_sql)
                hit = self._cache_get(key)
                if hit is not None:
                    tasks[i] = replace(task, gold=hit)
        return PendingMatches(self, tasks, keys, workers)

    def compare_many(
        self, tasks: Iterable[MatchTask], *, workers: int | None = None, cache_gold: bool = True
    ) -> list[MatchOutcome]:
        """:meth:`run_match` for every task, across worker processes like :meth:`execute_many`."""
        return self.submit_matches(tasks, workers=workers, cache_gold=cache_gold).result()

    # ----------------------------------------------------------------------------- batches
    def execute_many(
        self,
        pairs: Iterable[tuple[str | os.PathLike, str]],
        *,
        workers: int | None = None,
        cache: bool = False,
    ) -> list[ExecResult]:
        """Execute ``(db_path, sql)`` pairs, in order, across worker processes.

        Each worker holds its own executor with this one's ``timeout`` and ``max_rows``, so a
        timed-out query costs its worker ``timeout`` seconds and nothing more. With
        ``cache=True`` identical pairs run once and results come from / go into the
        ``execute_cached`` cache. Batches under ``parallel_threshold`` items, ``workers=1`` and
        calls from daemonic processes (which may not have children) run in-process; larger
        batches run in-process for ``inline_budget`` seconds and hand the rest to the pool.
        """
        self._check_pid()
        items = [(os.fspath(db), sql) for db, sql in pairs]
        results: list[ExecResult | None] = [None] * len(items)
        # todo: work item -> indices of ``items`` that take its result; only cache=True merges.
        todo: dict[tuple, list[int]] = {}
        keys: dict[tuple, tuple] = {}
        for i, (db, sql) in enumerate(items):
            if not cache:
                todo[(db, sql, i)] = [i]
                continue
            key = self._cache_key(db, sql)
            hit = self._cache_get(key)
            if hit is not None:
                results[i] = hit
                continue
            work = (key[0], sql)
            keys[work] = key
            todo.setdefault(work, []).append(i)

        work_items = list(todo)
        for work, out in zip(work_items, self._run_batch(work_items, workers), strict=True):
            if cache:
                self._cache_put(keys[work], out)
            first, *rest = todo[work]
            results[first] = replace(out, rows=list(out.rows)) if cache else out
            for i in rest:
                results[i] = replace(out, rows=list(out.rows))
        return results  # type: ignore[return-value]

    def _run_batch(self, work_items: Sequence[tuple], workers: int | None) -> list[ExecResult]:
        pairs = [(w[0], w[1]) for w in work_items]
        n_workers = workers if workers is not None else _available_cpus()
        if len(pairs) < self.parallel_threshold or n_workers <= 1 or multiprocessing.current_process().daemon:
            return [self.execute(db, sql) for db, sql in pairs]
        done: list[ExecResult] = []
        stop = time.perf_counter() + self.inline_budget
        while len(done) < len(pairs) and time.perf_counter() < stop:
            done.append(self.execute(*pairs[len(done)]))
        if len(done) == len(pairs):
            return done
        return done + self._run_in_pool(pairs[len(done) :], n_workers)

    def _run_in_pool(self, pairs: list[tuple[str, str]], n_workers: int) -> list[ExecResult]:
        pool = self._get_pool(n_workers)
        # IPC is paid per chunk (~0.1-0.3 ms warm), and small chunks keep a slow one from stalling the tail.
        size = max(1, math.ceil(len(pairs) / (n_workers * CHUNKS_PER_WORKER)))
        chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
        futures: list[Future] = [pool.submit(_worker_run, chunk) for chunk in chunks]
        out: list[ExecResult] = []
        broken = False
        for chunk, fut in zip(chunks, futures, strict=True):
            try:
                out.extend(fut.result())
            except BrokenProcessPool as exc:
                # A worker died (e.g. killed for memory): report those items, rebuild the pool next time.
                broken = True
                out.extend(
                    ExecResult(error_kind="runtime", error=f"worker process died: {exc}") for _ in chunk
                )
        if broken:
            self._drop_pool()
        return out

    def _drop_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _get_pool(self, n_workers: int) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is not None and self._pool_workers == n_workers:
                return self._pool
            old, self._pool = self._pool, None
        if old is not None:
            old.shutdown(wait=True)
        pool = ProcessPoolExecutor(
            max_workers=n_workers,
            mp_context=_mp_context(),
            initializer=_worker_init,
            initargs=(self.timeout, self.max_rows),
        )
        with self._lock:
            self._pool, self._pool_workers = pool, n_workers
        return pool


class PendingMatches:
    """Handle of :meth:`SQLiteExecutor.submit_matches`: ``result()`` returns the outcomes in task order."""

    def __init__(
        self, executor: SQLiteExecutor, tasks: list[MatchTask], keys: list[tuple | None], workers: int | None
    ) -> None:
        self._executor = executor
        self._tasks = tasks
        self._keys = keys
        self._outcomes: list[MatchOutcome | None] = [None] * len(tasks)
        self._chunks: list[tuple[int, int, Future]] = []  # (start, end, future) over task indices
        self._result: list[MatchOutcome] | None = None
        self._pool: ProcessPoolExecutor | None = None
        n_workers = workers if workers is not None else _available_cpus()
        n_queries = sum(1 + len(t.pred_sqls) for t in tasks)
        if (
            n_queries < executor.parallel_threshold
            or n_workers <= 1
            or multiprocessing.current_process().daemon
        ):
            return  # everything runs in-process in result()
        start, stop = 0, time.perf_counter() + executor.inline_budget
        while start < len(tasks) and time.perf_counter() < stop:
            self._outcomes[start] = executor.run_match(tasks[start])
            start += 1
        if start == len(tasks):
            return
        try:
            self._pool = pool = executor._get_pool(n_workers)
            size = max(1, math.ceil(n_queries / (n_workers * CHUNKS_PER_WORKER)))
            while start < len(tasks):
                end, count = start, 0
                while end < len(tasks) and (count == 0 or count + 1 + len(tasks[end].pred_sqls) <= size):
                    count += 1 + len(tasks[end].pred_sqls)
                    end += 1
                self._chunks.append((start, end, pool.submit(_worker_match, tasks[start:end])))
                start = end
        except Exception as exc:  # no pool (e.g. no processes allowed here): result() runs the rest
            logger.warning("process pool unavailable (%r); executing in-process", exc)

    def result(self) -> list[MatchOutcome]:
        if self._result is not None:
            return self._result
        ex, tasks, out = self._executor, self._tasks, self._outcomes
        # Chunks no worker has picked up yet run here, from the tail, while the workers go on.
        for start, end, fut in reversed(self._chunks):
            if getattr(self._pool, "_broken", False):
                break  # nothing to take back from a broken pool (its futures all fail)
            if fut.cancel():
                for i in range(start, end):
                    out[i] = ex.run_match(tasks[i])
        broken = False
        remaining = {fut for _, _, fut in self._chunks if not fut.cancelled()}
        while remaining:
            _, remaining = wait(remaining, timeout=0.25)
            if remaining and getattr(self._pool, "_broken", False):
                # A worker died. CPython < 3.12 may then leave futures unresolved for good (its
                # manager thread trips over the cancelled ones), so do not wait for them.
                broken = True
                break
        for start, end, fut in self._chunks:
            if fut.cancelled():
                continue
            try:
                if not fut.done():
                    raise BrokenProcessPool("a worker process died and the pool is broken")
                got = fut.result()
            except BrokenProcessPool as exc:
                # A worker died (e.g. killed for memory): report those items, rebuild the pool next time.
                broken = True
                got = [_failed_outcome(t, f"worker process died: {exc}") for t in tasks[start:end]]
            except Exception as exc:  # e.g. an unpicklable result: redo the chunk here
                logger.warning("pool chunk failed (%r); executing it in-process", exc)
                got = [ex.run_match(t) for t in tasks[start:end]]
            for i, outcome in zip(range(start, end), got, strict=True):
                # A gold the caller sent along is not shipped back.
                out[i] = (
                    outcome
                    if outcome.gold is not None or tasks[i].gold is None
                    else replace(outcome, gold=tasks[i].gold)
                )
        if broken:
            ex._drop_pool()
        for i, task in enumerate(tasks):
            if out[i] is None:
                out[i] = ex.run_match(task)
            gold, key = out[i].gold, self._keys[i]
            if key is not None and gold is not None and task.gold is None and not out[i].failed:
                ex._cache_put(key, gold)
        self._result = out  # type: ignore[assignment]
        return self._result


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _mp_context() -> multiprocessing.context.BaseContext:
    """'forkserver' where available, else 'spawn'; never 'fork'.

    Forking a parent that has imported torch (CUDA state, OpenMP/tokenizer threads) or that holds
    open SQLite connections can deadlock or corrupt state. 'forkserver' starts workers from a
    clean single-threaded server process, so it is safe whether the caller itself was started by
    fork or spawn, and cheaper per worker than 'spawn' (which re-imports ``__main__`` each time).
    """
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # Have the server import this module once, so each worker it forks starts with it loaded:
    # measured ~20 ms per pool start instead of ~0.4 s of imports in every new worker. Takes
    # effect only before the server starts; keeps whatever else the process asked to preload.
    with contextlib.suppress(Exception):
        from multiprocessing import forkserver

        preload = list(getattr(forkserver._forkserver, "_preload_modules", None) or ["__main__"])
        if __name__ not in preload:
            ctx.set_forkserver_preload([*preload, __name__])
    return ctx


_WORKER: SQLiteExecutor | None = None


def _worker_init(timeout: float, max_rows: int | None) -> None:
    global _WORKER
    _WORKER = SQLiteExecutor(timeout=timeout, max_rows=max_rows)


def _worker_run(chunk: list[tuple[str, str]]) -> list[ExecResult]:
    assert _WORKER is not None, "worker not initialised"
    return [_WORKER.execute(db, sql) for db, sql in chunk]


def _worker_match(chunk: list[MatchTask]) -> list[MatchOutcome]:
    assert _WORKER is not None, "worker not initialised"
    out = []
    for task in chunk:
        outcome = _WORKER.run_match(task)
        # The caller holds the gold it sent along: do not pickle its rows back.
        out.append(replace(outcome, gold=None) if task.gold is not None else outcome)
    return out


_DEFAULT: SQLiteExecutor | None = None
_DEFAULT_PID = 0


def default_executor() -> SQLiteExecutor:
    """The per-process executor behind :func:`execute` (recreated in a forked child)."""
    global _DEFAULT, _DEFAULT_PID
    if _DEFAULT is None or os.getpid() != _DEFAULT_PID:
        _DEFAULT, _DEFAULT_PID = SQLiteExecutor(), os.getpid()
    return _DEFAULT


def execute(
    db_path: str | os.PathLike | Path, sql: str, *, timeout: float = 5.0, max_rows: int | None = 10_000
) -> ExecResult:
    """Run ``sql`` read-only on ``db_path`` with the per-process default executor's connections.

    >>> execute("/nonexistent/x.sqlite", "SELECT 1").error_kind
    'missing_db'
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    return default_executor()._execute(db_path, sql, float(timeout), max_rows)
