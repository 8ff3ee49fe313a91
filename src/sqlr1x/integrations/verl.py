"""verl ``custom_reward_function``: ``compute_score(data_source, solution_str, ground_truth, extra_info)``.

Point verl at it with::

    reward.custom_reward_function.path=src/sqlr1x/integrations/verl.py
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.db_root=/data/spider/database

(``examples/verl/run_grpo.sh`` writes the whole command.) verl's reward manager decodes the
*response only* and passes it as ``solution_str``, with the parquet row's ``data_source``,
``reward_model.ground_truth`` (a SQL string or ``{"sql", "db_id"}``) and ``extra_info``.

**Result comparison by data_source**, like verl's ``default_compute_score`` dispatches:
``spider``, ``synsql``, ``wikisql`` and ``demo`` rows get Spider test-suite semantics
(``execution_match(mode="spider")``), ``bird`` rows BIRD's set rule (``mode="bird"``); names match
case-insensitively, with or without an ``sqlr1x/`` prefix (:data:`SOURCE_MODES`). Any other source
raises ``NotImplementedError`` as verl's own dispatcher does, unless the ``unknown_source`` option
names the semantics to use (``"spider"`` or ``"bird"``; a WARNING is logged once per source).

**Database**, in this order: an explicit ``extra_info["db_path"]`` (or the ground truth's), used as
given; ``extra_info["db_relpath"]`` (what ``sqlr1x data export-verl`` writes) joined to the database
root; else ``<root>/<db_id>/<db_id>.sqlite``. The root is the ``db_root`` option or the
``SQLR1X_DB_ROOT`` environment variable. A row that needs a root when there is none, a root that is
not a folder and a database file that is not there raise :class:`DatabaseNotFoundError` naming it:
a configuration error is not a reward. An ``extra_info["schema"]`` is used for the schema reward,
else the schema is read from the database.

**Options** (``custom_reward_function.reward_kwargs``) are checked: an unknown one raises
``ValueError`` listing the valid ones (:data:`OPTIONS`); the keywords verl itself adds
(``reward_router_address``, ``reward_model_tokenizer``) are accepted and ignored.

verl applies the chat template with a generation prompt, so the model opens ``<think>`` itself:
``prefilled_think`` defaults to False; set ``extra_info["prefilled_think"]`` (or the option)
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
    >>> compare_mode_for("sqlr1x/bird"), compare_mode_for("SynSQL")
    ('bird', 'spider')
    >>> compute_score("synsql", "no answer", "SELECT 1", colour="red")
    Traceback (most recent call last):
    ...
    ValueError: unknown reward option(s) ['colour'] for sqlr1x's compute_score; valid: [...]
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from sqlr1x.rewards._common import DB_ROOT_ENV, GroundTruth, parse_ground_truth
from sqlr1x.rewards.computer import EnhancedRewardComputer, RewardResult

logger = logging.getLogger("sqlr1x.integrations.verl")

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

_COMPUTER_OPTIONS: dict[str, Any] = {
    "enable_enhanced": True,
    "schema_weight": -0.5,
    "structural_select_weight": 0.3,
    "structural_where_weight": 0.3,
    "structural_join_weight": 0.2,
    "syntax_weight": 0.2,
    "exec_timeout": 30.0,
    "empty_result_guard": False,
    "workers": None,
}
# Options about the rows rather than the computer.
_ROW_OPTIONS: dict[str, Any] = {"db_root": None, "prefilled_think": False, "unknown_source": "error"}
OPTIONS = (*_COMPUTER_OPTIONS, *_ROW_OPTIONS)
# Keywords verl's reward managers pass on their own (reward-model routing); not ours to use.
_VERL_KEYWORDS = frozenset({"reward_router_address", "reward_model_tokenizer"})

# data_source (lower case, without an ``sqlr1x/`` prefix) -> execution_match mode.
SOURCE_MODES = {"spider": "spider", "synsql": "spider", "wikisql": "spider", "demo": "spider", "bird": "bird"}
UNKNOWN_SOURCE_CHOICES = ("error", "spider", "bird")

_COMPUTERS: dict[tuple, EnhancedRewardComputer] = {}
_LOCK = threading.Lock()
_WARNED_SOURCES: set[str] = set()


class DatabaseNotFoundError(FileNotFoundError):
    """A row's database cannot be located: no root, a root that is not a folder, or no such file."""


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with verl's own keywords dropped; an unknown option or bad value raises ``ValueError``.

    >>> check_options({"workers": 4, "reward_router_address": None})
    {'workers': 4}
    """
    unknown = sorted(k for k in options if k not in OPTIONS and k not in _VERL_KEYWORDS)
    if unknown:
        raise ValueError(
            f"unknown reward option(s) {unknown} for sqlr1x's compute_score; valid: {sorted(OPTIONS)}"
        )
    checked = {k: v for k, v in options.items() if k in OPTIONS}
    if checked.get("unknown_source", "error") not in UNKNOWN_SOURCE_CHOICES:
        raise ValueError(
            f"reward option unknown_source={checked['unknown_source']!r}; valid: {list(UNKNOWN_SOURCE_CHOICES)}"
        )
    return checked


def compare_mode_for(data_source: Any, unknown_source: str = "error") -> str:
    """The ``execution_match`` mode for a row's ``data_source`` (see the module docstring)."""
    key = str(data_source or "").strip().lower().removeprefix("sqlr1x/")
    mode = SOURCE_MODES.get(key)
    if mode is not None:
        return mode
    if unknown_source == "error":
        raise NotImplementedError(
            f"sqlr1x compute_score has no result comparison for data_source={data_source!r}; known: "
            f"{sorted(SOURCE_MODES)} (optionally prefixed 'sqlr1x/'); to score it anyway set "
            "reward.custom_reward_function.reward_kwargs.unknown_source to 'spider' or 'bird'"
        )
    if key not in _WARNED_SOURCES:
        _WARNED_SOURCES.add(key)
        logger.warning(
            "unknown data_source %r: scored with %s semantics (unknown_source)", data_source, unknown_source
        )
    return unknown_source


def resolve_database(info: Mapping[str, Any], truth: GroundTruth, db_root: str | None) -> str | None:
    """The database file of a row (order in the module docstring); raises :class:`DatabaseNotFoundError`."""
    explicit = info.get("db_path") or truth.db_path
    if isinstance(explicit, (str, os.PathLike)) and os.fspath(explicit):
        return os.fspath(explicit)
    relpath = info.get("db_relpath")
    db_id = info.get("db_id") or truth.db_id
    if not relpath and not db_id:
        return None
    what = f"db_relpath {relpath!r}" if relpath else f"db_id {db_id!r}"
    if not db_root:
        raise DatabaseNotFoundError(
            f"the row's database is given by {what} but there is no database root: set "
            f"reward.custom_reward_function.reward_kwargs.db_root or {DB_ROOT_ENV} to the folder "
            "that 'sqlr1x data export-verl' printed (or your copy of it)"
        )
    if not os.path.isdir(db_root):
        raise DatabaseNotFoundError(f"database root {db_root!r} (db_root / {DB_ROOT_ENV}) is not a folder")
    path = os.path.join(db_root, relpath) if relpath else os.path.join(db_root, db_id, f"{db_id}.sqlite")
    if not os.path.isfile(path):
        raise DatabaseNotFoundError(f"database {path!r} not found: {what} under database root {db_root!r}")
    return path


def get_computer(
    db_root: str | None = None, compare_mode: str = "spider", **options: Any
) -> EnhancedRewardComputer:
    """The process-wide computer for these options (built once; verl calls per sample)."""
    opts = {k: options.get(k, default) for k, default in _COMPUTER_OPTIONS.items()}
    key = (db_root, compare_mode, *sorted(opts.items()))
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
                workers=None if opts["workers"] is None else int(opts["workers"]),
                db_root=db_root,
                compare_mode=compare_mode,
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
    """Score one verl response; ``kwargs`` are the options (:data:`OPTIONS`, see the module docstring)."""
    options = check_options(kwargs)
    info = extra_info if isinstance(extra_info, Mapping) else {}
    mode = compare_mode_for(data_source, options.pop("unknown_source", "error"))
    db_root = options.pop("db_root", None) or os.environ.get(DB_ROOT_ENV)
    truth = ground_truth
    if info.get("db_id") and not isinstance(truth, Mapping):
        truth = {"sql": truth, "db_id": info["db_id"]}
    db_path = resolve_database(info, parse_ground_truth(truth), db_root)
    prefilled = info.get("prefilled_think", options.pop("prefilled_think", False))
    computer = get_computer(compare_mode=mode, **options)
    result = computer.compute_reward(
        solution_str, truth, schema=info.get("schema"), db_path=db_path, prefilled_think=bool(prefilled)
    )
    return result_to_scores(result)
