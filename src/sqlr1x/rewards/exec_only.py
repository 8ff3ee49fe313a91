"""Execution-only baselines for the reward ablation, as plain ``baseline_reward_fn`` callables.

- :class:`ExecutionOnlyReward` (config ``reward.baseline: arctic_exec``) — the reward
  Arctic-Text2SQL-R1 (arXiv 2505.20315) reports works best while leaving little to hack:
  **1** when the predicted result matches the gold result, **0.1** when the prediction executes,
  **0** otherwise (no SQL, an error, a timeout).
- :class:`RowOverlapReward` (``reward.baseline: row_overlap``) — an execution-guided dense reward
  in the spirit of Think2SQL (arXiv 2504.15077): **1** when the results match, else, when the
  prediction executes, ``0.1 + 0.5 × F1`` of the predicted vs gold result rows (bags of rows;
  each row compared as a bag of values, so column order does not matter). A wrong query scores at
  most 0.6, below every correct one; a query returning all rows of a table scores low precision.

Both share SQL-R1's post-processing: the answer is extracted from ``<think>…<answer>```sql…```
</answer>`` by :func:`sqlr1x.sql.extract.extract_answer` (the format itself is not paid), the
match is Spider's (:func:`sqlr1x.db.compare.execution_match`) or BIRD's (``mode="bird"``), and the
SQL runs through the guarded executor. The returned dict uses SQL-R1's status words (``match``,
``mismatch`` = executes with a different result, ``exec_error``, ``no_sql``) so the trainer's
execution and accuracy rates read it as they read SQL-R1's. What is not the policy's fault — no database, a failing
gold, a result cut by the row cap — scores 0 with a ``status`` saying why (``missing_db``,
``gold_error``, ``truncated``), as :class:`~sqlr1x.rewards.baseline.SQLR1Baseline` reports it. A
query that executes only because SQLite read an unknown double-quoted name as a string (a
double-quoted name outside a literal position, :func:`sqlr1x.sql.resolve.string_read_identifiers`)
earns nothing.

Use with ``EnhancedRewardComputer(baseline_reward_fn=ExecutionOnlyReward(), enable_enhanced=False)``
for the execution-only arm, or set ``reward.baseline`` in the YAML (``baseline_from_config``).

>>> import os, sqlite3, tempfile
>>> db = os.path.join(tempfile.mkdtemp(), "d.sqlite")
>>> sqlite3.connect(db).executescript(
...     "CREATE TABLE emp(name, dept); INSERT INTO emp VALUES ('a', 'x'), ('b', 'y'), ('c', 'y');").close()
>>> reward = ExecutionOnlyReward(timeout=5.0)
>>> gold = "SELECT name FROM emp WHERE dept = 'y'"
>>> [reward(f"<answer>```sql\\n{sql}\\n```</answer>", gold, db_path=db)["score"] for sql in
...     ("SELECT name FROM emp WHERE dept = 'y'", "SELECT name FROM emp", "SELECT nme FROM emp", "")]
[1.0, 0.1, 0.0, 0.0]
>>> overlap = RowOverlapReward(timeout=5.0)
>>> round(overlap("```sql\\nSELECT name FROM emp\\n```", gold, db_path=db)["score"], 3)  # P 2/3, R 1
0.5
>>> overlap("```sql\\nSELECT name FROM emp WHERE dept = 'x'\\n```", gold, db_path=db)["score"]  # executes, no overlap
0.1
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlr1x.db.compare import results_match, spider_prepare, truncation_outcome
from sqlr1x.db.executor import SQLiteExecutor
from sqlr1x.rewards._common import as_text, coerce_schema, parse_ground_truth, resolve_db_path
from sqlr1x.rewards.config import REWARD_DEFAULTS
from sqlr1x.sql.extract import extract_answer
from sqlr1x.sql.resolve import string_read_identifiers

__all__ = [
    "BASELINES",
    "ExecutionOnlyReward",
    "RowOverlapReward",
    "baseline_from_config",
    "row_f1",
]

logger = logging.getLogger(__name__)

# reward.baseline values; "sqlr1" is SQL-R1's reward (EnhancedRewardComputer's default baseline)
BASELINES: tuple[str, ...] = ("sqlr1", "arctic_exec", "row_overlap")


def _freeze(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bytes, type(None))) else repr(value)


def row_f1(pred_rows: Sequence[Sequence[Any]], gold_rows: Sequence[Sequence[Any]]) -> float:
    """F1 between two results as bags of rows, each row a bag of its values (column order ignored).

    >>> row_f1([(1, "a"), (2, "b")], [("a", 1)])
    0.6666666666666666
    >>> row_f1([], []), row_f1([(1,)], [])
    (1.0, 0.0)
    """

    def bag(rows: Sequence[Sequence[Any]]) -> Counter:
        return Counter(frozenset(Counter(_freeze(v) for v in row).items()) for row in rows)

    pred, gold = bag(pred_rows), bag(gold_rows)
    if not pred and not gold:
        return 1.0
    common = sum((pred & gold).values())
    if not common:
        return 0.0
    precision, recall = common / sum(pred.values()), common / sum(gold.values())
    return 2 * precision * recall / (precision + recall)


class ExecutionOnlyReward:
    """Arctic-Text2SQL-R1's reward: ``correct`` (1) on a result match, ``executes`` (0.1) when the
    prediction runs, 0 otherwise. Returns ``{"score", "status", "sql", ...}``; never raises.

    ``mode``: ``"spider"`` (test-suite semantics, default) or ``"bird"`` (set of rows).
    """

    name = "arctic_exec"

    def __init__(
        self,
        *,
        correct: float = 1.0,
        executes: float = 0.1,
        mode: str = "spider",
        timeout: float = REWARD_DEFAULTS.exec_timeout,
        executor: SQLiteExecutor | None = None,
        db_root: str | None = None,
    ) -> None:
        self.correct = float(correct)
        self.executes = float(executes)
        self.mode = mode
        self.timeout = float(timeout)
        self.executor = executor if executor is not None else SQLiteExecutor(timeout=timeout)
        self.db_root = db_root

    def partial(self, pred_rows: list[tuple], gold_rows: list[tuple]) -> float:
        """Reward of an executing, non-matching prediction (``executes`` here)."""
        return self.executes

    def __call__(
        self,
        solution_str: Any,
        ground_truth: Any,
        db_path: str | None = None,
        prefilled_think: bool = False,
        **kw: Any,
    ) -> dict[str, Any]:
        try:
            return self._score(solution_str, ground_truth, db_path, prefilled_think)
        except Exception as exc:  # rewards never raise into a trainer
            logger.warning("%s reward failed: %r", self.name, exc, exc_info=True)
            return {"score": 0.0, "status": "error", "reason": repr(exc)}

    def _score(self, solution_str: Any, ground_truth: Any, db_path: str | None, prefilled: bool) -> dict:
        text, _ = as_text(solution_str)
        ext = extract_answer(text, prefilled_think=prefilled)
        sql = ext.sql
        truth = parse_ground_truth(ground_truth)
        db = resolve_db_path(db_path, truth, self.db_root)
        # "format" is reported, not paid (±1 as SQL-R1 writes it, so the trainer's format-ok rate works)
        out: dict[str, Any] = {
            "score": 0.0,
            "sql": sql,
            "status": "no_sql",
            "format": 1.0 if ext.format_ok else -1.0,
        }
        if not sql:
            return out
        if not truth.sql:
            return out | {"status": "gold_error", "reason": truth.reason or "no gold SQL"}
        if not db:
            return out | {"status": "missing_db", "reason": "no database path"}
        # Each query runs once, as the comparison mode runs it (Spider: post-processed, top-level
        # DISTINCT dropped), and the verdict is execution_match's comparison on those rows.
        pred_sql, gold_sql, order_matters = spider_prepare(sql, truth.sql, self.mode)
        gold = self.executor.execute_cached(db, gold_sql)
        if gold.error_kind == "missing_db" or not gold.ok:
            status = "missing_db" if gold.error_kind == "missing_db" else "gold_error"
            return out | {"status": status, "reason": f"gold SQL failed: {gold.error}"}
        pred = self.executor.execute(db, pred_sql)
        if not pred.ok:
            return out | {"status": "exec_error", "reason": pred.error_kind}
        cut = truncation_outcome(pred.truncated, gold.truncated, self.mode)
        if cut == "undecided":
            return out | {"status": "truncated", "reason": "result cut by the executor's row cap"}
        schema, _ = coerce_schema(None, db)
        if schema is not None and string_read_identifiers(sql, schema):
            # runs only because SQLite read an unknown "name" as a string: no execution credit
            # (the same rule, and the same code, as SQLR1Baseline's ``quoted_identifier``)
            return out | {"status": "hallucinated"}
        if cut is None and results_match(pred.rows, gold.rows, self.mode, order_matters=order_matters):
            return out | {"score": self.correct, "status": "match"}
        return out | {"score": self.partial(pred.rows, gold.rows), "status": "mismatch"}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(correct={self.correct}, executes={self.executes}, mode={self.mode!r})"


class RowOverlapReward(ExecutionOnlyReward):
    """Think2SQL-style dense execution reward: 1 on a match; an executing prediction earns
    ``executes + overlap × row_f1(pred, gold)`` (0.1 + 0.5 × F1, at most 0.6 < 1)."""

    name = "row_overlap"

    def __init__(self, *, overlap: float = 0.5, **kw: Any) -> None:
        super().__init__(**kw)
        self.overlap = float(overlap)
        if self.executes + self.overlap >= self.correct:
            raise ValueError(
                "executes + overlap must stay below correct: a wrong query never ties a right one"
            )

    def partial(self, pred_rows: list[tuple], gold_rows: list[tuple]) -> float:
        return self.executes + self.overlap * row_f1(pred_rows, gold_rows)


def baseline_from_config(
    name: str, *, timeout: float = REWARD_DEFAULTS.exec_timeout, db_root: str | None = None
) -> ExecutionOnlyReward | None:
    """The ``baseline_reward_fn`` for ``reward.baseline``: ``None`` for ``"sqlr1"`` (the computer's
    default SQL-R1 baseline), else one of this module's rewards.

    >>> baseline_from_config("sqlr1") is None, type(baseline_from_config("arctic_exec")).__name__
    (True, 'ExecutionOnlyReward')
    """
    if name == "sqlr1":
        return None
    if name == "arctic_exec":
        return ExecutionOnlyReward(timeout=timeout, db_root=db_root)
    if name == "row_overlap":
        return RowOverlapReward(timeout=timeout, db_root=db_root)
    raise ValueError(f"unknown reward.baseline {name!r}; expected one of {', '.join(BASELINES)}")
