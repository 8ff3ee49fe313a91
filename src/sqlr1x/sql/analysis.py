"""SQL analysis with sqlglot: a facade over parsing (:mod:`sqlr1x.sql.parse`), schema resolution
(:mod:`sqlr1x.sql.resolve`: hallucinations, referenced tables) and canonical clause components
(:mod:`sqlr1x.sql.canonical`). Existing imports from ``sqlr1x.sql.analysis`` keep working.

>>> schema = {"tables": {"employees": {"columns": ["id", "name", "salary", "department"]}}}
>>> find_hallucinations("SELECT name FROM customers", schema)
[Hallucination(kind='table', name='customers')]
>>> find_hallucinations('SELECT name FROM employees WHERE name = "John"', schema)
[]
>>> sorted(clause_components("SELECT e.name FROM employees AS e WHERE 1 < e.salary").where)
['1 < employees.salary']
"""

from __future__ import annotations

from sqlr1x.sql.canonical import (  # noqa: F401  (re-exported; the bench clears these caches)
    ClauseComponents,
    _components_cached,
    _components_with_cached,
    clause_components,
)
from sqlr1x.sql.parse import DIALECT, ParsedSQL, _parse_cached, parse_sql  # noqa: F401  (re-exported)
from sqlr1x.sql.resolve import Hallucination, find_hallucinations, referenced_tables

__all__ = [
    "DIALECT",
    "ClauseComponents",
    "Hallucination",
    "ParsedSQL",
    "clause_components",
    "find_hallucinations",
    "parse_sql",
    "referenced_tables",
]
