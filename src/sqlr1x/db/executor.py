"""Read-only, time- and size-bounded SQLite execution: the public facade of the executor modules.

One module per role, re-exported here so ``from sqlr1x.db.executor import ...`` keeps working:

- :mod:`sqlr1x.db.guard`: the guarded connection (authorizer, limits, progress handler, chunked
  fetch with a byte budget) and the bounded LRU pool of connections; imports nothing of ours;
- :mod:`sqlr1x.db.query`: single-query execution with a result cache;
- :mod:`sqlr1x.db.scheduler`: match tasks, prediction time limits, batch deadline, process pool.

This module adds the per-process default executor behind :func:`execute`.

>>> import sqlite3, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "t.sqlite")
>>> con = sqlite3.connect(path); _ = con.execute("CREATE TABLE t(x)"); con.close()
>>> execute(path, "SELECT 1 + 1").rows
[(2,)]
>>> execute(path, "DROP TABLE t").error_kind
'not_authorized'
"""

from __future__ import annotations

import os
from pathlib import Path

from .guard import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    ERROR_KINDS,
    MAX_VALUE_BYTES,
    PROGRESS_STEPS,
    ConnectionPool,
    ExecResult,
    GuardedConnection,
    classify_error,
)
from .query import QueryExecutor
from .scheduler import (
    CHUNKS_PER_WORKER,
    DEFAULT_BATCH_TIMEOUT,
    INLINE_BUDGET_S,
    PARALLEL_THRESHOLD,
    MatchOutcome,
    MatchTask,
    PendingMatches,
    PredictionLimit,
    SQLiteExecutor,
)

__all__ = [
    "CHUNKS_PER_WORKER",
    "DEFAULT_BATCH_TIMEOUT",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_CONNECTIONS",
    "ERROR_KINDS",
    "INLINE_BUDGET_S",
    "MAX_VALUE_BYTES",
    "PARALLEL_THRESHOLD",
    "PROGRESS_STEPS",
    "ConnectionPool",
    "ExecResult",
    "GuardedConnection",
    "MatchOutcome",
    "MatchTask",
    "PendingMatches",
    "PredictionLimit",
    "QueryExecutor",
    "SQLiteExecutor",
    "classify_error",
    "default_executor",
    "execute",
]

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
