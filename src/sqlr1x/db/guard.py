"""The guarded SQLite connection: read-only, time-bounded, size-bounded; and a bounded pool of them.

This module imports nothing of ours. Every query runs under four guards: a ``mode=ro`` URI
connection, an authorizer that allows only reads (``SELECT``, ``READ``, ``FUNCTION``,
``RECURSIVE``; ``load_extension`` and file functions denied by name), ``SQLITE_LIMIT_ATTACHED = 0``
and ``PRAGMA query_only``. A progress handler interrupts a query at its deadline (exact, unlike
thread timeouts that leave the query burning CPU); rows are fetched in growing chunks and the
fetch stops at a row cap (``truncated``) or a byte budget (``too_large``). SQL errors never raise:
they come back as an :class:`ExecResult` with an ``error_kind``.

>>> import sqlite3, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "t.sqlite")
>>> sqlite3.connect(path).executescript("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);").close()
>>> pool = ConnectionPool(max_size=2)
>>> conn = pool.acquire(path)
>>> conn.run("SELECT x FROM t ORDER BY x", timeout=1.0, max_rows=1).rows
[(1,)]
>>> conn.run("DELETE FROM t", timeout=1.0).error_kind
'not_authorized'
>>> pool.release(conn); pool.close()
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sqlite3
import stat
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_CONNECTIONS",
    "ERROR_KINDS",
    "MAX_VALUE_BYTES",
    "PROGRESS_STEPS",
    "ConnectionPool",
    "ExecResult",
    "GuardedConnection",
    "classify_error",
    "file_signature",
]

ERROR_KINDS = frozenset(
    {
        "timeout",  # the query ran into its own time limit
        "deadline",  # the batch's deadline had passed (or passed while it ran): not the query's fault alone
        "too_large",  # the result exceeded the byte budget
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

# The progress handler runs every PROGRESS_STEPS VM instructions. Measured on CPU-bound queries
# (1000 steps ~ 6 us; min of 25 runs): the check costs ~3 % at 1000, ~2 % at 2000, ~1.5 % at
# 10000. 2000 keeps it ~2 % while a deadline is noticed within ~15 us.
PROGRESS_STEPS = 2000

# Largest string/blob a query may build: ``zeroblob(1e9)`` is a single VM instruction the progress
# handler cannot interrupt, and its result would be copied into Python.
MAX_VALUE_BYTES = 32 * 1024 * 1024

# Result budget per query, in (approximate) bytes of Python memory. Spider/BIRD gold results are
# kilobytes; a hostile ``SELECT randomblob(...) FROM <recursive CTE>`` fills ~1 GB/s without it.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

# Open connections per pool (each holds a file descriptor and SQLite's page cache, ~2 MiB at most).
DEFAULT_MAX_CONNECTIONS = 64

# Per-row cost of a fetched tuple beyond its str/bytes payloads (tuple header + one pointer and a
# small object per value); an estimate, so the budget is approximate by design.
_ROW_OVERHEAD = 56
_VALUE_OVERHEAD = 40
_MAX_CHUNK = 4096

_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
# Functions that reach outside the database (native code, files) where a build provides them.
_DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(?:\*/|$)", re.DOTALL)

# printf/format conversions: flags, width, precision, type. ``%.*c`` repeats a character
# ``precision`` times in one VM instruction: SQLite stops storing at the length limit but keeps
# looping, so printf('%.*c', 2147483647, 'x') burns ~20 s where no progress handler can interrupt.
_PRINTF_SPEC = re.compile(r"%([-+ 0#,!]*)(\*|\d+)?(?:\.(\*|\d*))?(l{0,2}[a-zA-Z%])")


def _as_count(value: object) -> int:
    try:
        return abs(int(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return 0


def _guarded_printf(aux: sqlite3.Connection):  # noqa: ANN202 (a SQLite scalar function)
    """SQLite's own printf, called on ``aux`` after refusing widths/precisions beyond the value limit.

    Returns NULL for those, as SQLite does for a result that is too big.
    """

    def printf(*args: object) -> object:
        if args and isinstance(args[0], str) and "%" in args[0]:
            k = 1
            for m in _PRINTF_SPEC.finditer(args[0]):
                if m.group(4) == "%":
                    continue
                for part in (m.group(2), m.group(3)):
                    if part == "*":
                        n, k = _as_count(args[k] if k < len(args) else 0), k + 1
                    else:
                        n = int(part) if part else 0
                    if n > MAX_VALUE_BYTES:
                        return None
                k += 1
        marks = ", ".join("?" * len(args))
        return aux.execute(f"SELECT printf({marks})", args).fetchone()[0]

    return printf


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
    if isinstance(exc, MemoryError) or "too big" in msg or "too large" in msg:
        return "too_large"
    return "runtime"


def file_signature(path: str) -> tuple[int, int, int] | None:
    """(mtime_ns, inode, size) of the file, or None when it does not exist as a regular file.

    >>> file_signature("/nonexistent/x.sqlite") is None
    True
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_mtime_ns, st.st_ino, st.st_size)


def _payload_bytes(rows: list[tuple]) -> int:
    """Approximate Python memory held by fetched rows (payload of str/bytes values plus overheads)."""
    if not rows:
        return 0
    size = len(rows) * (_ROW_OVERHEAD + _VALUE_OVERHEAD * len(rows[0]))
    for row in rows:
        for v in row:
            if v.__class__ is str or v.__class__ is bytes:
                size += len(v)
    return size


class GuardedConnection:
    """One guarded read-only connection to a SQLite file, plus the deadline its progress handler checks."""

    __slots__ = ("con", "aux", "signature", "deadline", "busy", "lock", "__weakref__")

    def __init__(
        self, path: str, signature: tuple[int, int, int] | None = None, busy_timeout: float = 5.0
    ) -> None:
        uri = f"file:{quote(path)}?mode=ro"
        self.con = sqlite3.connect(
            uri, uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self.signature = signature
        self.deadline = math.inf
        self.busy = False
        self.lock = threading.Lock()  # the watchdog interrupts only while this statement runs
        self.aux = sqlite3.connect(":memory:", check_same_thread=False)  # runs the real printf
        try:
            self.aux.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
            printf = _guarded_printf(self.aux)
            for name in ("printf", "format"):
                self.con.create_function(name, -1, printf, deterministic=True)
            self.con.execute("PRAGMA query_only = ON")
            self.con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
            self.con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
            self.con.set_authorizer(_authorizer)
            self.con.set_progress_handler(self._progress, PROGRESS_STEPS)
            _WATCHDOG.watch(self)
        except BaseException:
            self.con.close()
            self.aux.close()
            raise

    def _progress(self) -> bool:
        return time.perf_counter() > self.deadline

    def close(self) -> None:
        self.con.close()
        self.aux.close()

    def run(
        self,
        sql: str,
        *,
        timeout: float,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        start: float | None = None,
    ) -> ExecResult:
        """Execute one statement under the guards (never raises for SQL problems).

        ``timeout`` counts from ``start`` (``time.perf_counter()``; default now); ``max_rows``
        truncates (``truncated=True``), ``max_bytes`` fails the query as ``too_large``.
        """
        start = time.perf_counter() if start is None else start
        try:
            return self._run(sql, start, timeout, max_rows, max_bytes)
        except sqlite3.OperationalError as exc:
            if "could not decode" not in str(exc).lower() or self.con.text_factory is _lenient_text:
                raise
            # Decoding every text value in Python costs ~40 % on text-heavy results, so a
            # connection only switches to the lenient decoder once it meets invalid UTF-8.
            self.con.text_factory = _lenient_text
            return self._run(sql, start, timeout, max_rows, max_bytes)

    def _run(
        self, sql: str, start: float, timeout: float, max_rows: int | None, max_bytes: int | None
    ) -> ExecResult:
        cursor = self.con.cursor()
        self.deadline = start + timeout
        _WATCHDOG.running()
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
            rows, truncated, size = self._fetch(cursor, max_rows, max_bytes)
            if rows is None:
                return ExecResult(
                    error_kind="too_large",
                    error=f"result exceeds the byte budget of {max_bytes} bytes (read {size} so far)",
                    elapsed=time.perf_counter() - start,
                )
            return ExecResult(
                rows=rows, columns=columns, elapsed=time.perf_counter() - start, truncated=truncated
            )
        except sqlite3.OperationalError as exc:
            if "could not decode" in str(exc).lower() and self.con.text_factory is not _lenient_text:
                raise
            return _error(exc, start)
        except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError, UnicodeError, MemoryError) as exc:
            # ValueError: NUL character in the SQL; UnicodeError: lone surrogates.
            return _error(exc, start)
        finally:
            with self.lock:
                self.deadline = math.inf
            cursor.close()

    @staticmethod
    def _fetch(
        cursor: sqlite3.Cursor, max_rows: int | None, max_bytes: int | None
    ) -> tuple[list[tuple] | None, bool, int]:
        """(rows, truncated, bytes); rows None when the byte budget ran out.

        Chunks start at one row and double, so a result of 32 MiB values stops within a few rows
        of the budget, while a result of small rows is read in a handful of calls.
        """
        if max_bytes is None:
            if max_rows is None:
                return cursor.fetchall(), False, 0
            rows = cursor.fetchmany(max_rows + 1)
        else:
            rows, size, chunk = [], 0, 1
            want = math.inf if max_rows is None else max_rows + 1
            while len(rows) < want:
                got = cursor.fetchmany(int(min(chunk, want - len(rows))))
                if not got:
                    break
                size += _payload_bytes(got)
                if size > max_bytes:
                    return None, False, size
                rows.extend(got)
                # Double, but not past what the budget left would hold at the average row size.
                per_row = max(1, size // len(rows))
                chunk = max(1, min(chunk * 2, _MAX_CHUNK, (max_bytes - size) // per_row + 1))
        truncated = max_rows is not None and len(rows) > max_rows
        if truncated:
            del rows[max_rows:]
        return rows, truncated, 0


# How often the watchdog looks for statements past their deadline.
_WATCH_INTERVAL_S = 0.01


class _Watchdog:
    """One daemon thread per process that interrupts statements still running at their deadline.

    The progress handler is checked every PROGRESS_STEPS VM instructions, which is exact for
    ordinary queries but late when each instruction builds a megabyte value (measured: 3.3 s past a
    0.2 s limit for ``group_concat(hex(randomblob(1e6)))`` over a cross join), and it never runs
    while Python fetches rows. ``sqlite3_interrupt`` is noticed between rows. The thread polls the
    open connections every ``_WATCH_INTERVAL_S`` while any query runs and sleeps otherwise, so a
    query pays one flag check to register.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._connections: weakref.WeakSet[GuardedConnection] = weakref.WeakSet()
        self._pid = 0
        self.sleeping = False  # True only while the thread waits for a query to start

    def watch(self, conn: GuardedConnection) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: no thread here yet
                self._pid, self._connections = os.getpid(), weakref.WeakSet()
                self._wake, self.sleeping = threading.Event(), False
                threading.Thread(target=self._loop, name="sqlr1x-sqlite-watchdog", daemon=True).start()
            self._connections.add(conn)

    def running(self) -> None:
        """A query started: make sure the thread is polling."""
        if self.sleeping:
            self._wake.set()

    def _loop(self) -> None:
        idle = 0
        while True:
            if idle > 100:  # ~1 s without a running query: sleep until one starts
                self.sleeping = True
                self._wake.clear()
                with self._lock:
                    running = any(c.deadline < math.inf for c in list(self._connections))
                if not running:
                    self._wake.wait()
                self.sleeping, idle = False, 0
            time.sleep(_WATCH_INTERVAL_S)
            busy = False
            with contextlib.suppress(Exception):  # e.g. a connection closed under us: never die
                busy = self._interrupt_overdue()
            idle = 0 if busy else idle + 1

    def _interrupt_overdue(self) -> bool:
        """Interrupt every statement past its deadline; whether any statement is running."""
        with self._lock:
            connections = list(self._connections)
        now = time.perf_counter()
        busy = False
        for conn in connections:
            if conn.deadline == math.inf:
                continue
            busy = True
            if conn.deadline < now:
                with conn.lock:
                    if conn.deadline < now:
                        conn.con.interrupt()
        return busy


_WATCHDOG = _Watchdog()


def _error(exc: BaseException, start: float) -> ExecResult:
    return ExecResult(error_kind=classify_error(exc), error=str(exc), elapsed=time.perf_counter() - start)


class ConnectionPool:
    """Guarded connections keyed by (thread, database file), at most ``max_size`` open (LRU).

    A connection is reopened when its file changes (mtime, inode or size) or disappears, and the
    least recently used idle one is closed when the pool is full, so thousands of databases
    never exhaust file descriptors. Connections in use (:meth:`acquire` without :meth:`release`)
    are never closed by eviction.

    >>> ConnectionPool(max_size=4).acquire("/nonexistent/x.sqlite") is None
    True
    """

    def __init__(self, max_size: int = DEFAULT_MAX_CONNECTIONS, busy_timeout: float = 5.0) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size!r}")
        self.max_size = int(max_size)
        self.busy_timeout = float(busy_timeout)
        self._lock = threading.Lock()
        self._connections: OrderedDict[tuple[int, str], GuardedConnection] = OrderedDict()

    def __len__(self) -> int:
        return len(self._connections)

    def values(self) -> list[GuardedConnection]:
        with self._lock:
            return list(self._connections.values())

    def acquire(self, path: str) -> GuardedConnection | None:
        """A connection to ``path`` for this thread, marked busy; None if the file is missing.

        Raises ``sqlite3.Error`` when the file exists but cannot be opened.
        """
        signature = file_signature(path)
        key = (threading.get_ident(), path)
        stale: list[GuardedConnection] = []
        with self._lock:
            conn = self._connections.get(key)
            if conn is not None and conn.signature != signature:
                del self._connections[key]
                stale.append(conn)
                conn = None
            if conn is not None:
                self._connections.move_to_end(key)
                conn.busy = True
        for old in stale:
            old.close()
        if signature is None:
            return None
        if conn is not None:
            return conn
        conn = GuardedConnection(path, signature, busy_timeout=self.busy_timeout)
        conn.busy = True
        with self._lock:
            self._connections[key] = conn
            evicted = self._evict_locked()
        for old in evicted:
            old.close()
        return conn

    def release(self, conn: GuardedConnection) -> None:
        conn.busy = False

    def _evict_locked(self) -> list[GuardedConnection]:
        evicted = []
        excess = len(self._connections) - self.max_size
        if excess <= 0:
            return evicted
        for key in list(self._connections):
            if excess <= 0:
                break
            conn = self._connections[key]
            if conn.busy:
                continue
            del self._connections[key]
            evicted.append(conn)
            excess -= 1
        return evicted

    def close(self) -> None:
        """Close every connection (callers must not be running queries on them)."""
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for conn in connections:
            conn.close()
