"""verl ``custom_reward_function``: ``compute_score(data_source, solution_str, ground_truth, extra_info)``.

Point verl at it with::

    reward.custom_reward_function.path=src/sqlr1x/integrations/verl.py
    reward.custom_reward_function.name=compute_score

verl's reward manager decodes the *response only* and passes it as ``solution_str``, with the
parquet row's ``reward_model.ground_truth`` (a SQL string or ``{"sql", "db_id", "db_path"}``) and
``extra_info``. The database comes from ``extra_info["db_path"]`` (or the ground truth's), else
``<root>/<db_id>/<db_id>.sqlite`` with ``root`` from the ``db_root`` keyword (verl's
``custom_reward_function.reward_kwargs``) or the ``SQLR1X_DB_ROOT`` environment variable. An
``extra_info["schema"]`` is used for the schema reward, else the schema is read from the database.

verl applies the chat template with a generation prompt, so the model opens ``<think>`` itself:
``prefilled_think`` defaults to False; set ``extra_info["prefilled_think"]`` (or the keyword)
when the prompt pre-fills it.

The returned dict has the same keys for every sample (verl requires it) and only numbers, so
verl can average each key into its metrics: ``score`` (the reward, ``EnhancedRewardComputer.total``),
``baseline``, ``format``, ``exec``, ``result``, ``length``, ``schema``, ``structural``, ``syntax``,
``n_hallucinations``, ``syntax_valid``, ``format_ok``, ``executable``, ``correct``, ``invalid``.
``invalid = 1`` flags a sample that is not the policy's fault (missing database, failing or
timed-out gold, result cut at the row cap): its score is 0 and a WARNING names the database.

Example::

    >>> r = compute_score("synsql", "no answer", "SELECT 1", extra_info={"db_path": "/nowhere.sqlite"})
    >>> r["score"], sorted(r) == sorted(SCORE_KEYS)
    (-1.0, True)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from sqlr1x.rewards._common import DB_ROOT_ENV
from sqlr1x.rewards.computer import EnhancedRewardComputer, RewardResult

SCORE_KEYS = (
    "score",
    "baseline",
    "format",
    "exec",
    "result",
    "length",
    "schema",
    "structural",
    "syntax",
    "n_hallucinations",
    "syntax_valid",
    "format_ok",
    "executable",
    "correct",
    "invalid",
)

_COMPUTER_OPTIONS = {
    "enable_enhanced": True,
    "schema_weight": -0.5,
    "structural_select_weight": 0.3,
    "structural_where_weight": 0.3,
    "structural_join_weight": 0.2,
    "syntax_weight": 0.2,
    "exec_timeout": 30.0,
    "empty_result_guard": False,
}

_COMPUTERS: dict[tuple, EnhancedRewardComputer] = {}
_LOCK = threading.Lock()


def get_computer(db_root: str | None = None, **options: Any) -> EnhancedRewardComputer:
    """The process-wide computer for these options (built once; verl calls per sample)."""
    opts = {k: options.get(k, default) for k, default in _COMPUTER_OPTIONS.items()}
    key = (db_root, *sorted(opts.items()))
    with _LOCK:
        computer = _COMPUTERS.get(key)
        if computer is None:
            computer = EnhancedRewardComputer(
                enable_enhanced=bool(opts["enable_enhanced"]),
                schema_weight=float(opts["schema_weight"]),
                structural_select_weight=float(opts["structural_select_weight"]),
                structural_where_weight=float(opts["structural_where_weight"]),
                structural_join_weight=float(opts["structural_join_weight"]),
                syntax_weight=float(opts["syntax_weight"]),
                timeout=float(opts["exec_timeout"]),
                empty_result_guard=bool(opts["empty_result_guard"]),
                db_root=db_root,
            )
            _COMPUTERS[key] = computer
    return computer


def result_to_scores(result: RewardResult) -> dict[str, float]:
    """The fixed-key, numbers-only dict verl expects from a :class:`RewardResult`."""
    b = result.baseline
    return {
        "score": float(result.total),
        "baseline": float(result.baseline_total),
        "format": float(b.get("format", 0.0)),
        "exec": float(b.get("exec", 0.0)),
        "result": float(b.get("result", 0.0)),
        "length": float(b.get("length", 0.0)),
        "schema": float(result.schema),
        "structural": float(result.structural),
        "syntax": float(result.syntax),
        "n_hallucinations": float(len(result.hallucinations)),
        "syntax_valid": float(result.syntax_valid),
        "format_ok": float(result.format_ok),
        "executable": float(result.executable),
        "correct": float(result.correct),
        "invalid": float(not result.valid),  # 1: not the policy's fault, score 0 (filter or mask it)
    }


def compute_score(
    data_source: str | None,
    solution_str: Any,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """Score one verl response; ``kwargs`` may set ``db_root``, ``prefilled_think`` and the weights."""
    info = extra_info if isinstance(extra_info, Mapping) else {}
    options = dict(kwargs)
    db_root = options.pop("db_root", None) or os.environ.get(DB_ROOT_ENV)
    computer = get_computer(db_root=db_root, **options)
    truth = ground_truth
    if info.get("db_id") and not isinstance(truth, Mapping):
        truth = {"sql": truth, "db_id": info["db_id"]}
    prefilled = info.get("prefilled_think", kwargs.get("prefilled_think", False))
    result = computer.compute_reward(
        solution_str,
        truth,
        schema=info.get("schema"),
        db_path=info.get("db_path"),
        prefilled_think=bool(prefilled),
    )
    return result_to_scores(result)
