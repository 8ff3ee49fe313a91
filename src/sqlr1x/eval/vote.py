"""Self-consistency voting over sampled SQL, as SQL-R1 does at inference.

Each candidate is executed; only candidates that execute vote, grouped by their result as a set of
rows (SQL-R1 groups by ``frozenset(rows)``: row order and duplicates do not matter). The largest
group wins, ties go to the group seen first, and the winner's first SQL is the answer. When no
candidate executes, ``fallback`` decides: ``"first"`` (first candidate with SQL), ``"random"``
(SQL-R1's BIRD behaviour: a random candidate, ``random.Random(seed)``), or ``"error"`` (SQL-R1's
Spider behaviour: no answer, scored as a failure).

Example::

    >>> from types import SimpleNamespace as R
    >>> results = [R(ok=True, rows=[(1,)]), R(ok=False, rows=[]), R(ok=True, rows=[(2,)]),
    ...            R(ok=True, rows=[(2,), (2,)])]
    >>> v = vote(["SELECT 1", "SELEC", "SELECT 2", "SELECT 2 UNION ALL SELECT 2"], results)
    >>> v.sql, v.index, v.votes, v.n_executable
    ('SELECT 2', 2, 2, 3)
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Fallback = Literal["first", "random", "error"]
FALLBACKS: tuple[str, ...] = ("first", "random", "error")


@dataclass(frozen=True)
class VoteResult:
    """The voted answer. ``index`` is the chosen candidate's position, ``None`` when there is none."""

    sql: str | None
    index: int | None
    votes: int
    n_candidates: int
    n_executable: int
    n_groups: int
    fallback: str | None  # which fallback chose the answer; None when a vote did


def _canon(value: Any) -> Hashable:
    """A hashable, equality-preserving stand-in for one cell (NaN equals NaN, lists become tuples)."""
    if isinstance(value, float) and math.isnan(value):
        return ("<nan>",)
    if isinstance(value, (list, tuple)):
        return tuple(_canon(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted(((repr(k), _canon(v)) for k, v in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, (set, frozenset)):
        return frozenset(_canon(v) for v in value)
    if isinstance(value, bytearray):
        return bytes(value)
    try:
        hash(value)
    except TypeError:
        return (type(value).__name__, repr(value))
    return value


def result_key(rows: Sequence[Any]) -> frozenset:
    """SQL-R1's grouping key ``frozenset(rows)``, made robust to unhashable or NaN cells.

    >>> result_key([(1, None), (1, None)]) == result_key([(1, None)])
    True
    >>> result_key([([1, 2],)]) == result_key([((1, 2),)])
    True
    """
    return frozenset(_canon(tuple(r) if isinstance(r, (list, tuple)) else (r,)) for r in rows)


def vote(
    candidates: Sequence[str | None],
    results: Sequence[Any],
    *,
    fallback: Fallback = "first",
    seed: int = 42,
) -> VoteResult:
    """Vote with precomputed execution results (objects with ``.ok`` and ``.rows``), one per candidate.

    A candidate that is ``None`` or blank (no SQL extracted) never votes, whatever its result.
    """
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {FALLBACKS}, got {fallback!r}")
    if len(candidates) != len(results):
        raise ValueError(f"{len(candidates)} candidates but {len(results)} results")
    groups: dict[frozenset, list[int]] = {}  # insertion order = first seen, which breaks ties
    for i, (sql, res) in enumerate(zip(candidates, results, strict=True)):
        if sql and sql.strip() and res is not None and res.ok:
            groups.setdefault(result_key(res.rows), []).append(i)
    n_exec = sum(len(g) for g in groups.values())
    if groups:
        best = max(groups.values(), key=len)  # max() keeps the first of equal maxima
        return VoteResult(candidates[best[0]], best[0], len(best), len(candidates), n_exec, len(groups), None)
    with_sql = [i for i, s in enumerate(candidates) if s and s.strip()]
    if fallback == "error" or not with_sql:
        return VoteResult(None, None, 0, len(candidates), 0, 0, fallback)
    index = with_sql[0] if fallback == "first" else random.Random(seed).choice(with_sql)
    return VoteResult(candidates[index], index, 0, len(candidates), 0, 0, fallback)


@lru_cache(maxsize=1)
def _vote_executor() -> Any:
    from sqlr1x.db.executor import SQLiteExecutor

    return SQLiteExecutor(timeout=10.0)  # SQL-R1 votes with a 10 s timeout per sample


def self_consistency(
    candidates: Sequence[str | None],
    db_path: str,
    *,
    executor: Any = None,
    fallback: Fallback = "first",
    seed: int = 42,
) -> VoteResult:
    """Execute each candidate on ``db_path`` (``sqlr1x.db`` executor) and ``vote``.

    Identical SQL strings are executed once.
    """
    executor = executor or _vote_executor()
    seen: dict[str, Any] = {}
    results = []
    for sql in candidates:
        if not sql or not sql.strip():
            results.append(None)
            continue
        if sql not in seen:
            seen[sql] = executor.execute(db_path, sql)
        results.append(seen[sql])
    return vote(candidates, results, fallback=fallback, seed=seed)
