"""TRL ``GRPOTrainer`` reward functions: one per reward term, sharing one computation per completion.

``make_reward_funcs(config)`` returns ``(funcs, weights)`` for
``GRPOTrainer(reward_funcs=funcs, args=GRPOConfig(reward_weights=weights, ...))``. The functions are
named ``sqlr1_baseline``, ``schema_hallucination``, ``structural`` and ``syntax``, so TRL logs
``rewards/<name>/mean`` for each. Every function returns the term *already multiplied by its own
configured weight* — exactly the term that :class:`~sqlr1x.rewards.computer.EnhancedRewardComputer`
adds to ``total`` — and every TRL weight is ``1.0``; so TRL's weighted sum equals
``EnhancedRewardComputer.total``. With ``enable_enhanced=False`` only ``sqlr1_baseline`` is returned.

The functions follow TRL's convention ``f(prompts, completions, **dataset_columns) -> list[float]``
for plain (``str``) and conversational (``[{"role": "assistant", "content": ...}]``) completions.
Dataset columns used: ``gold_sql`` and ``db_path`` (optional ``db_id``, ``schema``). Whichever
function TRL calls first scores the whole batch through ``compute_rewards`` (executions in
parallel, gold results cached); the others read the same results from a shared cache.

Prompts rendered in the SQL-R1 style end with a pre-filled ``<think>``; completions then start
inside the think block. ``prefilled_think="auto"`` (default) decides per sample from the prompt's
end, ``True``/``False`` force it.

Example::

    >>> funcs, weights = make_reward_funcs({"enable_enhanced": True})
    >>> [f.__name__ for f in funcs], weights
    (['sqlr1_baseline', 'schema_hallucination', 'structural', 'syntax'], [1.0, 1.0, 1.0, 1.0])
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from sqlr1x.rewards._common import LRU, as_text
from sqlr1x.rewards.computer import EnhancedRewardComputer, RewardResult
from sqlr1x.rewards.exec_only import baseline_from_config

logger = logging.getLogger("sqlr1x.rewards")

FUNC_NAMES = ("sqlr1_baseline", "schema_hallucination", "structural", "syntax")
_FIELDS = {
    "sqlr1_baseline": "baseline_total",
    "schema_hallucination": "schema",
    "structural": "structural",
    "syntax": "syntax",
}

_LAST_LOCK = threading.Lock()
_LAST_BATCH: list[RewardResult] = []


def last_batch_results() -> list[RewardResult]:
    """The :class:`RewardResult` of every completion of the most recently scored batch (any scorer)."""
    with _LAST_LOCK:
        return list(_LAST_BATCH)


def batch_stats(results: Sequence[RewardResult]) -> dict[str, float]:
    """Diagnostics of a batch: rates of format-ok, executable, correct, hallucinating and syntax-valid."""
    n = len(results)
    if not n:
        return {}
    return {
        "format_ok_rate": sum(r.format_ok for r in results) / n,
        "exec_rate": sum(r.executable for r in results) / n,
        "accuracy": sum(r.correct for r in results) / n,
        "hallucination_rate": sum(bool(r.hallucinations) for r in results) / n,
        "hallucinations_per_sample": sum(len(r.hallucinations) for r in results) / n,
        "syntax_valid_rate": sum(r.syntax_valid for r in results) / n,
        "reward_total_mean": sum(r.total for r in results) / n,
    }


def last_batch_stats() -> dict[str, float]:
    """:func:`batch_stats` of the last batch, for a training callback."""
    return batch_stats(last_batch_results())


def _option(config: Any, name: str, default: Any) -> Any:
    if config is None:
        return default
    if isinstance(config, Mapping):
        value = config.get(name, default)
    else:
        value = getattr(config, name, default)
    return default if value is None else value


def _column(kwargs: Mapping[str, Any], name: str, n: int) -> list[Any]:
    value = kwargs.get(name)
    if value is None:
        return [None] * n
    if isinstance(value, (str, bytes, os.PathLike, Mapping)):
        return [value] * n
    value = list(value)
    return value if len(value) == n else (value + [None] * n)[:n]


def _prompt_prefilled(prompt: Any) -> bool:
    if isinstance(prompt, (list, tuple)):
        if not prompt:
            return False
        last = prompt[-1]
        if not isinstance(last, Mapping) or last.get("role") != "assistant":
            return False
        prompt = last.get("content")
    text, _ = as_text(prompt)
    return text.rstrip().endswith("<think>")


class BatchScorer:
    """Scores completions once and serves every reward function of the batch from one cache."""

    def __init__(
        self,
        computer: EnhancedRewardComputer,
        *,
        prefilled_think: bool | Literal["auto"] = "auto",
        cache_size: int = 8192,
    ) -> None:
        self.computer = computer
        self.prefilled_think = prefilled_think
        self.cache: LRU[tuple, RewardResult] = LRU(maxsize=cache_size)
        self._last: dict[tuple, RewardResult] = {}

    def _items(self, prompts: Sequence[Any], completions: Sequence[Any], kwargs: Mapping[str, Any]):
        n = len(completions)
        prompts = list(prompts) if prompts is not None else [None] * n
        golds, dbs = _column(kwargs, "gold_sql", n), _column(kwargs, "db_path", n)
        db_ids, schemas = _column(kwargs, "db_id", n), _column(kwargs, "schema", n)
        keys, items = [], []
        for i in range(n):
            text, _ = as_text(completions[i])
            if self.prefilled_think == "auto":
                prefilled = _prompt_prefilled(prompts[i]) if prompts[i] is not None else True
            else:
                prefilled = bool(self.prefilled_think)
            gold: Any = golds[i]
            if db_ids[i] and not isinstance(gold, Mapping):
                gold = {"sql": gold, "db_id": db_ids[i]}
            db = os.fspath(dbs[i]) if isinstance(dbs[i], (str, os.PathLike)) else None
            schema = schemas[i]
            schema_key = schema if isinstance(schema, (str, type(None))) else repr(schema)
            keys.append((text, repr(gold), db, schema_key, prefilled))
            items.append(
                {
                    "solution_str": text,
                    "ground_truth": gold,
                    "db_path": db,
                    "schema": schema,
                    "prefilled_think": prefilled,
                }
            )
        return keys, items

    def results(
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[RewardResult]:
        """RewardResults for a batch; computes only the completions not seen before."""
        keys, items = self._items(prompts, completions, kwargs)
        found: dict[tuple, RewardResult] = {}
        missing: dict[tuple, dict] = {}
        for key, item in zip(keys, items, strict=True):
            hit = self._last.get(key) or self.cache.get(key)
            if hit is not None:
                found[key] = hit
            elif key not in missing:
                missing[key] = item
        if missing:
            try:
                computed = self.computer.compute_rewards(list(missing.values()))
            except Exception as exc:  # the computer never raises; this is a last line of defence
                logger.error("reward computation failed for a whole batch: %r", exc, exc_info=True)
                computed = [RewardResult(total=-1.0, baseline_total=-1.0, reason=repr(exc)) for _ in missing]
            for key, res in zip(missing, computed, strict=True):
                found[key] = res
                self.cache.put(key, res)
            batch = [found[k] for k in keys]
            self._last = dict(zip(keys, batch, strict=True))
            global _LAST_BATCH
            with _LAST_LOCK:
                _LAST_BATCH = batch
            self._log(batch, kwargs)
        return [found[k] for k in keys]

    @staticmethod
    def _log(batch: list[RewardResult], kwargs: Mapping[str, Any]) -> None:
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            for name, value in batch_stats(batch).items():
                log_metric(f"sqlr1x/{name}", value)
        log_extra = kwargs.get("log_extra")
        if callable(log_extra):
            log_extra("reward_status", [str(r.baseline.get("status", "")) for r in batch])

    def __getstate__(self) -> dict:
        return {
            "computer": self.computer,
            "prefilled_think": self.prefilled_think,
            "cache": self.cache,
            "_last": {},
        }


class RewardFunction:
    """A TRL reward function for one term; ``__name__`` is what TRL logs under ``rewards/<name>/``."""

    def __init__(self, name: str, scorer: BatchScorer) -> None:
        if name not in _FIELDS:
            raise ValueError(f"unknown reward function {name!r}; expected one of {FUNC_NAMES}")
        self.__name__ = name
        self.__qualname__ = name
        self.field = _FIELDS[name]
        self.scorer = scorer

    def __call__(
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float]:
        completions = list(completions or [])
        results = self.scorer.results(prompts, completions, **kwargs)
        return [float(getattr(r, self.field)) for r in results]

    def __repr__(self) -> str:
        return f"<reward function {self.__name__}>"


def make_computer(reward_config: Any = None, **overrides: Any) -> EnhancedRewardComputer:
    """An :class:`EnhancedRewardComputer` from a config object or dict (``config.reward`` works)."""

    def opt(name: str, default: Any) -> Any:
        return overrides.get(name, _option(reward_config, name, default))

    return EnhancedRewardComputer(
        baseline_reward_fn=baseline_from_config(
            str(opt("baseline", "sqlr1")),
            timeout=float(opt("exec_timeout", 30.0)),
            db_root=opt("db_root", None),
        ),
        enable_enhanced=bool(opt("enable_enhanced", True)),
        schema_weight=float(opt("schema_weight", -0.5)),
        structural_select_weight=float(opt("structural_select_weight", 0.3)),
        structural_where_weight=float(opt("structural_where_weight", 0.3)),
        structural_join_weight=float(opt("structural_join_weight", 0.2)),
        syntax_weight=float(opt("syntax_weight", 0.2)),
        timeout=float(opt("exec_timeout", 30.0)),
        empty_result_guard=bool(opt("empty_result_guard", False)),
        db_root=opt("db_root", None),
        workers=opt("workers", None),
    )


def make_reward_funcs(
    reward_config: Any = None,
    *,
    computer: EnhancedRewardComputer | None = None,
    prefilled_think: bool | Literal["auto"] = "auto",
) -> tuple[list[Callable[..., list[float]]], list[float]]:
    """``(funcs, weights)`` for GRPOTrainer from a reward config (object or dict) or a ready computer.

    Config fields: ``enable_enhanced``, ``schema_weight``, ``structural_select_weight``,
    ``structural_where_weight``, ``structural_join_weight``, ``syntax_weight``; optional
    ``exec_timeout`` (s), ``empty_result_guard``, ``db_root``, ``workers``.
    """
    computer = computer if computer is not None else make_computer(reward_config)
    scorer = BatchScorer(computer, prefilled_think=prefilled_think)
    names = FUNC_NAMES if computer.enable_enhanced else FUNC_NAMES[:1]
    funcs = [RewardFunction(name, scorer) for name in names]
    return funcs, [1.0] * len(funcs)
