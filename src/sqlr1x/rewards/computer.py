"""The reward computer: SQL-R1 baseline plus the schema, structural and syntax components.

``total = baseline_total + schema + structural + syntax``; with ``enable_enhanced=False`` the
components are 0 and ``total == baseline_total``.

Each completion is extracted and parsed once; the parse is shared by the three components. The
components score the extracted SQL whenever there is one (also when the strict SQL-R1 format check
failed and the SQL came from the extractor's fallbacks), so a seed-style call with a bare SQL
string still gets its dense signal; the baseline's -1 for a format failure dominates anyway.

Ordering guarantees (docs/rewards.md, checked by ``sqlr1x reward audit``):

* SQL that SQLite does not parse (the syntax component is 0) gets no structural and no schema
  term either, so broken SQL scores exactly what no answer scores (-1).
* The schema term is :func:`bounded_schema_penalty`: ``SchemaAwareReward``'s ``weight × n``,
  softly bounded by ``SCHEMA_PENALTY_SHARE`` (3/4) of the syntax + structural score of the same
  SQL. A parseable attempt therefore keeps a positive share of its dense terms, however many names
  it invents, and stays above broken SQL and no answer (R5); each further unknown name still costs.
* A sample whose baseline status is in :data:`~sqlr1x.rewards.baseline.INVALID_STATUSES`
  (missing database, no gold, failing or timed-out gold, result cut at the row cap) is not the
  policy's fault: ``invalid`` names the status, every term is 0, and a WARNING naming the database
  path is logged once per database and status. TRL gets ``None`` for it, verl a flagged 0.

Never raises: ``None``, bytes, non-UTF-8, megabyte strings, unusable schemas or ground truths
all give a defined reward and a ``reason`` (logged on ``logging.getLogger("sqlr1x.rewards")``).
An input without usable SQL gets the baseline's format-failure value (-1) and components 0; a
schema that cannot be used gives ``schema = 0``; a ``baseline_reward_fn`` that raises gives
``baseline_total = -1``.

Example::

    >>> computer = EnhancedRewardComputer(baseline_reward_fn=lambda solution_str, ground_truth: 1.0)
    >>> r = computer.compute_reward("SELECT name FROM customers", "SELECT name FROM employees",
    ...     schema={'tables': {'employees': {'columns': ['id', 'name', 'salary', 'department']}}})
    >>> r.baseline_total, r.syntax, r.hallucinations, round(r.schema, 3)   # bounded: -0.5 raw
    (1.0, 0.2, [Hallucination(kind='table', name='customers')], -0.214)
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlr1x.db.executor import MatchOutcome, MatchTask, PendingMatches, SQLiteExecutor
from sqlr1x.rewards._common import as_text, coerce_schema, parse_ground_truth, resolve_db_path
from sqlr1x.rewards.baseline import FORMAT_REWARD, INVALID_STATUSES, BaselineJob, SQLR1Baseline
from sqlr1x.rewards.schema_aware import SchemaAwareReward, distinct_hallucinations
from sqlr1x.rewards.structural import StructuralDiff, StructuralReward
from sqlr1x.rewards.syntax import EnhancedSyntaxReward, SyntaxCheck, check_syntax
from sqlr1x.sql.analysis import Hallucination, parse_sql
from sqlr1x.sql.extract import extract_answer

logger = logging.getLogger("sqlr1x.rewards")

# Longer SQL is still executed by the baseline but not analysed (sqlglot on megabytes takes seconds).
MAX_ANALYSED_SQL_CHARS = 100_000

# The schema penalty of a completion takes at most this share of what its SQL earned from the
# syntax and structural components, so a parseable attempt always stays above broken SQL (R5).
SCHEMA_PENALTY_SHARE = 0.75

_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()


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


def _warn_once(key: str, message: str, *args: Any) -> None:
    with _WARNED_LOCK:
        if key in _WARNED:
            return
        _WARNED.add(key)
    logger.warning(message, *args)


@dataclass
class RewardResult:
    """One completion's reward: the total, its terms, and what they were computed from."""

    total: float
    baseline_total: float
    schema: float = 0.0
    structural: float = 0.0
    syntax: float = 0.0
    baseline: dict = field(default_factory=dict)
    hallucinations: list[Hallucination] = field(default_factory=list)
    sql: str | None = None
    reason: str = ""
    syntax_valid: bool = False
    structural_diff: StructuralDiff | None = None
    syntax_check: SyntaxCheck | None = None
    invalid: str = ""  # why this sample is no reward (not the policy's fault); "" when it is one

    @property
    def valid(self) -> bool:
        """False for a sample that must not train the policy (missing db, failing gold, row cap)."""
        return not self.invalid

    @property
    def components(self) -> dict[str, float]:
        return {"schema": self.schema, "structural": self.structural, "syntax": self.syntax}

    @property
    def format_ok(self) -> bool:
        return self.baseline.get("format", 0.0) > 0

    @property
    def executable(self) -> bool:
        return self.baseline.get("status") in ("match", "mismatch", "empty_match")

    @property
    def correct(self) -> bool:
        return self.baseline.get("status") == "match"

    def to_dict(self) -> dict:
        """JSON-friendly view (hallucinations as ``[kind, name]`` pairs, diff as lists)."""
        d = {
            "total": self.total,
            "baseline_total": self.baseline_total,
            "schema": self.schema,
            "structural": self.structural,
            "syntax": self.syntax,
            "baseline": dict(self.baseline),
            "hallucinations": [list(h) for h in self.hallucinations],
            "sql": self.sql,
            "reason": self.reason,
            "syntax_valid": self.syntax_valid,
            "invalid": self.invalid,
        }
        if self.structural_diff is not None:
            d["structural_diff"] = {
                c.clause: {k: sorted(v) if isinstance(v, frozenset) else v for k, v in asdict(c).items()}
                for c in self.structural_diff.clauses
            }
        return d


@dataclass
class _Item:
    """A batch entry after input hygiene."""

    text: str
    ground_truth: Any
    schema: Any
    db_path: str | None
    prefilled_think: bool
    extra: dict
    reasons: list[str]


def _accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind is p.VAR_KEYWORD or p.name == name for p in params)


class EnhancedRewardComputer:
    """Combine a baseline reward with the three dense components (seed API, plus batch scoring).

    ``baseline_reward_fn`` is any ``(solution_str, ground_truth, **kw) -> float | dict`` (a dict
    must hold ``"score"``); ``None`` means :class:`~sqlr1x.rewards.baseline.SQLR1Baseline` built
    from ``timeout``, ``empty_result_guard``, ``db_root`` and ``compare_mode`` (``"spider"`` or
    ``"bird"``). With an ``SQLR1Baseline`` the batch method executes all queries of a batch in
    parallel processes, each distinct query once.
    """

    def __init__(
        self,
        baseline_reward_fn: Callable[..., float | dict] | None = None,
        enable_enhanced: bool = True,
        schema_weight: float = -0.5,
        structural_select_weight: float = 0.3,
        structural_where_weight: float = 0.3,
        structural_join_weight: float = 0.2,
        syntax_weight: float = 0.2,
        *,
        db_root: str | os.PathLike | None = None,
        timeout: float = 30.0,
        empty_result_guard: bool = False,
        executor: SQLiteExecutor | None = None,
        workers: int | None = None,
        prefilled_think: bool = False,
        compare_mode: str = "spider",
    ) -> None:
        if baseline_reward_fn is None:
            baseline_reward_fn = SQLR1Baseline(
                timeout=timeout,
                empty_result_guard=empty_result_guard,
                executor=executor,
                db_root=db_root,
                compare_mode=compare_mode,
            )
        self.baseline_reward_fn = baseline_reward_fn
        self.enable_enhanced = bool(enable_enhanced)
        self.schema_reward = SchemaAwareReward(weight=schema_weight)
        self.structural_reward = StructuralReward(
            select_weight=structural_select_weight,
            where_weight=structural_where_weight,
            join_weight=structural_join_weight,
        )
        self.syntax_reward = EnhancedSyntaxReward(weight=syntax_weight)
        self.db_root = db_root if db_root is not None else getattr(baseline_reward_fn, "db_root", None)
        self.workers = workers
        self.prefilled_think = bool(prefilled_think)

    # -- public API -------------------------------------------------------------------------------------
    def compute_reward(
        self, solution_str: Any, ground_truth: Any, schema: Any = None, **kw: Any
    ) -> RewardResult:
        """Score one completion. ``kw``: ``db_path``, ``prefilled_think``; others go to a custom baseline."""
        item = {"solution_str": solution_str, "ground_truth": ground_truth, "schema": schema, **kw}
        return self.compute_rewards([item])[0]

    def compute_rewards(self, items: Iterable[Mapping[str, Any]]) -> list[RewardResult]:
        """Score a batch of ``{"solution_str", "ground_truth", "schema"?, "db_path"?, "prefilled_think"?}``.

        With the SQL-R1 baseline, the queries of the batch run in parallel processes when there are
        enough (each distinct gold once, through the executor's cache, and each distinct prediction
        once per gold; results are compared where they were computed), while this process computes
        the enhanced components.
        """
        prepared = [self._normalise(item) for item in items]
        if isinstance(self.baseline_reward_fn, SQLR1Baseline):
            return self._batch(prepared)
        baselines = [self._custom_baseline(it) for it in prepared]
        return [self._finish(it, b) for it, b in zip(prepared, baselines, strict=True)]

    # -- internals ----------------------------------------------------------------------------------
    def _normalise(self, item: Any) -> _Item:
        if not isinstance(item, Mapping):
            item = {"solution_str": item, "ground_truth": None}
        text, reason = as_text(item.get("solution_str"))
        extra = {
            k: v
            for k, v in item.items()
            if k not in ("solution_str", "ground_truth", "schema", "db_path", "prefilled_think")
        }
        db_path = item.get("db_path")
        db_path = (
            os.fspath(db_path) if isinstance(db_path, (str, os.PathLike)) and os.fspath(db_path) else None
        )
        prefilled = item.get("prefilled_think")
        return _Item(
            text=text,
            ground_truth=item.get("ground_truth"),
            schema=item.get("schema"),
            db_path=db_path,
            prefilled_think=self.prefilled_think if prefilled is None else bool(prefilled),
            extra=extra,
            reasons=[reason] if reason else [],
        )

    def _custom_baseline(self, item: _Item) -> dict:
        fn = self.baseline_reward_fn
        kw = dict(item.extra)
        if item.db_path is not None:
            kw["db_path"] = item.db_path
        if item.prefilled_think:
            kw["prefilled_think"] = True
        kw = {k: v for k, v in kw.items() if _accepts(fn, k)}
        try:
            value = fn(item.text, item.ground_truth, **kw)
            if isinstance(value, Mapping):
                out = dict(value)
                out["score"] = float(out["score"])
            else:
                out = {"score": float(value)}
            if not math.isfinite(out["score"]):
                raise ValueError(f"non-finite baseline reward {out['score']!r}")
            return out
        except Exception as exc:
            logger.warning("baseline_reward_fn failed (%r); using the format-failure reward -1", exc)
            return {
                "score": -FORMAT_REWARD,
                "status": "baseline_error",
                "reason": f"baseline_reward_fn failed: {exc!r}",
            }

    def _batch(self, items: list[_Item]) -> list[RewardResult]:
        baseline: SQLR1Baseline = self.baseline_reward_fn  # type: ignore[assignment]
        jobs: list[BaselineJob | None] = []
        for it in items:
            try:
                jobs.append(
                    baseline.prepare(
                        it.text, it.ground_truth, db_path=it.db_path, prefilled_think=it.prefilled_think
                    )
                )
            except Exception as exc:
                logger.warning("SQL-R1 baseline could not prepare a sample: %r", exc, exc_info=True)
                jobs.append(None)
        try:
            tasks, where = self._plan(jobs)
        except Exception as exc:  # never raise into a trainer
            logger.warning("could not plan the batch execution: %r", exc, exc_info=True)
            tasks, where = [], ["unplanned" if j is not None and j.needs_execution else None for j in jobs]
        pending = None
        try:
            pending = baseline.executor.submit_matches(tasks, workers=self.workers)
        except Exception as exc:
            logger.warning("batch execution failed to start (%r); executing sequentially", exc)
        # The enhanced components run here while the workers execute the queries.
        analysed = [
            self._analyse(it, job.pred_sql if job is not None else None)
            for it, job in zip(items, jobs, strict=True)
        ]
        outcomes = self._outcomes(baseline.executor, pending, tasks)
        out = []
        for it, job, w, an in zip(items, jobs, where, analysed, strict=True):
            if job is None:
                b = self._internal_error("could not prepare the sample")
            else:
                try:
                    b = self._score(baseline, job, outcomes, w)
                except Exception as exc:
                    logger.warning("SQL-R1 baseline scoring failed: %r", exc, exc_info=True)
                    b = self._internal_error(repr(exc))
            out.append(self._finish(it, b, an))
        return out

    @staticmethod
    def _plan(jobs: list[BaselineJob | None]) -> tuple[list[MatchTask], list[tuple | None]]:
        """Executor tasks for the jobs, and per job where its outcome will be.

        One task per (database, gold, order semantics) holds the distinct predictions compared with
        that gold, in batch order, so slow queries spread over the workers and the comparison runs
        where the rows are. A prediction that occurs under several golds, or equals another gold,
        runs once: as a task of its own (or as that gold), its rows come back and the comparisons
        happen here.
        ``where[i]``: None (nothing to run), ``(task, k)`` (k-th prediction of the task) or
        ``(task, source)`` with ``source`` the task whose gold slot holds the prediction's result.
        """
        GoldKey = tuple[str, str, bool, str]
        groups: dict[GoldKey, dict[str, None]] = {}
        for job in jobs:
            if job is not None and job.needs_execution:
                gkey = (job.db_path, job.exec_gold, job.order_matters, job.mode)
                groups.setdefault(gkey, {})[job.exec_pred] = None
        seen: dict[tuple[str, str], int] = {}
        gold_of: dict[tuple[str, str], GoldKey] = {}
        for gkey, preds in groups.items():
            gold_of.setdefault(gkey[:2], gkey)
            for pred in preds:
                if pred != gkey[1]:
                    seen[(gkey[0], pred)] = seen.get((gkey[0], pred), 0) + 1
        shared = {key for key, n in seen.items() if n > 1 or key in gold_of}
        required = {gold_of[key] for key in shared if key in gold_of}
        # Tasks in order of first appearance in the batch (slow queries stay spread out).
        tasks: list[MatchTask] = []
        task_of: dict[GoldKey, int] = {}
        local: dict[GoldKey, dict[str, int]] = {}
        source: dict[tuple[str, str], int] = {}

        def group_task(gkey: GoldKey) -> int:
            if gkey not in task_of:
                preds = groups[gkey]
                mine = [p for p in preds if p == gkey[1] or (gkey[0], p) not in shared]
                local[gkey] = {p: k for k, p in enumerate(mine)}
                needs_gold = gkey in required or len(mine) < len(preds)
                task_of[gkey] = len(tasks)
                tasks.append(
                    MatchTask(gkey[0], gkey[1], tuple(mine), gkey[2], mode=gkey[3], gold_required=needs_gold)
                )
            return task_of[gkey]

        where: list[tuple | None] = []
        for job in jobs:
            if job is None or not job.needs_execution:
                where.append(None)
                continue
            gkey = (job.db_path, job.exec_gold, job.order_matters, job.mode)
            n = group_task(gkey)
            k = local[gkey].get(job.exec_pred)
            if k is None:  # a shared prediction: its result is in the gold slot of task k[1]
                pkey = (job.db_path, job.exec_pred)
                if pkey not in source:
                    if pkey in gold_of:
                        source[pkey] = group_task(gold_of[pkey])
                    else:
                        source[pkey] = len(tasks)
                        tasks.append(MatchTask(pkey[0], pkey[1], gold_required=True, cache=False))
                k = ("source", source[pkey])
            where.append((n, k))
        return tasks, where

    @staticmethod
    def _outcomes(
        executor: SQLiteExecutor, pending: PendingMatches | None, tasks: list[MatchTask]
    ) -> list[MatchOutcome]:
        if pending is not None:
            try:
                return pending.result()
            except Exception as exc:  # a broken pool must not take the trainer down
                logger.warning("batch execution failed (%r); falling back to sequential execution", exc)
        return [executor.run_match(task) for task in tasks]

    @staticmethod
    def _score(
        baseline: SQLR1Baseline, job: BaselineJob, outcomes: list[MatchOutcome], w: tuple | str | None
    ) -> dict:
        if w is None:
            return baseline.score(job, None, None)
        if w == "unplanned":
            raise RuntimeError("the batch execution could not be planned")
        outcome, k = outcomes[w[0]], w[1]
        if isinstance(k, tuple):  # a prediction shared by several golds: compare its rows here
            return baseline.score(job, outcomes[k[1]].gold, outcome.gold)
        if outcome.errors[k] is not None:
            raise RuntimeError(f"result comparison failed: {outcome.errors[k]}")
        return baseline.score(
            job, outcome.preds[k], outcome.gold, match=outcome.matches[k], pred_empty=outcome.pred_empty[k]
        )

    @staticmethod
    def _internal_error(reason: str) -> dict:
        return {
            "score": -FORMAT_REWARD,
            "format": -FORMAT_REWARD,
            "exec": 0.0,
            "result": 0.0,
            "length": 0.0,
            "status": "internal_error",
            "reason": f"internal error: {reason}",
            "sql": None,
            "pred_error": None,
            "gold_error": None,
        }

    def _analyse(self, item: _Item, sql: str | None) -> tuple[RewardResult, list[str]]:
        """The enhanced components of ``sql`` (extracted from the text when None) and their reasons."""
        if sql is None:
            sql = extract_answer(item.text, prefilled_think=item.prefilled_think).sql
        sql = sql.strip() if isinstance(sql, str) and sql.strip() else None
        result = RewardResult(total=0.0, baseline_total=0.0, sql=sql)
        reasons: list[str] = []
        if self.enable_enhanced:
            try:
                self._components(result, item, reasons)
            except Exception as exc:
                logger.warning("enhanced components failed: %r", exc, exc_info=True)
                reasons.append(f"components failed: {exc!r}")
                result.schema = result.structural = result.syntax = 0.0
        return result, reasons

    def _finish(
        self, item: _Item, baseline: dict, analysed: tuple[RewardResult, list[str]] | None = None
    ) -> RewardResult:
        if analysed is None:
            analysed = self._analyse(item, baseline.get("sql"))
        result, component_reasons = analysed
        reasons = list(item.reasons)
        result.baseline_total = float(baseline.get("score", -FORMAT_REWARD))
        result.baseline = baseline
        if baseline.get("reason") and baseline.get("status") not in ("match",):
            reasons.append(str(baseline["reason"]))
        reasons += component_reasons
        status = baseline.get("status")
        if status in INVALID_STATUSES:
            # Not the policy's fault: no reward at all, and a WARNING per database naming the path.
            result.invalid = status
            result.total = result.baseline_total = 0.0
            result.schema = result.structural = result.syntax = 0.0
            path = resolve_db_path(item.db_path, parse_ground_truth(item.ground_truth), self.db_root)
            _warn_once(
                f"{status}:{path}",
                "sample skipped, no reward (%s) for database %s: %s",
                status,
                path or "<none>",
                baseline.get("reason", ""),
            )
        result.total = result.baseline_total + result.schema + result.structural + result.syntax
        result.reason = "; ".join(dict.fromkeys(r for r in reasons if r))
        if result.reason:
            logger.debug("reward %.3f: %s", result.total, result.reason)
        return result

    def _components(self, result: RewardResult, item: _Item, reasons: list[str]) -> None:
        truth = parse_ground_truth(item.ground_truth)
        db_path = resolve_db_path(item.db_path, truth, self.db_root)
        schema, why = coerce_schema(item.schema, db_path) if result.sql is not None else (None, "")
        self._score_sql(result, truth.sql, schema, reasons)
        if result.sql is not None and schema is None:
            reasons.append(f"schema reward skipped: {why}")

    def analyse_sql(self, sql: str | None, gold_sql: str | None, schema: Any = None) -> RewardResult:
        """The dense terms of one SQL (no execution: ``baseline_total`` is 0), as the reward scores them.

        ``sqlr1x eval`` uses this too, so training and evaluation agree on the syntax check, the
        structural score (with the schema) and the hallucinations. ``schema``: anything
        :func:`~sqlr1x.rewards._common.coerce_schema` accepts, or None (no schema term).
        """
        sql = sql.strip() if isinstance(sql, str) and sql.strip() else None
        result = RewardResult(total=0.0, baseline_total=0.0, sql=sql)
        reasons: list[str] = []
        schema_obj, why = coerce_schema(schema) if schema is not None else (None, "no schema")
        if schema is not None and schema_obj is None:
            reasons.append(f"schema reward skipped: {why}")
        self._score_sql(result, gold_sql, schema_obj, reasons)
        result.total = result.schema + result.structural + result.syntax
        result.reason = "; ".join(dict.fromkeys(r for r in reasons if r))
        return result

    def _score_sql(self, result: RewardResult, gold_sql: str | None, schema: Any, reasons: list[str]) -> None:
        sql = result.sql
        if sql is None:
            reasons.append("no SQL to analyse")
            return
        if len(sql) > MAX_ANALYSED_SQL_CHARS:
            reasons.append(f"SQL longer than {MAX_ANALYSED_SQL_CHARS} characters is not analysed")
            return
        parsed = parse_sql(sql)
        check = check_syntax(parsed)
        result.syntax_check = check
        result.syntax_valid = check.valid
        result.syntax = self.syntax_reward.weight if check.valid else 0.0
        if schema is not None:
            result.hallucinations = distinct_hallucinations(parsed, schema)
        if not check.valid:
            # Broken SQL earns nothing from structure or the schema, even where sqlglot (laxer than
            # SQLite) parses it: otherwise a broken query could outscore an honest one (R5).
            reasons.append("invalid syntax: no structural or schema term")
            return
        if gold_sql is not None and len(gold_sql) <= MAX_ANALYSED_SQL_CHARS:
            # The schema (when there is one) qualifies unqualified columns of multi-table queries.
            diff = self.structural_reward.diff(parsed, parse_sql(gold_sql), schema=schema)
            result.structural_diff = diff
            result.structural = diff.score
        else:
            reasons.append("no gold SQL for the structural reward")
        result.schema = bounded_schema_penalty(
            self.schema_reward.weight, len(result.hallucinations), result.syntax + result.structural
        )

    def __repr__(self) -> str:
        return (
            f"EnhancedRewardComputer(baseline_reward_fn={self.baseline_reward_fn!r}, "
            f"enable_enhanced={self.enable_enhanced}, schema={self.schema_reward!r}, "
            f"structural={self.structural_reward!r}, syntax={self.syntax_reward!r})"
        )
