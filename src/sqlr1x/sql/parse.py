"""Parsing with sqlglot's SQLite dialect: one cached parse per SQL string, never raises.

>>> parse_sql("SELECT 1; SELECT 2").n_statements
2
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

__all__ = ["DIALECT", "ParsedSQL", "parse_sql"]

DIALECT = "sqlite"


@dataclass(frozen=True, eq=False)
class ParsedSQL:
    """The result of parsing one SQL string (possibly several statements).

    ``expression`` is the first statement; ``statements`` holds all of them. The objects are shared
    through the parse cache: never mutate them (``.copy()`` first).
    """

    sql: str
    expression: exp.Expression | None
    error: str | None
    n_statements: int
    statements: tuple[exp.Expression, ...] = ()

    @property
    def ok(self) -> bool:
        return self.expression is not None and self.error is None


def parse_sql(sql: str | ParsedSQL) -> ParsedSQL:
    """Parse with sqlglot's SQLite dialect, LRU-cached; never raises.

    >>> parse_sql("SELECT 1; SELECT 2").n_statements, parse_sql("SELEC oops (").ok
    (2, False)
    """
    if isinstance(sql, ParsedSQL):
        return sql
    if not isinstance(sql, str):
        return ParsedSQL("", None, "not a string", 0)
    return _parse_cached(sql)


@lru_cache(maxsize=65536)
def _parse_cached(sql: str) -> ParsedSQL:
    try:
        # `SELECT 1; -- c` parses to [Select, Semicolon]: the trailing comment is not a statement.
        statements = tuple(
            s for s in sqlglot.parse(sql, read=DIALECT) if s is not None and not isinstance(s, exp.Semicolon)
        )
    except SqlglotError as e:
        return ParsedSQL(sql, None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", 0)
    except (RecursionError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        # Pathological inputs (deep nesting, odd tokens) can surface as non-sqlglot errors.
        return ParsedSQL(sql, None, f"{type(e).__name__}: {e}", 0)
    if not statements:
        return ParsedSQL(sql, None, "empty", 0)
    return ParsedSQL(sql, statements[0], None, len(statements), statements)
