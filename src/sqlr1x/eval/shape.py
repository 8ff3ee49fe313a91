"""Query-shape metrics: which clauses predictions use, against the gold, and how long they are.

A policy trained by RL can raise its reward by writing *simpler* queries (``SELECT name FROM t``
executes, never hallucinates and keeps part of the structural credit). Execution accuracy moves
slowly; clause presence shows the collapse at once. For each clause of ``CLAUSES`` this module
counts how often it occurs in the predictions and in the gold queries (sqlglot ASTs, SQLite
dialect), the prediction/gold length ratio, and flags a **collapse** when a clause appears in
fewer than half as many predictions as gold queries.

Clauses: ``where``, ``join`` (explicit or comma join), ``group_by``, ``having``, ``order_by``,
``limit``, ``subquery`` (a nested SELECT or a CTE), ``set_op`` (UNION / INTERSECT / EXCEPT).

>>> sorted(clauses("SELECT d, COUNT(*) FROM t JOIN u ON t.id = u.id WHERE x > 1 GROUP BY d"))
['group_by', 'join', 'where']
>>> sorted(clauses("SELECT a FROM t WHERE a IN (SELECT b FROM u) UNION SELECT c FROM v"))
['set_op', 'subquery', 'where']
>>> clauses("SELECT a FROM")  is None   # unparseable: no shape
True
>>> s = shape_stats(["SELECT name FROM t", "SELECT name FROM t"],
...                 ["SELECT name FROM t WHERE id = 1", "SELECT name FROM t ORDER BY name"])
>>> s["clauses"]["where"]
{'pred': 0.0, 'gold': 0.5, 'pred_n': 0, 'gold_n': 1}
>>> collapsed(s, min_gold=1)
['order_by', 'where']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

__all__ = [
    "CLAUSES",
    "CLAUSE_LABELS",
    "clauses",
    "collapsed",
    "flat_metrics",
    "format_table",
    "shape_stats",
    "sql_size",
]

CLAUSES: tuple[str, ...] = (
    "where",
    "join",
    "group_by",
    "having",
    "order_by",
    "limit",
    "subquery",
    "set_op",
)
CLAUSE_LABELS: dict[str, str] = {
    "where": "WHERE",
    "join": "JOIN",
    "group_by": "GROUP BY",
    "having": "HAVING",
    "order_by": "ORDER BY",
    "limit": "LIMIT",
    "subquery": "subquery / CTE",
    "set_op": "set operator",
}
# a clause "collapses" when its prediction rate falls below this fraction of its gold rate
COLLAPSE_FRACTION = 0.5


@lru_cache(maxsize=8192)
def _parse(sql: str) -> exp.Expression | None:
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return None
    except Exception:  # sqlglot can raise plain errors on odd token streams; a prediction never crashes us
        return None
    return tree


def _has_subquery(tree: exp.Expression) -> bool:
    if tree.find(exp.CTE) is not None:
        return True
    # a parenthesised branch of a set operation is a Subquery node but not a nested query
    return any(not isinstance(node.parent, exp.SetOperation) for node in tree.find_all(exp.Subquery))


@lru_cache(maxsize=8192)
def clauses(sql: str | None) -> frozenset[str] | None:
    """The clauses of ``CLAUSES`` present anywhere in ``sql`` (nested queries included); ``None``
    when there is no SQL or sqlglot cannot parse it."""
    if not sql or not sql.strip():
        return None
    tree = _parse(sql.strip())
    if tree is None:
        return None
    found = set()
    for name, node_type in (
        ("where", exp.Where),
        ("join", exp.Join),
        ("group_by", exp.Group),
        ("having", exp.Having),
        ("order_by", exp.Order),
        ("limit", exp.Limit),
        ("set_op", exp.SetOperation),
    ):
        if tree.find(node_type) is not None:
            found.add(name)
    if _has_subquery(tree):
        found.add("subquery")
    return frozenset(found)


def sql_size(sql: str | None) -> int | None:
    """Number of AST nodes of ``sql`` (``None`` when unparseable): a length that ignores spacing,
    letter case and quoting.

    >>> sql_size("SELECT name FROM t") == sql_size("select   NAME\\nfrom T")
    True
    """
    if not sql or not sql.strip():
        return None
    tree = _parse(sql.strip())
    return None if tree is None else sum(1 for _ in tree.walk())


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def shape_stats(predictions: Sequence[str | None], golds: Sequence[str]) -> dict[str, Any]:
    """Clause presence and length of ``predictions`` against their ``golds`` (pairwise).

    Rates use every pair as the denominator: a missing or unparseable prediction has no clause.
    Returns ``{"n", "clauses": {clause: {"pred", "gold", "pred_n", "gold_n"}}, "length_ratio",
    "size_ratio", "pred_parsed"}``: ``length_ratio`` is mean predicted characters / mean gold
    characters over all pairs (no SQL = 0 characters), ``size_ratio`` the same for AST nodes
    over the pairs where both parse.
    """
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold queries")
    n = len(golds)
    pred_counts = dict.fromkeys(CLAUSES, 0)
    gold_counts = dict.fromkeys(CLAUSES, 0)
    pred_chars = gold_chars = 0
    pred_nodes = gold_nodes = 0
    parsed = 0
    for pred, gold in zip(predictions, golds, strict=True):
        pc, gc = clauses(pred), clauses(gold)
        for c in pc or ():
            pred_counts[c] += 1
        for c in gc or ():
            gold_counts[c] += 1
        parsed += pc is not None
        pred_chars += len(pred.strip()) if pred else 0
        gold_chars += len(gold.strip())
        ps, gs = sql_size(pred), sql_size(gold)
        if ps is not None and gs is not None:
            pred_nodes += ps
            gold_nodes += gs
    return {
        "n": n,
        "clauses": {
            c: {
                "pred": pred_counts[c] / n if n else 0.0,
                "gold": gold_counts[c] / n if n else 0.0,
                "pred_n": pred_counts[c],
                "gold_n": gold_counts[c],
            }
            for c in CLAUSES
        },
        "length_ratio": _ratio(pred_chars, gold_chars),
        "size_ratio": _ratio(pred_nodes, gold_nodes),
        "pred_parsed": parsed / n if n else 0.0,
    }


def collapsed(
    stats: Mapping[str, Any], *, min_gold: int = 5, fraction: float = COLLAPSE_FRACTION
) -> list[str]:
    """Clauses whose prediction rate is below ``fraction`` × their gold rate, among clauses the gold
    uses at least ``min_gold`` times (fewer is noise, not a trend). Sorted by name."""
    return sorted(
        c for c, v in stats["clauses"].items() if v["gold_n"] >= min_gold and v["pred"] < fraction * v["gold"]
    )


def flat_metrics(stats: Mapping[str, Any], prefix: str = "shape/") -> dict[str, float]:
    """``{"shape/<clause>/pred": rate, "shape/<clause>/gold": rate, "shape/length_ratio": r, ...}``
    for logging (``None`` ratios left out).

    >>> flat_metrics(shape_stats(["SELECT a FROM t LIMIT 1"], ["SELECT a FROM t LIMIT 1"]))["shape/limit/pred"]
    1.0
    """
    out: dict[str, float] = {}
    for c, v in stats["clauses"].items():
        out[f"{prefix}{c}/pred"] = v["pred"]
        out[f"{prefix}{c}/gold"] = v["gold"]
    for key in ("length_ratio", "size_ratio"):
        if stats.get(key) is not None:
            out[f"{prefix}{key}"] = stats[key]
    return out


def format_table(stats: Mapping[str, Any], *, min_gold: int = 5) -> list[str]:
    """Plain-text lines: one per clause (predicted vs gold count and rate), then the length ratios
    and any collapsed clause."""
    n = stats["n"]
    lines = [f"{'clause':<16}{'pred':>14}{'gold':>14}{'pred/gold':>11}"]
    for c in CLAUSES:
        v = stats["clauses"][c]
        ratio = "—" if not v["gold_n"] else f"{v['pred_n'] / v['gold_n']:.2f}"
        lines.append(
            f"{CLAUSE_LABELS[c]:<16}{v['pred_n']:>5}/{n:<3} {v['pred']:.2f}"
            f"{v['gold_n']:>5}/{n:<3} {v['gold']:.2f}{ratio:>11}"
        )
    fmt = lambda r: "n/a" if r is None else f"{r:.2f}"  # noqa: E731
    lines.append(
        f"length ratio pred/gold: {fmt(stats.get('length_ratio'))} (characters), "
        f"{fmt(stats.get('size_ratio'))} (AST nodes)"
    )
    gone = collapsed(stats, min_gold=min_gold)
    if gone:
        lines.append("COLLAPSE: below half of the gold rate: " + ", ".join(CLAUSE_LABELS[c] for c in gone))
    return lines


def pairs(scores: Iterable[Any]) -> tuple[list[str | None], list[str]]:
    """``(predicted SQL, gold SQL)`` lists from ``PredictionScore``-like objects (``.sql``, ``.gold_sql``)."""
    preds: list[str | None] = []
    golds: list[str] = []
    for s in scores:
        preds.append(s.sql)
        golds.append(s.gold_sql)
    return preds, golds
