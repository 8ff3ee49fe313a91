"""Structural reward: per-clause-group F1 of canonical components, with partial credit inside items.

Components come from :func:`sqlr1x.sql.canonical.paired_components` (see ``docs/rewards.md``):
every item that decides a query's result, normalised so that item order, AND-ed predicate order,
``a = b`` operand order, aliases, letter case, JOIN ON vs comma join and CTE / derived table vs
flat form do not matter. The items are grouped onto the seed's three weights:

* ``select_weight``: SELECT items (with aggregates), DISTINCT, ORDER BY keys with direction, LIMIT,
  set operator (UNION / INTERSECT / EXCEPT) — what the result rows show and in which order;
* ``where_weight``: WHERE predicates, GROUP BY keys, HAVING predicates — which rows and groups;
* ``join_weight``: FROM / JOIN tables and join conditions — where the rows come from.

Inside a group each clause is a unit (see ``GROUPS``); the group's F1 is the mean F1 of the units
present in either query (1 when none is). Per unit, prediction items are matched one-to-one with
gold items (exact matches first, then the most similar remaining pairs); a pair scores
:func:`~sqlr1x.sql.canonical.similarity` — 1 when equal, most of it with one part wrong (a
predicate's column, operator or value; an ORDER BY key's direction; …). Then

* a unit on one side only → 0 (dropping a clause the gold has costs the whole unit);
* otherwise unit F1 = 2·Σ similarity / (|P| + |G|).

The reward is ``Σ weight_group × F1_group``; identical queries score exactly
``select_weight + where_weight + join_weight``; an unparseable prediction (or gold) scores 0.

With ``schema=`` (a :class:`~sqlr1x.sql.schema.Schema` or anything ``Schema.coerce`` accepts), an
unqualified column of a multi-table SELECT is qualified, on both sides, with the one table of that
SELECT that has it; without one, with the one table that either query reads it from.

Example::

    >>> r = StructuralReward(0.3, 0.3, 0.2)
    >>> r.compute("SELECT b, a FROM t WHERE y = 2 AND x = 1", "SELECT a, b FROM t WHERE x = 1 AND y = 2")
    0.8
    >>> gold = "SELECT name FROM t WHERE age > 30"
    >>> near, trivial = "SELECT name FROM t WHERE age > 40", "SELECT name FROM t"
    >>> round(r.compute(near, gold), 3), round(r.compute(trivial, gold), 3)
    (0.74, 0.5)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

import sqlr1x.rewards.config as _config
from sqlr1x.rewards._common import LRU, coerce_schema
from sqlr1x.sql.canonical import Clause, ClauseComponents, Component, paired_components, similarity
from sqlr1x.sql.parse import ParsedSQL, parse_sql
from sqlr1x.sql.schema import Schema, SchemaError

CLAUSES = ("select", "where", "join")
# Which canonical clauses each of the seed's three weights pays for, as units: a group's F1 is the
# mean of its units' F1 over the units present in either query, so dropping a whole clause (the
# WHERE, the ORDER BY, the LIMIT…) costs a whole unit, while one wrong value costs part of one item.
GROUPS: dict[str, tuple[tuple[Clause, ...], ...]] = {
    "select": ((Clause.SELECT, Clause.DISTINCT), (Clause.ORDER_BY,), (Clause.LIMIT,), (Clause.SET_OP,)),
    "where": ((Clause.WHERE,), (Clause.GROUP_BY,), (Clause.HAVING,)),
    "join": ((Clause.TABLE,), (Clause.JOIN_ON,)),
}
_GROUP_CLAUSES = {name: tuple(c for unit in units for c in unit) for name, units in GROUPS.items()}
# "SELEC x" parses (as an aliased column) but is no query: it is scored as unparseable.
_QUERY_TYPES = (exp.Query, exp.Insert, exp.Update, exp.Delete)


@dataclass(frozen=True)
class PartialMatch:
    """A prediction item paired with a gold item that it resembles (e.g. same column, other value)."""

    pred: str
    gold: str
    similarity: float


@dataclass(frozen=True)
class ClauseDiff:
    """One clause group of the comparison (item labels, so that it serialises as JSON).

    ``matched`` holds exact matches; ``missing`` (gold only) and ``extra`` (prediction only) the
    items without an exact match, of which ``partial`` pairs those that earned partial credit.
    """

    clause: str
    weight: float
    matched: frozenset[str]
    missing: frozenset[str]
    extra: frozenset[str]
    f1: float
    partial: tuple[PartialMatch, ...] = ()

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
    """F1 of two component sets (exact matches only), with full credit when both are empty.

    >>> clause_f1(frozenset({"a", "b"}), frozenset({"b", "c"}))
    0.5
    """
    if not pred and not gold:
        return 1.0
    if not pred or not gold:
        return 0.0
    common = len(pred & gold)
    return 2.0 * common / (len(pred) + len(gold))


def match_items(
    pred: Iterable[Component], gold: Iterable[Component]
) -> tuple[float, frozenset[Component], list[tuple[Component, Component, float]]]:
    """One-to-one matching: exact matches first, then the most similar remaining pairs (greedy).

    Returns the total similarity, the exact matches and the partial pairs.

    >>> a = Component(Clause.WHERE, "t.x = 1", ("t.x", "=", "1"))
    >>> b = Component(Clause.WHERE, "t.x = 2", ("t.x", "=", "2"))
    >>> total, exact, partial = match_items([a], [b])
    >>> round(total, 3), len(exact), [(p.key, g.key) for p, g, _ in partial]
    (0.8, 0, [('t.x = 1', 't.x = 2')])
    """
    p, g = set(pred), set(gold)
    exact = frozenset(p & g)
    p -= exact
    g -= exact
    total = float(len(exact))
    partial: list[tuple[Component, Component, float]] = []
    if p and g:
        candidates = sorted(
            ((similarity(a, b), a, b) for a in p for b in g if a.clause is b.clause),
            key=lambda x: (-x[0], x[1].key, x[2].key),
        )
        for sim, a, b in candidates:
            if sim <= 0.0:
                break
            if a in p and b in g:
                p.discard(a)
                g.discard(b)
                partial.append((a, b, sim))
                total += sim
    return total, exact, partial


def unit_f1(pred: frozenset[Component], gold: frozenset[Component]) -> tuple[float, list]:
    """Soft F1 of one unit: ``2·Σ similarity / (|P| + |G|)`` over the matched pairs (1 if both empty)."""
    if pred == gold:
        return 1.0, []
    if not pred or not gold:
        return 0.0, []
    total, _, partial = match_items(pred, gold)
    return min(2.0 * total / (len(pred) + len(gold)), 1.0), partial


def group_diff(name: str, weight: float, pred: ClauseComponents, gold: ClauseComponents) -> ClauseDiff:
    """The ClauseDiff of one weight group: the mean unit F1 over units present in either query."""
    clauses = _GROUP_CLAUSES[name]
    p, g = pred.of(*clauses), gold.of(*clauses)
    if p == g:  # also both empty: full credit
        return ClauseDiff(name, weight, gold.labels(*clauses), _EMPTY, _EMPTY, 1.0)
    f1s: list[float] = []
    partial: list[tuple[Component, Component, float]] = []
    for unit in GROUPS[name]:
        pu, gu = pred.of(*unit), gold.of(*unit)
        if pu or gu:
            f1, pairs = unit_f1(pu, gu)
            f1s.append(f1)
            partial.extend(pairs)
    exact = p & g
    return ClauseDiff(
        name,
        weight,
        frozenset(c.label for c in exact),
        frozenset(c.label for c in g - exact),
        frozenset(c.label for c in p - exact),
        sum(f1s) / len(f1s),
        tuple(PartialMatch(a.label, b.label, sim) for a, b, sim in partial),
    )


_EMPTY: frozenset[str] = frozenset()


def _query(sql: str | ParsedSQL | None) -> ParsedSQL | None:
    if sql is None:
        return None
    parsed = sql if isinstance(sql, ParsedSQL) else parse_sql(sql)
    if not parsed.ok or parsed.n_statements != 1 or not isinstance(parsed.expression, _QUERY_TYPES):
        return None
    return parsed


def _schema(schema: Any) -> Schema | None:
    """``schema`` as a Schema (cached for dicts and paths); ``SchemaError`` when it is not one."""
    if schema is None or isinstance(schema, Schema):
        return schema
    coerced, why = coerce_schema(schema)
    if coerced is None:
        raise SchemaError(why)
    return coerced


class StructuralReward:
    """Partial credit for the clauses that decide the result, order- and alias-insensitively.

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
        gold_parsed = _query(ground_truth_sql)
        if gold_parsed is None:
            return StructuralDiff((), 0.0, "gold SQL is unparseable")
        pred_parsed = _query(generated_sql)
        if pred_parsed is None:
            return StructuralDiff((), 0.0, "prediction is unparseable")
        pred, gold = paired_components(pred_parsed, gold_parsed, schema)
        if gold is None:
            return StructuralDiff((), 0.0, "gold SQL is unparseable")
        if pred is None:
            return StructuralDiff((), 0.0, "prediction is unparseable")
        diffs = []
        score = 0.0
        for name, weight in self.weights.items():
            d = group_diff(name, weight, pred, gold)
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
