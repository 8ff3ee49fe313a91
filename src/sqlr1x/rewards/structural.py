"""Structural reward: per-clause F1 of normalised components, weighted per clause.

Components come from :func:`sqlr1x.sql.analysis.clause_components`: SELECT items, AND-ed WHERE
predicates and JOINed tables with their ON conditions, normalised so that item order, operand
order of ``a = b``, aliases and letter case do not matter. Per clause:

* absent from both queries → full credit (F1 = 1);
* present on one side only → 0;
* otherwise F1 = 2·|P∩G| / (|P| + |G|).

The reward is ``Σ weight_clause × F1_clause``; identical queries score exactly
``select_weight + where_weight + join_weight``; an unparseable prediction (or gold) scores 0.

With ``schema=`` (a :class:`~sqlr1x.sql.schema.Schema` or anything ``Schema.coerce`` accepts), an
unqualified column of a multi-table SELECT is qualified, on both sides, with the one table of that
SELECT that has it, so ``SELECT name FROM singer JOIN concert …`` matches ``SELECT T1.name …``.

Example::

    >>> StructuralReward(0.3, 0.3, 0.2).compute("SELECT b, a FROM t WHERE y = 2 AND x = 1",
    ...                                         "SELECT a, b FROM t WHERE x = 1 AND y = 2")
    0.8
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

import sqlr1x.rewards.config as _config
from sqlr1x.rewards._common import LRU, coerce_schema
from sqlr1x.sql.analysis import ClauseComponents, ParsedSQL, clause_components, parse_sql
from sqlr1x.sql.schema import Schema, SchemaError

CLAUSES = ("select", "where", "join")
_FIELDS = {"select": "select", "where": "where", "join": "joins"}
# "SELEC x" parses (as an aliased column) but is no query: it is scored as unparseable.
_QUERY_TYPES = (exp.Query, exp.Insert, exp.Update, exp.Delete)


@dataclass(frozen=True)
class ClauseDiff:
    """One clause of the comparison: shared, missing (gold only) and extra (prediction only) items."""

    clause: str
    weight: float
    matched: frozenset[str]
    missing: frozenset[str]
    extra: frozenset[str]
    f1: float

    @property
    def score(self) -> float:
        return self.weight * self.f1


@dataclass(frozen=True)
class StructuralDiff:
    """The per-clause comparison behind a structural score (``sqlr1x reward --explain`` prints it)."""

    clauses: tuple[ClauseDiff, ...]
    score: float
    reason: str = ""

    def clause(self, name: str) -> ClauseDiff | None:
        return next((c for c in self.clauses if c.clause == name), None)


def clause_f1(pred: frozenset[str], gold: frozenset[str]) -> float:
    """F1 of two component sets, with full credit when both are empty."""
    if not pred and not gold:
        return 1.0
    if not pred or not gold:
        return 0.0
    common = len(pred & gold)
    return 2.0 * common / (len(pred) + len(gold))


def _components(sql: str | ParsedSQL | None, schema: Schema | None = None) -> ClauseComponents | None:
    if sql is None:
        return None
    parsed = sql if isinstance(sql, ParsedSQL) else parse_sql(sql)
    if not parsed.ok or parsed.n_statements != 1 or not isinstance(parsed.expression, _QUERY_TYPES):
        return None
    return clause_components(parsed, schema=schema)


def _schema(schema: Any) -> Schema | None:
    """``schema`` as a Schema (cached for dicts and paths); ``SchemaError`` when it is not one."""
    if schema is None or isinstance(schema, Schema):
        return schema
    coerced, why = coerce_schema(schema)
    if coerced is None:
        raise SchemaError(why)
    return coerced


class StructuralReward:
    """Partial credit for getting SELECT items, WHERE predicates and JOINs right, order-insensitively.

    Both arguments may be SQL text or :class:`~sqlr1x.sql.analysis.ParsedSQL`; the keyword
    ``schema`` (optional) qualifies unqualified columns of multi-table queries (see the module doc).

    >>> r = StructuralReward(select_weight=0.3, where_weight=0.3, join_weight=0.2)
    >>> r.compute("SELECT name FROM employees", "SELECT name, salary FROM employees")
    0.7
    """

    def __init__(
        self,
        select_weight: float = _config.REWARD_DEFAULTS.structural_select_weight,
        where_weight: float = _config.REWARD_DEFAULTS.structural_where_weight,
        join_weight: float = _config.REWARD_DEFAULTS.structural_join_weight,
    ) -> None:
        self.select_weight = float(select_weight)
        self.where_weight = float(where_weight)
        self.join_weight = float(join_weight)
        self._cache: LRU[tuple, StructuralDiff] = LRU(maxsize=16_384)

    @property
    def weights(self) -> dict[str, float]:
        return {"select": self.select_weight, "where": self.where_weight, "join": self.join_weight}

    def diff(
        self,
        generated_sql: str | ParsedSQL | None,
        ground_truth_sql: str | ParsedSQL | None,
        *,
        schema: Any = None,
    ) -> StructuralDiff:
        schema = _schema(schema)
        pred_text = generated_sql.sql if isinstance(generated_sql, ParsedSQL) else generated_sql
        gold_text = ground_truth_sql.sql if isinstance(ground_truth_sql, ParsedSQL) else ground_truth_sql
        if not isinstance(pred_text, str) or not isinstance(gold_text, str):
            return self._diff(generated_sql, ground_truth_sql, schema)
        key: tuple = (pred_text, gold_text) if schema is None else (pred_text, gold_text, schema.key)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._diff(generated_sql, ground_truth_sql, schema)
            if len(pred_text) + len(gold_text) <= 40_000:
                self._cache.put(key, hit)
        return hit

    def _diff(
        self,
        generated_sql: str | ParsedSQL | None,
        ground_truth_sql: str | ParsedSQL | None,
        schema: Schema | None = None,
    ) -> StructuralDiff:
        gold = _components(ground_truth_sql, schema)
        if gold is None:
            return StructuralDiff((), 0.0, "gold SQL is unparseable")
        pred = _components(generated_sql, schema)
        if pred is None:
            return StructuralDiff((), 0.0, "prediction is unparseable")
        diffs = []
        score = 0.0
        for name, weight in self.weights.items():
            p, g = getattr(pred, _FIELDS[name]), getattr(gold, _FIELDS[name])
            d = ClauseDiff(name, weight, p & g, g - p, p - g, clause_f1(p, g))
            diffs.append(d)
            score += d.score
        return StructuralDiff(tuple(diffs), score)

    def compute(
        self,
        generated_sql: str | ParsedSQL | None,
        ground_truth_sql: str | ParsedSQL | None,
        *,
        schema: Any = None,
    ) -> float:
        return self.diff(generated_sql, ground_truth_sql, schema=schema).score

    __call__ = compute

    def __repr__(self) -> str:
        return (
            f"StructuralReward(select_weight={self.select_weight}, where_weight={self.where_weight}, "
            f"join_weight={self.join_weight})"
        )
