"""The reward computer: SQL-R1 baseline plus the dense components of :mod:`sqlr1x.rewards.registry`.

``total = baseline_total + schema + structural + syntax`` (one term per registered component);
with ``enable_enhanced=False`` the components are 0 and ``total == baseline_total``. Build it from
a :class:`~sqlr1x.rewards.config.RewardConfig` (or its YAML section, or verl's options) with
:meth:`EnhancedRewardComputer.from_config`; the seed's keywords work too.

Each completion is extracted and parsed once; the parse is shared by the three components. The
components score the extracted SQL whenever there is one (also when the strict SQL-R1 format check
failed and the SQL came from the extractor's fallbacks), so a seed-style call with a bare SQL
string still gets its dense signal; the baseline's -1 for a format failure dominates anyway.

Ordering guarantees (docs/rewards.md, checked by ``sqlr1x reward audit``):

* SQL that SQLite does not parse (the syntax component is 0) gets no structural and no schema
  term either, so broken SQL scores exactly what no answer scores (-1).
* The schema term is :func:`~sqlr1x.rewards.schema_aware.bounded_schema_penalty`:
  ``SchemaAwareReward``'s ``weight × n``, softly bounded by ``SCHEMA_PENALTY_SHARE`` (3/4) of the syntax + structural score of the same
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
    (1.0, 0.2, [Hallucination(kind='table', name='customers')], -0.263)
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sqlr1x.db.executor import MatchOutcome, MatchTask, PendingMatches, SQLiteExecutor
from sqlr1x.rewards import registry
from sqlr1x.rewards._common import as_text, coerce_schema, parse_ground_truth, resolve_db_path
from sqlr1x.rewards.baseline import FORMAT_REWARD, INVALID_STATUSES, BaselineJob, SQLR1Baseline
from sqlr1x.rewards.config import REWARD_DEFAULTS, RewardConfig
from sqlr1x.rewards.exec_only import baseline_from_config
from sqlr1x.rewards.registry import SQLAnalysis
from sqlr1x.rewards.schema_aware import (  # noqa: F401  (re-exported: tests and docs import it from here)
    SCHEMA_PENALTY_SHARE,
    bounded_schema_penalty,
    distinct_hallucinations,
)
from sqlr1x.rewards.structural import StructuralDiff
from sqlr1x.rewards.syntax import SyntaxCheck, check_syntax
from sqlr1x.sql.analysis import Hallucination, parse_sql
from sqlr1x.sql.extract import extract_answer

logger = logging.getLogger("sqlr1x.rewards")

# Longer SQL is still executed by the baseline but not analysed (sqlglot on megabytes takes seconds).
MAX_ANALYSED_SQL_CHARS = 100_000

_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()


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
    # terms of components registered after the seed's three (those have fields of their own)
    other_terms: dict[str, float] = field(default_factory=dict)

    def __getattr__(self, name: str) -> float:
        # only reached for names that are not attributes: a later component's term, by its name
        if name in registry.names():
            return self.__dict__.get("other_terms", {}).get(name, 0.0)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def set_term(self, name: str, value: float) -> None:
        """Set the term of the registered component ``name`` (``result.<name>`` reads it)."""
        if name in _RESULT_FIELDS:
            setattr(self, name, value)
        else:
            self.other_terms[name] = value

    @property
    def valid(self) -> bool:
        """False for a sample that must not train the policy (missing db, failing gold, row cap)."""
        return not self.invalid

    @property
    def components(self) -> dict[str, float]:
        """The term of every registered component, in registry order."""
        return {name: getattr(self, name) for name in registry.names()}

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
            **self.components,
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


_RESULT_FIELDS = frozenset(f.name for f in fields(RewardResult))


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
    """Combine a baseline reward with the dense components (seed API, plus batch scoring).

    The defaults of every keyword are :class:`~sqlr1x.rewards.config.RewardConfig`'s; prefer
    :meth:`from_config` outside the seed API. With an ``SQLR1Baseline`` the batch method executes
    all queries of a batch in parallel processes, each distinct query once.

    Args:
        baseline_reward_fn: any ``(solution_str, ground_truth, **kw) -> float | dict`` (a dict
            must hold ``"score"``); ``None``: :class:`~sqlr1x.rewards.baseline.SQLR1Baseline` built
            from ``timeout``, ``empty_result_guard``, ``executor``, ``db_root`` and ``compare_mode``.
        enable_enhanced: add the dense components; ``False`` makes ``total == baseline_total``.
        schema_weight: ``SchemaAwareReward``'s weight per hallucinated element (a penalty, < 0).
        structural_select_weight: ``StructuralReward``'s SELECT-side weight.
        structural_where_weight: ``StructuralReward``'s WHERE/GROUP BY/HAVING weight.
        structural_join_weight: ``StructuralReward``'s FROM/JOIN weight.
        syntax_weight: ``EnhancedSyntaxReward``'s weight.
        db_root: folder of ``<db_id>/<db_id>.sqlite`` for ground truths naming only a ``db_id``.
        timeout: seconds per SQL execution (``RewardConfig.exec_timeout``).
        empty_result_guard: no result credit when gold and prediction are both empty.
        executor: the :class:`~sqlr1x.db.executor.SQLiteExecutor` for the default baseline.
        workers: processes executing a batch's SQL (None: one per CPU; 1: in-process).
        prefilled_think: for samples that do not say: ``True`` when prompts end with ``<think>``;
            ``"auto"`` (default) and ``False``: they do not.
        compare_mode: ``"spider"``, ``"bird"`` or ``"ordered"`` result comparison.
        **weights: weights of components registered after the seed's three (their
            ``RewardConfig`` keys, see :mod:`sqlr1x.rewards.registry`).
    """

    def __init__(
        self,
        baseline_reward_fn: Callable[..., float | dict] | None = None,
        enable_enhanced: bool = REWARD_DEFAULTS.enable_enhanced,
        schema_weight: float = REWARD_DEFAULTS.schema_weight,
        structural_select_weight: float = REWARD_DEFAULTS.structural_select_weight,
        structural_where_weight: float = REWARD_DEFAULTS.structural_where_weight,
        structural_join_weight: float = REWARD_DEFAULTS.structural_join_weight,
        syntax_weight: float = REWARD_DEFAULTS.syntax_weight,
        *,
        db_root: str | os.PathLike | None = REWARD_DEFAULTS.db_root,
        timeout: float = REWARD_DEFAULTS.exec_timeout,
        empty_result_guard: bool = REWARD_DEFAULTS.empty_result_guard,
        executor: SQLiteExecutor | None = None,
        workers: int | None = REWARD_DEFAULTS.workers,
        prefilled_think: bool | str = REWARD_DEFAULTS.prefilled_think,
        compare_mode: str = REWARD_DEFAULTS.compare_mode,
        **weights: float,
    ) -> None:
        unknown = sorted(set(weights) - set(registry.weight_keys()))
        if unknown:
            raise TypeError(
                f"EnhancedRewardComputer() got unexpected keyword argument(s) {unknown}; "
                f"component weights are {list(registry.weight_keys())}"
            )
        weights.update(
            schema_weight=schema_weight,
            structural_select_weight=structural_select_weight,
            structural_where_weight=structural_where_weight,
            structural_join_weight=structural_join_weight,
            syntax_weight=syntax_weight,
        )
        # Validated once, so a bad value fails here naming its key rather than inside a trainer.
        self.config = RewardConfig(
            enable_enhanced=enable_enhanced,
            exec_timeout=timeout,
            empty_result_guard=empty_result_guard,
            workers=workers,
            db_root=None if db_root is None else os.fspath(db_root),
            prefilled_think=prefilled_think,
            compare_mode=compare_mode,
            **weights,
        )
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
        # One configured reward per registered component, also as `<name>_reward` (the seed's
        # `schema_reward`, `structural_reward`, `syntax_reward`).
        self.components = registry.COMPONENTS
        self.rewards: dict[str, Any] = {c.name: c.build(self.config) for c in self.components}
        for name, reward in self.rewards.items():
            setattr(self, f"{name}_reward", reward)
        self.db_root = db_root if db_root is not None else getattr(baseline_reward_fn, "db_root", None)
        self.workers = workers
        self.prefilled_think = self.config.prefilled_think is True

    @classmethod
    def from_config(
        cls,
        config: Any = None,
        /,
        *,
        baseline_reward_fn: Callable[..., float | dict] | None = None,
        executor: SQLiteExecutor | None = None,
        **overrides: Any,
    ) -> EnhancedRewardComputer:
        """The computer a reward configuration describes: what TRL, verl, the CLI and eval build.

        Args:
            config: a :class:`~sqlr1x.rewards.config.RewardConfig` (``TrainConfig.reward``), a
                mapping of its keys (a YAML ``reward:`` section, verl's ``reward_kwargs``), an
                object with some of its fields, or ``None`` for the defaults. ``None`` values
                mean "the default"; an unknown key of a mapping raises ``ValueError``.
            baseline_reward_fn: a custom baseline instead of the SQL-R1 one.
            executor: the SQL executor of the SQL-R1 baseline (tests, benchmarks).
            **overrides: ``RewardConfig`` fields that win over ``config``'s.

        >>> computer = EnhancedRewardComputer.from_config({"syntax_weight": 0.4}, exec_timeout=5)
        >>> computer.syntax_reward.weight, computer.baseline_reward_fn.timeout
        (0.4, 5.0)
        """
        cfg = RewardConfig.coerce(config, **overrides)
        if baseline_reward_fn is None and cfg.baseline != "sqlr1":  # an execution-only ablation arm
            baseline_reward_fn = baseline_from_config(
                cfg.baseline, timeout=cfg.exec_timeout, db_root=cfg.db_root
            )
        return cls(
            baseline_reward_fn,
            cfg.enable_enhanced,
            db_root=cfg.db_root,
            timeout=cfg.exec_timeout,
            empty_result_guard=cfg.empty_result_guard,
            executor=executor,
            workers=cfg.workers,
            prefilled_think=cfg.prefilled_think,
            compare_mode=cfg.compare_mode,
            **{key: getattr(cfg, key) for key in registry.weight_keys()},
        )

    # -- public API -------------------------------------------------------------------------------------
    def compute_reward(
        self, solution_str: Any, ground_truth: Any, schema: Any = None, **kw: Any
    ) -> RewardResult:
        """Score one completion (the seed's call).

        Args:
            solution_str: the model output (``<think>…</think><answer>```sql …```</answer>``), or
                prompt + output; anything else gets a defined reward too.
            ground_truth: the gold SQL, or ``{"sql", "db_id"?, "db_path"?}``.
            schema: for the schema term: the seed dict, a Spider ``tables.json`` entry, a SQLite
                path or a ``Schema``; ``None``: read from the database when there is one.
            **kw: ``db_path``, ``prefilled_think``; others go to a custom ``baseline_reward_fn``.
        """
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
        # 1. Prepare: extract each completion's SQL and decide what must run (a failed format
        #    check, a missing database or gold decide the baseline without executing anything).
        #    A sample that cannot be prepared becomes an internal error, never an exception.
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
        # 2. Plan: one executor task per gold with its distinct predictions (see _plan), so each
        #    distinct query of the batch runs once; where[i] says where sample i's outcome will be.
        try:
            tasks, where = self._plan(jobs)
        except Exception as exc:  # never raise into a trainer
            logger.warning("could not plan the batch execution: %r", exc, exc_info=True)
            tasks, where = [], ["unplanned" if j is not None and j.needs_execution else None for j in jobs]
        # 3. Submit: the executor starts the tasks in worker processes (in-process for small
        #    batches or workers=1) and hands back a PendingMatches without waiting for them.
        pending = None
        try:
            pending = baseline.executor.submit_matches(tasks, workers=self.workers)
        except Exception as exc:
            logger.warning("batch execution failed to start (%r); executing sequentially", exc)
        # 4. Analyse: the enhanced components run here while the workers execute the queries.
        analysed = [
            self._analyse(it, job.pred_sql if job is not None else None)
            for it, job in zip(items, jobs, strict=True)
        ]
        # 5. Collect: wait for the outcomes (running what no worker started), then score each
        #    sample from the place the plan gave it, and add the components.
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
        # Step 1: group the predictions by what they are compared with: (database, gold SQL,
        # whether row order matters, compare mode) -> its distinct predictions, in batch order.
        groups: dict[GoldKey, dict[str, None]] = {}
        for job in jobs:
            if job is not None and job.needs_execution:
                gkey = (job.db_path, job.exec_gold, job.order_matters, job.mode)
                groups.setdefault(gkey, {})[job.exec_pred] = None
        # Step 2: find the shared predictions: on one database, a prediction listed under several
        # golds, or one that is itself a gold there. Each must still run once, so it leaves its
        # groups; its rows come back and the comparisons happen here instead.
        seen: dict[tuple[str, str], int] = {}
        gold_of: dict[tuple[str, str], GoldKey] = {}
        for gkey, preds in groups.items():
            gold_of.setdefault(gkey[:2], gkey)
            for pred in preds:
                if pred != gkey[1]:
                    seen[(gkey[0], pred)] = seen.get((gkey[0], pred), 0) + 1
        shared = {key for key, n in seen.items() if n > 1 or key in gold_of}
        # golds whose rows must come back: a shared prediction equal to them reads its rows there
        required = {gold_of[key] for key in shared if key in gold_of}
        # Step 3: the tasks, built when a group is first met in the batch (slow queries stay spread
        # out). A task holds its group's own predictions (compared in the worker) and asks for the
        # gold's rows only when a comparison happens here (required, or shared predictions left).
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

        # Step 4: where each job's outcome will be: (task, k) for the k-th prediction of its group,
        # or (task, ("source", m)) for a shared prediction whose rows are the gold slot of task m:
        # the task of the gold it equals, or a task of its own (cache=False: a prediction must not
        # enter the gold cache).
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
                        tasks.append(
                            MatchTask(
                                pkey[0], pkey[1], gold_required=True, cache=False, gold_is_prediction=True
                            )
                        )
                k = ("source", source[pkey])
            where.append((n, k))
        return tasks, where

    @staticmethod
    def _outcomes(
        executor: SQLiteExecutor, pending: PendingMatches | None, tasks: list[MatchTask]
    ) -> list[MatchOutcome]:
        """The outcomes of ``tasks`` in task order, from ``pending`` or, when the pool failed, run here."""
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
        """The baseline breakdown of ``job`` from the outcome the plan placed at ``w``."""
        if w is None:  # nothing ran: format failure, missing database or gold
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
                for name in registry.names():
                    result.set_term(name, 0.0)
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
            for name in registry.names():
                result.set_term(name, 0.0)
            path = resolve_db_path(item.db_path, parse_ground_truth(item.ground_truth), self.db_root)
            _warn_once(
                f"{status}:{path}",
                "sample skipped, no reward (%s) for database %s: %s",
                status,
                path or "<none>",
                baseline.get("reason", ""),
            )
        total = result.baseline_total
        for term in result.components.values():
            total += term
        result.total = total
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
        result.total = 0.0
        for term in result.components.values():
            result.total += term
        result.reason = "; ".join(dict.fromkeys(r for r in reasons if r))
        return result

    def _score_sql(self, result: RewardResult, gold_sql: str | None, schema: Any, reasons: list[str]) -> None:
        """Fill ``result``'s analysis and component terms for ``result.sql`` (no execution)."""
        sql = result.sql
        if sql is None:
            reasons.append("no SQL to analyse")
            return
        if len(sql) > MAX_ANALYSED_SQL_CHARS:
            reasons.append(f"SQL longer than {MAX_ANALYSED_SQL_CHARS} characters is not analysed")
            return
        # 1. Parse once; every component reads this parse. The syntax check (sqlglot's AST and
        #    SQLite's own parser) is computed for every SQL: it gates all terms below.
        parsed = parse_sql(sql)
        check = check_syntax(parsed)
        result.syntax_check = check
        result.syntax_valid = check.valid
        analysis = SQLAnalysis(parsed, check, schema=schema)
        # 2. Hallucinations are reported for every SQL with a schema, broken or not (eval counts them).
        if schema is not None:
            result.hallucinations = analysis.hallucinations = distinct_hallucinations(parsed, schema)
        if not check.valid:
            # Broken SQL earns nothing from any component, even where sqlglot (laxer than SQLite)
            # parses it: otherwise a broken query could outscore an honest one (R5).
            reasons.append("invalid syntax: no structural or schema term")
            return
        if gold_sql is not None and len(gold_sql) <= MAX_ANALYSED_SQL_CHARS:
            analysis.gold = parse_sql(gold_sql)
        # 3. The components in registry order, penalties last: a penalty gets what the others
        #    earned for this SQL (the schema term is bounded by 3/4 of syntax + structural).
        earned = 0.0
        for component in sorted(self.components, key=lambda c: c.penalty):
            term = component.score(
                self.rewards[component.name], analysis, earned if component.penalty else 0.0
            )
            result.set_term(component.name, term.value)
            if component.detail_field is not None and term.detail is not None:
                setattr(result, component.detail_field, term.detail)
            if term.reason:
                reasons.append(term.reason)
            if not component.penalty:
                earned += term.value

    def __repr__(self) -> str:
        rewards = "".join(f", {name}={reward!r}" for name, reward in self.rewards.items())
        return (
            f"EnhancedRewardComputer(baseline_reward_fn={self.baseline_reward_fn!r}, "
            f"enable_enhanced={self.enable_enhanced}{rewards})"
        )
