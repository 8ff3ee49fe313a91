"""Execution-result equality and Spider post-processing: pure functions, no I/O, nothing of ours.

Modes of :func:`results_match`:

- ``"spider"``: Spider test-suite ``exec_eval.result_eq`` (taoyds/test-suite-sql-eval): equal row
  counts and column counts, columns may be permuted, rows compared as a bag (``multiset_eq``), or
  as a list when ``order_matters`` (the gold SQL has ORDER BY); two empty results are equal.
- ``"bird"``: BIRD ``evaluation.py``: ``set(predicted_res) == set(ground_truth_res)``; duplicates
  and row order are ignored, column order matters.
- ``"ordered"``: exact list equality of rows.

:func:`spider_prepare` applies the Spider evaluator's rewriting of both queries before they run
(operator repair, DISTINCT removal, order semantics from the gold).

>>> results_match([(1, "a"), (2, "b")], [("b", 2), ("a", 1)])
True
>>> results_match([(1,), (1,)], [(1,)], "bird"), results_match([(1,), (1,)], [(1,)], "spider")
(True, False)
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite
from sqlglot.tokens import TokenType

__all__ = [
    "MODES",
    "gold_has_order_by",
    "postprocess",
    "remove_distinct",
    "results_match",
    "spider_exec_sql",
    "spider_postprocess",
    "spider_prepare",
    "truncation_outcome",
]

MODES = ("spider", "bird", "ordered")

_SQLITE = SQLite()


def _freeze(value: Any) -> Hashable:
    """A hashable stand-in for an unhashable value (lists from JSON, dicts, sets)."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return frozenset((_freeze(k), _freeze(v)) for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return frozenset(_freeze(v) for v in value)
    if isinstance(value, bytearray):
        return bytes(value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _as_rows(rows: Sequence[Sequence[Any]]) -> list[tuple]:
    out = [r if type(r) is tuple else tuple(r) for r in rows]
    try:
        for r in out:
            hash(r)
    except TypeError:
        out = [tuple(_freeze(v) for v in r) for r in out]
    return out


def _row_bag(row: tuple) -> frozenset:
    # Hash-based, so 1 == 1.0 == True as in Python (upstream's str-keyed sort can split them).
    return frozenset(Counter(row).items())


def _column_permutation_exists(gold: list[tuple], pred: list[tuple], order_matters: bool) -> bool:
    """Whether some column permutation of ``pred`` equals ``gold`` as a bag (or list) of rows.

    Upstream enumerates ``itertools.product`` over per-column candidates (sampled from 20 random
    rows when there are more than 3 columns), which is random and can blow up on wide results.
    Here a gold column may map only to a pred column with the same value multiset, gold columns
    with the fewest candidates are assigned first, each partial assignment must already match on
    the projected columns, and pred columns with identical contents are tried once per position.
    """
    n = len(gold[0])
    gcols = list(zip(*gold, strict=True))
    pcols = list(zip(*pred, strict=True))
    gsig = [Counter(c) for c in gcols]
    psig = [Counter(c) for c in pcols]
    candidates = [[j for j in range(n) if psig[j] == gsig[i]] for i in range(n)]
    if any(not c for c in candidates):
        return False
    content_id: dict[tuple, int] = {}
    pid = [content_id.setdefault(c, len(content_id)) for c in pcols]
    order = sorted(range(n), key=lambda i: len(candidates[i]))
    used = [False] * n

    def same(g: list[tuple], p: list[tuple]) -> bool:
        return g == p if order_matters else Counter(g) == Counter(p)

    def search(depth: int, g_part: list[tuple], p_part: list[tuple]) -> bool:
        if depth == n:
            return True
        i = order[depth]
        g_next = [t + (v,) for t, v in zip(g_part, gcols[i], strict=True)]
        tried: set[int] = set()
        for j in candidates[i]:
            if used[j] or pid[j] in tried:
                continue
            tried.add(pid[j])
            p_next = [t + (v,) for t, v in zip(p_part, pcols[j], strict=True)]
            if not same(g_next, p_next):
                continue
            used[j] = True
            if search(depth + 1, g_next, p_next):
                return True
            used[j] = False
        return False

    empty = [()] * len(gold)
    return search(0, empty, list(empty))


def results_match(
    pred_rows: Sequence[Sequence[Any]],
    gold_rows: Sequence[Sequence[Any]],
    mode: str = "spider",
    *,
    order_matters: bool = False,
) -> bool:
    """Whether a predicted result equals the gold result under ``mode`` (see module docstring).

    ``order_matters`` applies to ``"spider"`` only. ``None`` equals ``None``; values compare with
    Python equality (``1 == 1.0``), as both official evaluators do through tuples and sets.

    >>> results_match([(1, None)], [(None, 1)]), results_match([(1, 2)], [(2, 1)], "bird")
    (True, False)
    >>> results_match([(1,), (2,)], [(2,), (1,)], order_matters=True)
    False
    """
    if mode not in MODES:
        raise ValueError(f"unknown comparison mode {mode!r}; expected one of {MODES}")
    pred, gold = _as_rows(pred_rows), _as_rows(gold_rows)
    if mode == "bird":
        return set(pred) == set(gold)
    if mode == "ordered":
        return pred == gold
    # Spider test-suite result_eq.
    if not pred and not gold:
        return True
    if len(pred) != len(gold):
        return False
    n_cols = len(gold[0])
    if any(len(r) != n_cols for r in gold) or any(len(r) != n_cols for r in pred):
        return False
    if pred == gold:
        return True
    # quick_rej: rows must already agree as bags of values, whatever the column order.
    pred_bags, gold_bags = [_row_bag(r) for r in pred], [_row_bag(r) for r in gold]
    if order_matters:
        if pred_bags != gold_bags:
            return False
    elif Counter(pred_bags) != Counter(gold_bags):
        return False
    if n_cols == 1:
        return True
    return _column_permutation_exists(gold, pred, order_matters)


def remove_distinct(sql: str, *, keep_aggregate: bool = True) -> str:
    """Drop ``DISTINCT`` keywords before executing, as the Spider test-suite does (``keep_distinct=False``).

    Upstream (``parse.remove_distinct``) deletes every ``distinct`` token, which changes what
    ``COUNT(DISTINCT x)`` or a ``SELECT DISTINCT`` derived table computes. By default this applies
    one consistent rule instead: only the ``DISTINCT`` of a top-level ``SELECT`` (outside any
    parentheses: the main query and the arms of a top-level set operation) is removed; aggregates,
    derived tables, CTEs and subqueries keep theirs, so ``SELECT COUNT(*) FROM (SELECT DISTINCT c
    FROM t)`` still equals ``SELECT COUNT(DISTINCT c) FROM t`` when ``c`` has no NULL.
    ``keep_aggregate=False`` removes every one, as upstream does. The operator ``IS [NOT]
    DISTINCT FROM`` is always kept. Works on sqlglot tokens, so string literals, quoted
    identifiers and comments are untouched; SQL that does not tokenize is returned unchanged.

    >>> remove_distinct("SELECT DISTINCT name, COUNT(DISTINCT id) FROM t WHERE s = 'distinct'")
    "SELECT name, COUNT(DISTINCT id) FROM t WHERE s = 'distinct'"
    >>> remove_distinct("SELECT DISTINCT a FROM (SELECT DISTINCT b AS a FROM t)")
    'SELECT a FROM (SELECT DISTINCT b AS a FROM t)'
    """
    if not sql or "distinct" not in sql.lower():
        return sql
    try:
        tokens = _SQLITE.tokenize(sql)
    except Exception:  # TokenError and whatever else the (compiled) tokenizer raises
        return sql
    spans: list[tuple[int, int]] = []
    depth = 0
    for k, tok in enumerate(tokens):
        kind = tok.token_type
        if kind == TokenType.L_PAREN:
            depth += 1
            continue
        if kind == TokenType.R_PAREN:
            depth = max(0, depth - 1)
            continue
        if kind != TokenType.DISTINCT:
            continue
        prev = tokens[k - 1].token_type if k else None
        nxt = tokens[k + 1].token_type if k + 1 < len(tokens) else None
        if nxt == TokenType.FROM and prev in (TokenType.IS, TokenType.NOT):
            continue
        if keep_aggregate and (depth > 0 or prev != TokenType.SELECT):
            continue
        end = tok.end + 1
        while end < len(sql) and sql[end].isspace():
            end += 1
        spans.append((tok.start, end))
    if not spans:
        return sql
    pieces, pos = [], 0
    for start, end in spans:
        pieces.append(sql[pos:start])
        pos = end
    pieces.append(sql[pos:])
    return "".join(pieces)


_ORDER_BY_RE = re.compile(r"\border\s+by\b", re.IGNORECASE)


@functools.lru_cache(maxsize=8192)
def gold_has_order_by(sql: str) -> bool:
    """Whether the outer query has ORDER BY, i.e. whether row order matters in Spider mode.

    Upstream uses ``'order by' in gold.lower()``, which also fires for an ORDER BY inside a
    subquery, a string literal or a comment. This looks at the parsed outer query (a SELECT or a
    set operation, through CTEs and wrapping parentheses); on a parse failure it falls back to the
    upstream substring test (whitespace-tolerant).

    >>> gold_has_order_by("SELECT a FROM t ORDER BY a"), gold_has_order_by("SELECT a FROM (SELECT a FROM t ORDER BY a LIMIT 3)")
    (True, False)
    """
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except Exception:  # ParseError, TokenError, or anything else sqlglot raises on garbage
        return bool(_ORDER_BY_RE.search(sql or ""))
    while tree is not None:
        if tree.args.get("order") is not None:
            return True
        if not isinstance(tree, (exp.Subquery, exp.Paren)):
            return False
        tree = tree.this
    return False


# Spider's post-processing of predictions (``> =`` → ``>=``), applied outside string literals only.
_SPLIT_OPERATOR = re.compile(r"('(?:[^']|'')*')|([<>!])\s+=")
_CURRENT_YEAR = re.compile(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", re.IGNORECASE)


def postprocess(sql: str) -> str:
    """Join split comparison operators and pin ``YEAR(CURDATE())`` to 2020, as Spider's evaluator does.

    Upstream (``exec_eval.postprocess``, ``replace_cur_year``) replaces ``> =`` everywhere, also
    inside string literals; this leaves literals alone.

    >>> postprocess("SELECT a FROM t WHERE b > = 3 AND c = '> ='")
    "SELECT a FROM t WHERE b >= 3 AND c = '> ='"
    """
    sql = _SPLIT_OPERATOR.sub(lambda m: m.group(1) or f"{m.group(2)}=", sql)
    return _CURRENT_YEAR.sub("2020", sql)


spider_postprocess = postprocess


def spider_exec_sql(sql: str) -> str:
    """What Spider mode executes for ``sql``: :func:`postprocess`, then :func:`remove_distinct`.

    The training reward and ``sqlr1x eval`` both run this (one definition of scoring).
    """
    try:
        return remove_distinct(postprocess(sql))
    except Exception:  # a rewrite helper must not turn a gradable query into a crash
        return sql


def spider_prepare(pred_sql: str, gold_sql: str, mode: str = "spider") -> tuple[str, str, bool]:
    """The two queries as they are executed under ``mode``, and whether row order matters.

    ``"spider"``: ``postprocess`` and DISTINCT removal on both, order significant iff the gold has
    ORDER BY (``exec_eval.eval_exec_match``). Other modes run the queries as written.

    >>> spider_prepare("SELECT DISTINCT a FROM t WHERE a > = 1", "SELECT a FROM t ORDER BY a")
    ('SELECT a FROM t WHERE a >= 1', 'SELECT a FROM t ORDER BY a', True)
    """
    if mode not in MODES:
        raise ValueError(f"unknown comparison mode {mode!r}; expected one of {MODES}")
    if mode != "spider":
        return pred_sql, gold_sql, False
    pred_sql = spider_exec_sql(pred_sql)
    gold_sql = spider_exec_sql(gold_sql)
    return pred_sql, gold_sql, gold_has_order_by(gold_sql)


def truncation_outcome(pred_truncated: bool, gold_truncated: bool, mode: str) -> str | None:
    """What a result cut at the executor's row cap means for the comparison under ``mode``.

    ``None``: nothing was cut. ``"mismatch"``: only the prediction's result was cut; as bags
    (Spider) or row lists (ordered) it cannot equal a gold result that fits under the cap.
    ``"undecided"``: the gold's own result is incomplete, or BIRD's set rule could still find the
    prediction's extra rows to be duplicates -- not comparable, and not the policy's fault.

    >>> truncation_outcome(True, False, "spider"), truncation_outcome(True, False, "bird")
    ('mismatch', 'undecided')
    >>> truncation_outcome(False, True, "spider"), truncation_outcome(False, False, "bird")
    ('undecided', None)
    """
    if gold_truncated or (pred_truncated and mode == "bird"):
        return "undecided"
    return "mismatch" if pred_truncated else None
