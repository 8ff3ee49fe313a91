"""The SQL-R1 reward (arXiv 2504.08600), reimplemented from its published ``synsql.py`` / ``exec_eval.py``.

Terms, as published:

* **format** — the response (text after the assistant header; the prompt pre-fills ``<think>``)
  holds ``<think>``, ``</think>``, ``<answer>``, ``</answer>`` exactly once each, in that order,
  and the answer a ```` ```sql ``` ```` block (the last one wins): +1, else -1 and nothing else runs;
* **exec** — the prediction fails or times out: -2; it runs: +2;
* **result** — Spider test-suite equality with the gold result (bag semantics, column permutations,
  row order only when the gold has ORDER BY, DISTINCT removed from both queries): +3, else -3;
* **length** (match only) — ``0.5·min(P, 2048)/2048 + len(sql)/len(answer)`` in characters, with
  ``P = len(think) + len(answer)`` and ``sql`` whitespace-collapsed.

So: format fail -1, prediction error -1, wrong result 0, correct ``6 + L`` (at most about 7.5).

Deviations from upstream, where upstream is buggy (each pinned by a test in
``tests/test_baseline_reward.py``, see docs/rewards.md):

(a) upstream writes ``pred_passes == 3`` instead of an assignment, so a failing **gold** query
    makes any executable prediction a "Match" worth the full reward. Ours: status ``gold_error``,
    exec 0 and result 0 (the values of upstream's own, unreachable "Gold Error" branch).
(b) upstream strips every ``DISTINCT`` token, also inside ``COUNT(DISTINCT x)`` and derived
    tables, changing what is counted. Ours strips only the DISTINCT of a top-level SELECT
    (:func:`~sqlr1x.db.compare.remove_distinct`), on prediction and gold alike.
(c) upstream's thread timeout (``func_timeout``) abandons the query, which keeps running. Ours
    interrupts it inside SQLite (progress handler of :class:`~sqlr1x.db.executor.SQLiteExecutor`).
(d) upstream raises on a missing database and on a response without an assistant header. Ours: a
    bare completion is the response; the *last* ``<|im_start|>assistant`` header starts it.
(e) upstream runs ``re.sub(r"\\s+", " ", sql)`` before executing, which also rewrites string
    literals (``'a  b'`` becomes ``'a b'``). Ours executes the SQL as written; only the length
    term uses the collapsed text. Spider's ``> =`` → ``>=`` repair also spares string literals.
(f) upstream's regex takes a ```` ```sqlite ```` block as SQL starting with ``ite``; ours accepts
    the block as SQL.
(g) a prediction that runs only because SQLite read an unknown double-quoted identifier as a
    string (``SELECT name, "pay" FROM employees``) earns no execution credit: status
    ``quoted_identifier``, scored like a failing prediction (format +1, exec -2).
(h) what is not the policy's fault is no reward: a missing database (``missing_db``), no gold
    (``no_gold``), a failing or timed-out gold (``gold_error`` / ``gold_timeout``), a result cut
    at the row cap (``truncated``: the gold's, or in BIRD's set mode the prediction's; in Spider
    mode a prediction whose result alone overflows the cap is a plain mismatch), and a prediction
    the batch deadline stopped (``deadline``) are :data:`INVALID_STATUSES`; the reward computer
    turns them into a flagged, reward-free sample (TRL: ``None``; verl: 0 with ``invalid = 1``).

Also: each query runs on the given database only (upstream also runs it on every other
``.sqlite`` file in the same folder, which matters only for Spider's test-suite databases).

Option ``empty_result_guard`` (off by default, as upstream): an empty prediction result that
"matches" an empty gold result earns no result and no length reward (status ``empty_match``),
closing the ``[] == []`` reward hack on tiny databases (SQL-R1 issue #28).

Example::

    >>> import os, sqlite3, tempfile
    >>> db = os.path.join(tempfile.mkdtemp(), "company.sqlite")
    >>> con = sqlite3.connect(db)
    >>> _ = con.executescript("CREATE TABLE employees (name TEXT); INSERT INTO employees VALUES ('Ann'), ('Bo');")
    >>> con.close()
    >>> reward = SQLR1Baseline(timeout=30.0)
    >>> text = "<think>easy</think><answer>```sql\\nSELECT name FROM employees\\n```</answer>"
    >>> out = reward(text, "SELECT name FROM employees", db_path=db)
    >>> out["status"], out["format"], out["exec"], out["result"], round(out["score"], 2)
    ('match', 1.0, 2.0, 3.0, 6.71)
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any

from sqlr1x.db.compare import (
    MODES,
    gold_has_order_by,
    results_match,
    spider_exec_sql,
    spider_postprocess,
    truncation_outcome,
)
from sqlr1x.db.executor import ExecResult, SQLiteExecutor
from sqlr1x.rewards._common import as_text, coerce_schema, parse_ground_truth, resolve_db_path
from sqlr1x.rewards.config import REWARD_DEFAULTS
from sqlr1x.sql.extract import Extraction, extract_answer
from sqlr1x.sql.resolve import string_read_identifiers

__all__ = [
    "BREAKDOWN_KEYS",
    "INVALID_STATUSES",
    "BaselineJob",
    "SQLR1Baseline",
    "length_term",
    "spider_postprocess",
]

logger = logging.getLogger("sqlr1x.rewards")

FORMAT_REWARD = 1.0
EXEC_REWARD = 2.0
RESULT_REWARD = 3.0
LENGTH_LIMIT = 2048

# Outcomes that are not the policy's fault: no reward at all (TRL: None, verl: a flagged 0).
INVALID_STATUSES = frozenset({"missing_db", "no_gold", "gold_error", "gold_timeout", "truncated", "deadline"})

BREAKDOWN_KEYS = (
    "score",
    "format",
    "exec",
    "result",
    "length",
    "status",
    "reason",
    "sql",
    "pred_error",
    "gold_error",
)

_WHITESPACE = re.compile(r"\s+")


def length_term(think: str, answer: str, sql: str) -> float:
    """SQL-R1's length bonus: ``0.5·min(P, 2048)/2048 + len(collapsed sql)/len(answer)``."""
    think, answer = think.strip(), answer.strip()
    if not answer:
        return 0.0
    p = len(think) + len(answer)
    collapsed = _WHITESPACE.sub(" ", sql.strip())
    return 0.5 * min(p, LENGTH_LIMIT) / LENGTH_LIMIT + len(collapsed) / len(answer)


@dataclass
class BaselineJob:
    """A prepared sample: what to execute (if anything) and how to score it afterwards."""

    extraction: Extraction | None
    pred_sql: str | None
    gold_sql: str | None
    db_path: str | None
    exec_pred: str | None = None
    exec_gold: str | None = None
    order_matters: bool = False
    done: dict | None = None
    mode: str = "spider"

    @property
    def needs_execution(self) -> bool:
        return self.done is None


def _breakdown(
    status: str,
    reason: str,
    *,
    fmt: float,
    ex: float = 0.0,
    res: float = 0.0,
    length: float = 0.0,
    sql: str | None = None,
    pred_error: str | None = None,
    gold_error: str | None = None,
    **extra: Any,
) -> dict:
    return {
        "score": fmt + ex + res + length,
        "format": fmt,
        "exec": ex,
        "result": res,
        "length": length,
        "status": status,
        "reason": reason,
        "sql": sql,
        "pred_error": pred_error,
        "gold_error": gold_error,
        **extra,
    }


class SQLR1Baseline:
    """The SQL-R1 reward as a callable returning the breakdown dict (``score`` is the reward).

    Gold results are cached per process (:meth:`SQLiteExecutor.execute_cached`). Defaults are
    :class:`~sqlr1x.rewards.config.RewardConfig`'s.

    Args:
        timeout: seconds per query, exact (interrupted inside SQLite; ``exec_timeout``, 30 s like
            upstream).
        empty_result_guard: no result and length reward when both results are empty.
        executor: the :class:`~sqlr1x.db.executor.SQLiteExecutor` to run queries with (default: a
            new one with ``timeout`` and ``max_rows``).
        db_root: folder that locates ``<root>/<db_id>/<db_id>.sqlite`` when the ground truth names
            a ``db_id`` but no path (else ``$SQLR1X_DB_ROOT``).
        max_rows: row cap per query; a result cut by it makes the sample invalid (``truncated``).
        compare_mode: ``"spider"`` (test-suite semantics, as published), ``"bird"`` (both queries
            run as written, results compared as sets) or ``"ordered"``, like
            :func:`sqlr1x.db.compare.execution_match`.

    >>> SQLR1Baseline()("no tags at all", "SELECT 1")["score"]
    -1.0
    """

    def __init__(
        self,
        timeout: float = REWARD_DEFAULTS.exec_timeout,
        empty_result_guard: bool = REWARD_DEFAULTS.empty_result_guard,
        executor: SQLiteExecutor | None = None,
        *,
        db_root: str | os.PathLike | None = REWARD_DEFAULTS.db_root,
        max_rows: int = 100_000,
        compare_mode: str = REWARD_DEFAULTS.compare_mode,
    ) -> None:
        if compare_mode not in MODES:
            raise ValueError(f"unknown compare_mode {compare_mode!r}; expected one of {MODES}")
        self.compare_mode = compare_mode
        self.timeout = float(timeout)
        self.empty_result_guard = bool(empty_result_guard)
        self.executor = (
            executor if executor is not None else SQLiteExecutor(timeout=self.timeout, max_rows=max_rows)
        )
        self.db_root = db_root

    # -- phases, so a batch can execute every query of many samples in one parallel call -------------
    def prepare(
        self,
        solution_str: Any,
        ground_truth: Any,
        *,
        db_path: str | os.PathLike | None = None,
        prefilled_think: bool = False,
    ) -> BaselineJob:
        text, input_reason = as_text(solution_str)
        extraction = extract_answer(text, prefilled_think=prefilled_think)
        truth = parse_ground_truth(ground_truth)
        path = resolve_db_path(db_path, truth, self.db_root)
        sql = (extraction.sql or "").strip() or None
        job = BaselineJob(extraction, sql, truth.sql, path, mode=self.compare_mode)
        if not extraction.format_ok or not sql:
            reason = "; ".join(r for r in (input_reason, extraction.reason or "format check failed") if r)
            job.done = _breakdown("format_error", reason, fmt=-FORMAT_REWARD, sql=sql)
            return job
        if truth.sql is None:
            job.done = _breakdown("no_gold", truth.reason or "no gold SQL", fmt=FORMAT_REWARD, sql=sql)
            return job
        if path is None or not os.path.isfile(path):
            where = path or "no db_path, and no db_id with a db_root"
            job.done = _breakdown("missing_db", f"database not found: {where}", fmt=FORMAT_REWARD, sql=sql)
            return job
        quoted = _string_read(sql, path)
        if quoted:
            names = ", ".join(f'"{q}"' for q in quoted)
            job.done = _breakdown(
                "quoted_identifier",
                f"no execution credit: SQLite read the unknown identifier(s) {names} as strings",
                fmt=FORMAT_REWARD,
                ex=-EXEC_REWARD,
                sql=sql,
                pred_error=f"no such column: {quoted[0]}",
            )
            return job
        if job.mode != "spider":  # BIRD's evaluator runs both queries as written
            job.exec_pred, job.exec_gold = sql, truth.sql
            return job
        job.exec_pred = spider_exec_sql(sql)
        job.exec_gold = spider_exec_sql(truth.sql)
        job.order_matters = bool(_safe_bool(gold_has_order_by, job.exec_gold))
        return job

    def score(
        self,
        job: BaselineJob,
        pred: ExecResult | None,
        gold: ExecResult | None,
        *,
        match: bool | None = None,
        pred_empty: bool | None = None,
    ) -> dict:
        """Turn a prepared job and its two execution results into the breakdown dict.

        ``match`` / ``pred_empty``: the result comparison and whether the prediction returned no
        rows, when they were worked out where the query ran (:meth:`SQLiteExecutor.run_match`;
        ``pred`` then carries no rows). Left None, they are computed here from the rows.
        """
        if job.done is not None:
            return job.done
        sql = job.pred_sql
        if pred is None or not pred.ok:
            kind = getattr(pred, "error_kind", None) or "error"
            error = getattr(pred, "error", None) or kind
            if kind == "missing_db":
                return _breakdown(
                    "missing_db", f"database not found: {job.db_path}", fmt=FORMAT_REWARD, sql=sql
                )
            if kind == "deadline":  # the batch ran out of time before this query: not its fault
                return _breakdown(
                    "deadline",
                    f"batch deadline reached before the prediction ran: {error}",
                    fmt=FORMAT_REWARD,
                    sql=sql,
                )
            status = "pred_timeout" if kind == "timeout" else "pred_error"
            return _breakdown(
                status,
                f"prediction failed ({kind}): {error}",
                fmt=FORMAT_REWARD,
                ex=-EXEC_REWARD,
                sql=sql,
                pred_error=error,
            )
        if gold is None or not gold.ok:
            error = getattr(gold, "error", None) or getattr(gold, "error_kind", None) or "gold not executed"
            status = "gold_timeout" if getattr(gold, "error_kind", None) == "timeout" else "gold_error"
            return _breakdown(
                status,
                f"gold SQL failed on {job.db_path}: {error}",
                fmt=FORMAT_REWARD,
                sql=sql,
                gold_error=error,
            )
        cut = truncation_outcome(pred.truncated, gold.truncated, job.mode)
        if cut == "undecided":
            which = "gold" if gold.truncated else "prediction"
            return _breakdown(
                "truncated",
                f"{which} result cut at the row cap on {job.db_path}: not comparable",
                fmt=FORMAT_REWARD,
                ex=EXEC_REWARD,
                sql=sql,
            )
        if cut == "mismatch":
            return _breakdown(
                "mismatch",
                "result differs from gold: the prediction's result was truncated at the row cap, the gold's was not",
                fmt=FORMAT_REWARD,
                ex=EXEC_REWARD,
                res=-RESULT_REWARD,
                sql=sql,
            )
        if match is None:
            match = results_match(pred.rows, gold.rows, job.mode, order_matters=job.order_matters)
        if not match:
            return _breakdown(
                "mismatch",
                "result differs from gold",
                fmt=FORMAT_REWARD,
                ex=EXEC_REWARD,
                res=-RESULT_REWARD,
                sql=sql,
            )
        if pred_empty is None:
            pred_empty = not pred.rows
        if self.empty_result_guard and pred_empty and not gold.rows:
            return _breakdown(
                "empty_match",
                "both results empty (empty_result_guard)",
                fmt=FORMAT_REWARD,
                ex=EXEC_REWARD,
                sql=sql,
            )
        ext = job.extraction
        length = length_term(ext.think or "", ext.answer or "", sql or "")
        return _breakdown(
            "match",
            "result matches gold",
            fmt=FORMAT_REWARD,
            ex=EXEC_REWARD,
            res=RESULT_REWARD,
            length=length,
            sql=sql,
        )

    def execute(self, job: BaselineJob) -> tuple[ExecResult | None, ExecResult | None]:
        """Run a prepared job's queries in this process (gold through the per-process cache)."""
        if job.done is not None:
            return None, None
        pred = self.executor.execute(job.db_path, job.exec_pred)
        gold = self.executor.execute_cached(job.db_path, job.exec_gold) if pred.ok else None
        return pred, gold

    def __call__(
        self,
        solution_str: Any,
        ground_truth: Any,
        *,
        db_path: str | os.PathLike | None = None,
        prefilled_think: bool = False,
        **kw: Any,
    ) -> dict:
        try:
            job = self.prepare(solution_str, ground_truth, db_path=db_path, prefilled_think=prefilled_think)
            return self.score(job, *self.execute(job))
        except Exception as exc:  # never raise into a trainer
            logger.warning("SQL-R1 baseline failed unexpectedly: %r", exc, exc_info=True)
            return _breakdown("internal_error", f"internal error: {exc!r}", fmt=-FORMAT_REWARD)

    def __repr__(self) -> str:
        return (
            f"SQLR1Baseline(timeout={self.timeout}, empty_result_guard={self.empty_result_guard}, "
            f"compare_mode={self.compare_mode!r})"
        )


def _string_read(sql: str, db_path: str) -> list[str]:
    """Unknown double-quoted identifiers SQLite would read as strings (the schema comes from the db)."""
    if '"' not in sql:
        return []
    schema, _ = coerce_schema(None, db_path)
    if schema is None:
        return []
    try:
        return string_read_identifiers(sql, schema)
    except Exception:  # analysis must not turn a gradable query into a crash
        return []


def _safe_bool(fn, sql: str) -> bool:
    try:
        return bool(fn(sql))
    except Exception:
        return "order by" in _WHITESPACE.sub(" ", sql).lower()
