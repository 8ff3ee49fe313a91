"""Syntax reward: one well-formed DML statement, judged by sqlglot's AST *and* SQLite's own parser.

sqlglot alone is too lax (it accepts ``SELECT a, FROM t``), so every candidate is also compiled
with ``EXPLAIN <sql>`` on a private, empty, in-memory SQLite database. Compiling never runs the
statement; on an empty database name resolution fails with "no such table/column", which is not
a syntax error. An authorizer and ``SQLITE_LIMIT_ATTACHED = 0`` make sure nothing could touch a
file even if SQLite ever did more than compile.

Example::

    >>> EnhancedSyntaxReward(weight=0.2).compute("SELECT name FROM employees")
    0.2
    >>> EnhancedSyntaxReward(weight=0.2).compute("SELECT a, FROM t")
    0.0
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass

from sqlglot import exp

from sqlr1x.rewards._common import LRU
from sqlr1x.rewards.config import REWARD_DEFAULTS
from sqlr1x.sql.analysis import ParsedSQL, parse_sql

DML_TYPES: tuple[type[exp.Expression], ...] = (
    exp.Select,
    exp.Union,
    exp.Intersect,
    exp.Except,
    exp.Insert,
    exp.Update,
    exp.Delete,
)

# Errors SQLite reports only after the statement parsed: names and semantics, not syntax.
_NOT_SYNTAX_ERRORS = (
    "no such table",
    "no such column",
    "no such function",
    "wrong number of arguments to function",
    "misuse of aggregate",
    "misuse of window function",
    "no tables specified",
)

# Compiling a DML statement needs these; everything else (ATTACH, PRAGMA, DDL, ...) is refused.
_ALLOWED_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_SELECT,
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_FUNCTION,
        sqlite3.SQLITE_RECURSIVE,
        sqlite3.SQLITE_INSERT,
        sqlite3.SQLITE_UPDATE,
        sqlite3.SQLITE_DELETE,
    }
)

_MAX_CACHED_SQL = 20_000


def _authorizer(action: int, *_args: object) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


class _Explainer:
    """One in-memory connection per process, used under a lock (``EXPLAIN`` costs microseconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._con: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._con is None or self._pid != os.getpid():
            con = sqlite3.connect(":memory:", check_same_thread=False)
            con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
            con.set_authorizer(_authorizer)
            self._con, self._pid = con, os.getpid()
        return self._con

    def error(self, sql: str) -> str | None:
        """SQLite's compile error for ``sql`` ("" when it compiles), ignoring name-resolution errors."""
        with self._lock:
            con = self._connection()
            try:
                con.execute("EXPLAIN " + sql).fetchone()
            # sqlite3.Warning (several statements) and ValueError (NUL byte) are not sqlite3.Error.
            except Exception as exc:
                message = str(exc) or type(exc).__name__
                if message.lower().startswith(_NOT_SYNTAX_ERRORS):
                    return None
                return message
        return None


_EXPLAINER = _Explainer()


@dataclass(frozen=True)
class SyntaxCheck:
    """Outcome of the syntax check: ``valid``, the statement kind (``"select"``, ...), and why not."""

    valid: bool
    statement: str | None
    reason: str


_CHECKS: LRU[str, SyntaxCheck] = LRU(maxsize=65_536)


def check_syntax(sql: str | ParsedSQL | None) -> SyntaxCheck:
    """Check that ``sql`` is exactly one DML statement accepted by sqlglot and by SQLite's parser.

    >>> check_syntax("SELECT 1; SELECT 2").reason
    'expected exactly one statement, got 2'
    """
    if sql is None:
        return SyntaxCheck(False, None, "no SQL")
    text = sql.sql if isinstance(sql, ParsedSQL) else sql
    if not isinstance(text, str) or not text.strip():
        return SyntaxCheck(False, None, "empty SQL")
    cached = _CHECKS.get(text)
    if cached is not None:
        return cached
    parsed = sql if isinstance(sql, ParsedSQL) else parse_sql(text)
    result = _check(parsed)
    if len(text) <= _MAX_CACHED_SQL:
        _CHECKS.put(text, result)
    return result


def _check(parsed: ParsedSQL) -> SyntaxCheck:
    if not parsed.ok or parsed.expression is None:
        return SyntaxCheck(False, None, f"sqlglot: {parsed.error or 'unparseable'}")
    n = parsed.n_statements
    if n != 1:
        return SyntaxCheck(False, None, f"expected exactly one statement, got {n}")
    expression = parsed.expression
    if not isinstance(expression, DML_TYPES):
        kind = type(expression).__name__.lower()
        return SyntaxCheck(False, kind, f"not a DML statement ({kind})")
    kind = "select" if isinstance(expression, (exp.Union, exp.Intersect, exp.Except)) else None
    kind = kind or type(expression).__name__.lower()
    error = _EXPLAINER.error(parsed.sql)
    if error:
        return SyntaxCheck(False, kind, f"sqlite: {error}")
    return SyntaxCheck(True, kind, "")


class EnhancedSyntaxReward:
    """``weight`` for one well-formed DML statement (SELECT, WITH...SELECT, INSERT, UPDATE, DELETE), else 0.

    Empty input, several statements, DDL, PRAGMA/ATTACH and anything either parser rejects score 0.
    Accepts a SQL string or an already parsed :class:`~sqlr1x.sql.analysis.ParsedSQL`; results are
    LRU-cached by SQL text.

    >>> EnhancedSyntaxReward(weight=0.2).compute("WITH t AS (SELECT 1 AS x) SELECT x FROM t")
    0.2
    """

    def __init__(self, weight: float = REWARD_DEFAULTS.syntax_weight) -> None:
        self.weight = float(weight)

    def check(self, sql: str | ParsedSQL | None) -> SyntaxCheck:
        return check_syntax(sql)

    def compute(self, sql: str | ParsedSQL | None) -> float:
        return self.weight if check_syntax(sql).valid else 0.0

    __call__ = compute

    def __repr__(self) -> str:
        return f"EnhancedSyntaxReward(weight={self.weight})"
