"""Schema-aware reward: a penalty per distinct hallucinated table or column.

The hallucinations themselves come from :func:`sqlr1x.sql.analysis.find_hallucinations` (scope
walk with the rules of docs/rewards.md#enhanced-components: an unknown table counts once and its qualified columns are not
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
from sqlr1x.rewards.config import REWARD_DEFAULTS
from sqlr1x.sql.analysis import Hallucination, ParsedSQL, find_hallucinations, parse_sql

_FOUND: LRU[tuple[str, int], tuple[Any, list[Hallucination]]] = LRU(maxsize=65_536)

# The schema penalty of a completion takes at most this share of what its SQL earned from the
# syntax and structural components, so a parseable attempt always stays above broken SQL (R5).
SCHEMA_PENALTY_SHARE = 0.75


def bounded_schema_penalty(weight: float, n: int, earned: float) -> float:
    """The schema term in the computer: ``weight × n``, softly bounded by ``SCHEMA_PENALTY_SHARE × earned``.

    ``earned`` is the syntax plus structural score of the same SQL. With ``B = 0.75 × earned`` and
    ``x = |weight| × n``, the penalty is ``-B·x / (B + x)``: close to ``weight × n`` while that is
    small against ``B``, strictly more negative with every further unknown name, and never beyond
    ``-B``. A non-negative ``weight`` is returned unbounded (``weight × n``).

    >>> round(bounded_schema_penalty(-0.5, 1, 0.2), 4), round(bounded_schema_penalty(-0.5, 20, 0.2), 4)
    (-0.1154, -0.1478)
    """
    if n <= 0:
        return 0.0
    if weight >= 0:
        return weight * n
    bound = SCHEMA_PENALTY_SHARE * max(earned, 0.0)
    if bound <= 0:
        return 0.0
    x = -weight * n
    return -bound * x / (bound + x)


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

    def __init__(self, weight: float = REWARD_DEFAULTS.schema_weight) -> None:
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
