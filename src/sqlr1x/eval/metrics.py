"""Per-example scores of a predicted SQL query, and their aggregate with bootstrap intervals.

Every example in the evaluated split is scored, including those without a usable prediction
(missing id, no SQL in the completion, missing database, failing gold): they count as not matching
and carry a ``status`` that the report counts, so accuracy is never inflated by skipping them.

Execution match is reported under two named semantics:

- ``ex_spider`` — Spider test-suite: DISTINCT removed from both queries, bag comparison with
  column permutations allowed, row order only when the gold query has ORDER BY;
- ``ex_bird`` — BIRD: ``set(pred_rows) == set(gold_rows)``.

Example, on a temporary database::

    >>> import os, sqlite3, tempfile
    >>> from sqlr1x.data.example import Example
    >>> db = os.path.join(tempfile.mkdtemp(), "company.sqlite")
    >>> con = sqlite3.connect(db)
    >>> _ = con.executescript("CREATE TABLE employees (id INTEGER, name TEXT); INSERT INTO employees VALUES (1, 'Ann');")
    >>> con.close()
    >>> example = Example("q1", "Who works here?", "", "company", db, "SELECT name FROM employees", "demo", "dev")
    >>> s = score_sql(example, "SELECT name FROM employees")
    >>> s.ex_spider, s.syntax_error, s.hallucinations
    (True, False, [])
    >>> aggregate([s])["metrics"]["ex_spider"]["mean"]
    1.0
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlr1x.eval.shape import pairs as shape_pairs
from sqlr1x.eval.shape import shape_stats
from sqlr1x.eval.stats import bootstrap_mean

# status values, in the order the report lists them
STATUSES: tuple[str, ...] = ("ok", "no_sql", "missing_prediction", "missing_db", "gold_error", "truncated")


@dataclass
class PredictionScore:
    """How one prediction fares against its example's gold query."""

    id: str
    db_id: str | None
    gold_sql: str
    sql: str | None
    status: str = "ok"
    ex_spider: bool = False
    ex_bird: bool = False
    format_ok: bool | None = None  # None: no completion to check (a bare SQL prediction)
    syntax_error: bool = True  # no valid single DML statement (missing SQL counts as an error)
    exec_error: str | None = None  # executor error kind of the prediction, "no_sql" without SQL
    gold_error: str | None = None
    hallucinations: list[tuple[str, str]] = field(default_factory=list)
    structural: float = 0.0  # StructuralReward vs gold, normalised to [0, 1]
    completion_chars: int | None = None
    difficulty: str | None = None
    hardness: str | None = None  # Spider hardness of the gold query
    question: str | None = None
    completion: str | None = None
    n_samples: int = 1
    votes: int | None = None  # self-consistency: size of the winning group
    vote_fallback: str | None = None

    @property
    def hallucinated(self) -> bool:
        return bool(self.hallucinations)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hallucinations"] = [list(h) for h in self.hallucinations]
        d["hallucinated"] = self.hallucinated
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PredictionScore:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["hallucinations"] = [tuple(h) for h in known.get("hallucinations") or []]
        return cls(**known)


# name -> (extractor returning a number or None to exclude the example, description)
METRICS: dict[str, tuple[Callable[[PredictionScore], float | None], str]] = {
    "ex_spider": (lambda s: float(s.ex_spider), "execution match, Spider test-suite semantics"),
    "ex_bird": (lambda s: float(s.ex_bird), "execution match, BIRD semantics (set of rows)"),
    "hallucination_rate": (
        lambda s: float(s.hallucinated),
        "predictions with >= 1 hallucinated table/column",
    ),
    "hallucinated_elements": (
        lambda s: float(len(s.hallucinations)),
        "hallucinated tables/columns per prediction",
    ),
    "syntax_error_rate": (
        lambda s: float(s.syntax_error),
        "predictions that are not one valid DML statement",
    ),
    "exec_error_rate": (
        lambda s: float(s.exec_error is not None),
        "predictions that fail to execute (or have no SQL)",
    ),
    "structural": (lambda s: s.structural, "structural score vs gold (SELECT/WHERE/JOIN F1), in [0, 1]"),
    "format_valid_rate": (
        lambda s: None if s.format_ok is None else float(s.format_ok),
        "completions in SQL-R1 <think>/<answer> format (completions only)",
    ),
    "completion_chars": (
        lambda s: None if s.completion_chars is None else float(s.completion_chars),
        "completion length in characters (completions only)",
    ),
}
# metrics where a lower value is better (for deltas and plots)
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {"hallucination_rate", "hallucinated_elements", "syntax_error_rate", "exec_error_rate"}
)
RATE_METRICS: tuple[str, ...] = tuple(
    m for m in METRICS if m != "completion_chars" and m != "hallucinated_elements"
)


@lru_cache(maxsize=1)
def _reward_scorers() -> tuple[Any, float]:
    """The reward computer with the default weights, and its structural maximum (for [0, 1])."""
    from sqlr1x.rewards.computer import EnhancedRewardComputer

    computer = EnhancedRewardComputer.from_config()
    structural = computer.structural_reward
    return computer, structural.select_weight + structural.where_weight + structural.join_weight


def _default_executor() -> Any:
    from sqlr1x.db.executor import default_executor

    return default_executor()


class _OnceExecutor:
    """Runs each prediction once per scoring call, so both EX modes and the error kind share it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.memo: dict[tuple[str, str], Any] = {}

    def execute(self, db_path: Any, sql: str) -> Any:
        key = (str(db_path), sql)
        if key not in self.memo:
            self.memo[key] = self.inner.execute(db_path, sql)
        return self.memo[key]

    def execute_cached(self, db_path: Any, sql: str) -> Any:
        return self.inner.execute_cached(db_path, sql)


def _schema_of(example: Any) -> Any:
    try:
        return example.schema
    except Exception:  # a missing or unreadable database: no schema to check names against
        return None


def _hardness_of(gold_sql: str) -> str | None:
    try:
        from sqlr1x.eval.hardness import spider_hardness
    except ImportError:
        return None
    return spider_hardness(gold_sql)


def score_sql(
    example: Any,
    sql: str | None,
    *,
    completion: str | None = None,
    format_ok: bool | None = None,
    status: str | None = None,
    executor: Any = None,
) -> PredictionScore:
    """Score one predicted SQL (``None`` when there is none) against ``example`` (a ``data.Example``).

    ``completion``/``format_ok`` describe the raw model output when there is one; ``status``
    forces a failure status such as ``"missing_prediction"``.
    """
    from sqlr1x.db.compare import execution_match

    executor = executor or _default_executor()
    sql = sql.strip() if sql and sql.strip() else None
    score = PredictionScore(
        id=str(example.id),
        db_id=getattr(example, "db_id", None),
        gold_sql=example.gold_sql,
        sql=sql,
        format_ok=format_ok,
        difficulty=None if getattr(example, "difficulty", None) is None else str(example.difficulty),
        hardness=_hardness_of(example.gold_sql),
        question=getattr(example, "question", None),
        completion=completion,
        completion_chars=None if completion is None else len(completion),
    )
    db_path = getattr(example, "db_path", None)
    db_missing = not db_path or not Path(db_path).is_file()
    if sql is None:
        score.status = status or ("missing_db" if db_missing else "no_sql")
        score.exec_error = "no_sql"
        return score

    # The reward's own analysis (one definition of scoring): SQLite-checked syntax, structural
    # score with the schema (0 for broken SQL), hallucinations.
    computer, total = _reward_scorers()
    terms = computer.analyse_sql(sql, example.gold_sql, _schema_of(example))
    score.syntax_error = not terms.syntax_valid
    score.structural = max(0.0, min(1.0, terms.structural / total)) if total > 0 else 0.0
    score.hallucinations = [(h[0], h[1]) for h in terms.hallucinations]

    if db_missing:
        score.status = status or "missing_db"
        score.exec_error = score.gold_error = "missing_db"
        return score
    memo = _OnceExecutor(executor)
    pred = memo.execute(db_path, sql)
    gold = executor.execute_cached(db_path, example.gold_sql)
    score.exec_error = pred.error_kind
    score.gold_error = gold.error_kind
    if not gold.ok:
        score.status = status or "gold_error"
        return score
    score.status = status or "ok"
    if pred.truncated or gold.truncated:
        # a result cut at the row cap is not comparable: no match, and flagged (the reward skips it)
        score.status = status or "truncated"
        return score
    if pred.ok:
        score.ex_spider = execution_match(sql, example.gold_sql, db_path, "spider", executor=memo)
        score.ex_bird = execution_match(sql, example.gold_sql, db_path, "bird", executor=memo)
    return score


def score_completion(
    example: Any, completion: str, *, prefilled_think: bool = True, executor: Any = None
) -> PredictionScore:
    """Extract the answer SQL from a model completion (SQL-R1 format) and ``score_sql`` it."""
    from sqlr1x.sql.extract import extract_answer

    ext = extract_answer(completion or "", prefilled_think=prefilled_think)
    return score_sql(example, ext.sql, completion=completion, format_ok=ext.format_ok, executor=executor)


def metric_values(scores: Iterable[PredictionScore], name: str) -> list[float]:
    """Per-example values of metric ``name``, skipping examples the metric does not apply to."""
    extract = METRICS[name][0]
    return [v for v in (extract(s) for s in scores) if v is not None]


def _summaries(scores: Sequence[PredictionScore], *, n_boot: int, seed: int) -> dict[str, dict[str, float]]:
    out = {}
    for name in METRICS:
        values = metric_values(scores, name)
        mean, lo, hi = bootstrap_mean(values, n_boot=n_boot, seed=seed)
        out[name] = {"mean": mean, "ci_low": lo, "ci_high": hi, "n": len(values)}
    return out


# Spider hardness, BIRD difficulty and SynSQL complexity levels, easiest first
_LEVEL_ORDER = (
    "easy",
    "simple",
    "medium",
    "moderate",
    "hard",
    "challenging",
    "complex",
    "extra",
    "highly complex",
)


def _level_order(level: str) -> tuple[int, str]:
    low = level.lower()
    return (_LEVEL_ORDER.index(low) if low in _LEVEL_ORDER else len(_LEVEL_ORDER), low)


def _breakdown(scores: Sequence[PredictionScore], attr: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[PredictionScore]] = defaultdict(list)
    for s in scores:
        value = getattr(s, attr)
        if value is not None:
            groups[value].append(s)
    out = {}
    for key in sorted(groups, key=_level_order):
        group = groups[key]
        row: dict[str, Any] = {"n": len(group)}
        for name in ("ex_spider", "ex_bird", "hallucination_rate", "syntax_error_rate", "structural"):
            values = metric_values(group, name)
            row[name] = sum(values) / len(values) if values else float("nan")
        out[key] = row
    return out


def aggregate(scores: Sequence[PredictionScore], *, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Aggregate per-example scores: means with bootstrap 95 % intervals, failure counts, breakdowns.

    Rates use every example as the denominator, except ``format_valid_rate`` and
    ``completion_chars``, which only apply to predictions that came with a completion.
    ``shape`` holds the query-shape metrics (``sqlr1x.eval.shape.shape_stats``): clause presence
    in predictions vs gold and the length ratio.
    """
    status = Counter(s.status for s in scores)
    errors = Counter(s.exec_error for s in scores if s.exec_error is not None)
    names = Counter(f"{kind}:{name}" for s in scores for kind, name in s.hallucinations)
    result: dict[str, Any] = {
        "n": len(scores),
        "metrics": _summaries(scores, n_boot=n_boot, seed=seed),
        "status": {k: status.get(k, 0) for k in STATUSES}
        | {k: v for k, v in status.items() if k not in STATUSES},
        "exec_error_kinds": dict(errors.most_common()),
        "top_hallucinations": dict(names.most_common(20)),
        "by_difficulty": _breakdown(scores, "difficulty"),
        "by_hardness": _breakdown(scores, "hardness"),
        "shape": shape_stats(*shape_pairs(scores)),
    }
    voted = [s for s in scores if s.n_samples > 1]
    if voted:
        result["vote"] = {
            "n_samples": max(s.n_samples for s in voted),
            "fallback_used": sum(s.vote_fallback is not None for s in voted),
            "mean_votes": sum(s.votes or 0 for s in voted) / len(voted),
        }
    return result


def summary(aggregated: dict[str, Any]) -> dict[str, float]:
    """Flat ``{metric: mean}`` of an ``aggregate`` result, for logging to metrics.jsonl / TensorBoard."""
    return {name: m["mean"] for name, m in aggregated["metrics"].items()}
