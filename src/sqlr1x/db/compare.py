"""Execution match: run a prediction and its gold on a database and compare the results.

:func:`execution_match` executes through the guarded executor (:mod:`sqlr1x.db.executor`) and
judges with the pure comparison of :mod:`sqlr1x.db.results`, whose names are re-exported here
(``from sqlr1x.db.compare import results_match`` keeps working). Modes: ``"spider"`` (Spider
test-suite ``result_eq``), ``"bird"`` (``set`` equality), ``"ordered"`` (row lists).

>>> results_match([(1, "a"), (2, "b")], [("b", 2), ("a", 1)])
True
"""

from __future__ import annotations

import os

from .executor import SQLiteExecutor, default_executor
from .results import (
    MODES,
    gold_has_order_by,
    postprocess,
    remove_distinct,
    results_match,
    spider_exec_sql,
    spider_postprocess,
    spider_prepare,
    truncation_outcome,
)

__all__ = [
    "MODES",
    "execution_match",
    "gold_has_order_by",
    "postprocess",
    "remove_distinct",
    "results_match",
    "spider_exec_sql",
    "spider_postprocess",
    "spider_prepare",
    "truncation_outcome",
]


def execution_match(
    pred_sql: str | None,
    gold_sql: str,
    db_path: str | os.PathLike,
    mode: str = "spider",
    *,
    executor: SQLiteExecutor | None = None,
) -> bool:
    """Execute prediction and gold on ``db_path`` and compare their results under ``mode``.

    ``"spider"`` reproduces ``exec_eval.eval_exec_match`` on one database (no value plugging, no
    test-suite database directory): ``postprocess`` and DISTINCT removal on both queries, order
    significant iff the gold has ORDER BY, then ``result_eq``. ``"bird"`` executes both as written
    and compares ``set``s; ``"ordered"`` compares row lists. A prediction or gold that fails to
    execute, or whose result hit the executor's row cap, gives False. Gold results are cached.

    >>> import sqlite3, tempfile, os
    >>> db = os.path.join(tempfile.mkdtemp(), "d.sqlite")
    >>> sqlite3.connect(db).executescript("CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 2), (1, 3);").close()
    >>> execution_match("SELECT b, a FROM t", "SELECT a, b FROM t", db)
    True
    >>> execution_match("SELECT DISTINCT a FROM t", "SELECT a FROM t", db, mode="bird")
    True
    """
    if mode not in MODES:
        raise ValueError(f"unknown comparison mode {mode!r}; expected one of {MODES}")
    if not isinstance(pred_sql, str) or not isinstance(gold_sql, str):
        return False
    ex = executor if executor is not None else default_executor()
    pred_sql, gold_sql, order_matters = spider_prepare(pred_sql, gold_sql, mode)
    gold = ex.execute_cached(db_path, gold_sql)
    if not gold.ok or gold.truncated:
        return False
    pred = ex.execute(db_path, pred_sql)
    if not pred.ok or pred.truncated:
        return False
    return results_match(pred.rows, gold.rows, mode, order_matters=order_matters)
