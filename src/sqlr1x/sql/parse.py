"""Parsing with sqlglot's SQLite dialect: one cached parse per SQL string, never raising.

>>> p = parse_sql("SELECT name FROM employees; SELECT 2")
>>> p.ok, p.n_statements, p.expression.sql()
(True, 2, 'SELECT name FROM employees')
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

__all__ = [
    "DIALECT",
    "MAX_NESTING",
    "ParsedSQL",
    "cte_column_list",
    "double_quoted",
    "nesting_depth",
    "parse_sql",
]

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


# SQLite's own parser gives up ("parser stack overflow") at about 100 nested subqueries or
# parenthesised terms, so nothing SQLite runs is deeper than this; sqlglot would still build (and
# scope resolution walk) a 3,000-level tree for seconds. Deeper input is refused before parsing.
MAX_NESTING = 256


def nesting_depth(sql: str) -> int:
    """The deepest parenthesis nesting in ``sql`` (string literals and comments are not skipped).

    >>> nesting_depth("SELECT (1 + (2)) FROM t"), nesting_depth("x)(")
    (2, 1)
    """
    depth = deepest = 0
    for ch in sql:
        if ch == "(":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch == ")" and depth:
            depth -= 1
    return deepest


@lru_cache(maxsize=65536)
def _parse_cached(sql: str) -> ParsedSQL:
    if sql.count("(") > MAX_NESTING and nesting_depth(sql) > MAX_NESTING:
        return ParsedSQL(
            sql, None, f"nesting deeper than {MAX_NESTING} parentheses (SQLite stops at ~100)", 0
        )
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


def double_quoted(ident: exp.Expression, sql: str) -> bool:
    """Whether ``ident`` was written with double quotes in ``sql`` (``"x"``, not `` `x` `` or ``[x]``).

    >>> p = parse_sql('SELECT "a", `b` FROM t')
    >>> [double_quoted(c.this, p.sql) for c in p.expression.expressions]
    [True, False]
    """
    if not (isinstance(ident, exp.Identifier) and ident.quoted):
        return False
    start = ident.meta.get("start")
    return start is not None and start < len(sql) and sql[start] == '"'


def cte_column_list(node: exp.Expression) -> list[str]:
    """The ``c(x, y)`` column list of the CTE around ``node``, or ``[]``.

    >>> body = parse_sql("WITH c(x, y) AS (SELECT 1, 2) SELECT x FROM c").expression.args["with_"].expressions[0].this
    >>> cte_column_list(body)
    ['x', 'y']
    """
    while node is not None and not isinstance(node, exp.CTE):
        node = node.parent
    alias = node.args.get("alias") if node is not None else None
    return [c.name for c in alias.columns] if isinstance(alias, exp.TableAlias) else []
