"""Schema-aware reward: a penalty per distinct hallucinated table or column.

The hallucinations themselves come from :func:`sqlr1x.sql.analysis.find_hallucinations` (scope
walk with the DESIGN.md rules: an unknown table counts once and its qualified columns are not
counted again; CTE names and aliases are not schema elements; an unresolved double-quoted token is
a string literal). Matching is case-insensitive, so ``Foo`` and ``foo`` count once.

Example::

    >>> schema = {'tables': {'employees': {'columns': ['id', 'name', 'salary', 'department']}}}
    >>> SchemaAwareReward(weight=-0.5).compute("SELECT name FROM customers", schema)
    -0.5
"""

from __future__ import annotations

from typing import Any

from sqlr1x.rewards._common import LRU, coerce_schema
from sqlr1x.sql.analysis import Hallucination, ParsedSQL, find_hallucinations, parse_sql

_FOUND: LRU[tuple[str, int], tuple[Any, list[Hallucination]]] = LRU(maxsize=65_536)


def distinct_hallucinations(sql: str | ParsedSQL | None, schema: Any) -> list[Hallucination]:
    """Hallucinated elements of ``sql`` against ``schema``, de-duplicated case-insensitively, in order.

    ``schema`` is anything :func:`~sqlr1x.rewards._common.coerce_schema` accepts (coerced once and
    cached). Raises ``ValueError`` for a schema it cannot use; unparseable SQL gives ``[]``.
    Results are cached per (SQL, schema object): GRPO groups repeat the same SQL often.
    """
    if sql is None:
        return []
    parsed = sql if isinstance(sql, ParsedSQL) else parse_sql(sql)
    if not parsed.ok:
        return []
    schema_obj, reason = coerce_schema(schema)
    if schema_obj is None:
        raise ValueError(reason)
    key = (parsed.sql, id(schema_obj))
    hit = _FOUND.get(key)
    # the entry holds the schema itself, so an id reused by a later object never matches
    if hit is not None and hit[0] is schema_obj:
        return list(hit[1])
    seen: set[tuple[str, str]] = set()
    found: list[Hallucination] = []
    for item in find_hallucinations(parsed, schema_obj):
        key_ = (item.kind, item.name.lower())
        if key_ not in seen:
            seen.add(key_)
            found.append(item)
    if len(parsed.sql) <= 20_000:
        _FOUND.put(key, (schema_obj, found))
    return list(found)


class SchemaAwareReward:
    """``weight × number of distinct hallucinated schema elements`` (weight is negative: a penalty).

    ``compute(sql, schema)`` takes SQL text or a :class:`~sqlr1x.sql.analysis.ParsedSQL`, and a
    schema as the seed dict, a Spider ``tables.json`` entry, a SQLite path or a ``Schema``.
    Unparseable SQL scores 0 (syntax is the syntax reward's job); an unusable schema raises
    ``ValueError`` (the reward computer catches it and scores 0 with a reason).

    >>> SchemaAwareReward(weight=-0.5).compute("SELECT nme, slry FROM employees",
    ...     {'tables': {'employees': {'columns': ['id', 'name', 'salary']}}})
    -1.0
    """

    def __init__(self, weight: float = -0.5) -> None:
        self.weight = float(weight)

    def hallucinations(self, sql: str | ParsedSQL | None, schema: Any) -> list[Hallucination]:
        return distinct_hallucinations(sql, schema)

    def compute(self, sql: str | ParsedSQL | None, schema: Any) -> float:
        return self.score(len(distinct_hallucinations(sql, schema)))

    def score(self, n_hallucinations: int) -> float:
        return self.weight * n_hallucinations if n_hallucinations else 0.0

    __call__ = compute

    def __repr__(self) -> str:
        return f"SchemaAwareReward(weight={self.weight})"
