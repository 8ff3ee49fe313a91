"""The reward audit: does the reward order completions of the same question the way an expert would?

GRPO exploits whatever the reward pays for, so the reward is judged by the ordering it induces
(docs/rewards.md, "Reward semantics"). A case is one gold query on one database with completions
of known kinds; each rule is a set of pairwise checks on their total rewards:

* **R1** every ``correct``/``equivalent`` completion > every other completion;
* **R2** every ``near_miss`` (one value, operator or column wrong, the gold's clauses kept) >
  every ``trivial`` query (a clause of the gold dropped);
* **R3** a ``quoted_unknown`` completion (an unknown name double-quoted) <= its ``base`` (the
  same query with the name unquoted);
* **R4** an ``unknown_table`` completion (an unknown table added) <= its ``base``;
* **R5** every ``broken``/``no_answer`` completion <= every parseable attempt (all other kinds but
  ``quoted_unknown``), however many unknown names it has;
* **R6** every ``equivalent`` rewrite within ``0.5`` of the plain ``correct`` form.

Cases are JSON lines: ``{"id", "db_id", "gold", "completions": [{"id", "kind", "completion", "sql"?,
"base"?}]}`` with ``db_id`` a folder of ``db_root`` holding ``<db_id>.sqlite``; the shipped cases
are ``tests/reward_audit/cases.jsonl``. ``sqlr1x reward audit`` runs them.

Example::

    >>> from sqlr1x.rewards.computer import EnhancedRewardComputer
    >>> report = run_audit(load_cases("tests/reward_audit/cases.jsonl"), EnhancedRewardComputer(),
    ...                    "src/sqlr1x/data/demo/databases")                    # doctest: +SKIP
    >>> report.pass_rate("R1")                                                  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["KINDS", "RULES", "AuditCase", "AuditReport", "Violation", "load_cases", "run_audit"]

KINDS = (
    "correct",
    "equivalent",
    "near_miss",
    "trivial",
    "hallucinated",
    "quoted_unknown",
    "unknown_table",
    "broken",
    "no_answer",
)
RULES = {
    "R1": "correct (and equivalent rewrites) > every incorrect completion",
    "R2": "near miss keeping the gold's clauses > trivial query dropping one",
    "R3": "double-quoting an unknown name never raises the reward",
    "R4": "adding an unknown table never raises the reward",
    "R5": "broken syntax / no answer never outscore a parseable attempt",
    "R6": "equivalent rewrite within 0.5 of the plain correct query",
}
R6_TOLERANCE = 0.5
_CORRECT = ("correct", "equivalent")
_FAILED = ("broken", "no_answer")


@dataclass(frozen=True)
class AuditCompletion:
    id: str
    kind: str
    completion: str
    sql: str | None = None
    base: str | None = None


@dataclass(frozen=True)
class AuditCase:
    """One gold query on one database and its completions of known kinds."""

    id: str
    db_id: str
    gold: str
    completions: tuple[AuditCompletion, ...]
    question: str = ""


@dataclass(frozen=True)
class Violation:
    """A failed check: ``better`` should have scored above (or at least) ``worse``."""

    rule: str
    case: str
    better: str
    worse: str
    better_terms: dict
    worse_terms: dict
    detail: str


@dataclass
class AuditReport:
    """Pass counts per rule, every violation, and the scored terms of every completion."""

    checks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RULES, 0))
    passed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RULES, 0))
    violations: list[Violation] = field(default_factory=list)
    scores: dict[tuple[str, str], dict] = field(default_factory=dict)
    n_cases: int = 0
    n_completions: int = 0

    def pass_rate(self, rule: str) -> float:
        n = self.checks[rule]
        return self.passed[rule] / n if n else 1.0

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict:
        return {
            "cases": self.n_cases,
            "completions": self.n_completions,
            "rules": {
                r: {"checks": self.checks[r], "passed": self.passed[r], "pass_rate": self.pass_rate(r)}
                for r in RULES
            },
            "violations": [v.__dict__ for v in self.violations],
        }


def load_cases(path: str | os.PathLike) -> list[AuditCase]:
    """Read audit cases from a JSON-lines file (or a JSON list); raises ``ValueError`` on a bad case."""
    text = Path(path).read_text(encoding="utf-8")
    stripped = text.lstrip()
    rows = (
        json.loads(stripped)
        if stripped.startswith("[")
        else [json.loads(x) for x in text.splitlines() if x.strip()]
    )
    cases = []
    for row in rows:
        try:
            completions = tuple(
                AuditCompletion(
                    id=str(c["id"]),
                    kind=str(c["kind"]),
                    completion=str(c["completion"]),
                    sql=c.get("sql"),
                    base=c.get("base"),
                )
                for c in row["completions"]
            )
            case = AuditCase(
                str(row["id"]), str(row["db_id"]), str(row["gold"]), completions, row.get("question", "")
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"{path}: bad audit case {row.get('id', '?') if isinstance(row, dict) else row!r}: {exc}"
            ) from exc
        unknown = {c.kind for c in completions} - set(KINDS)
        if unknown:
            raise ValueError(
                f"{path}: case {case.id}: unknown completion kind(s) {sorted(unknown)}; expected {KINDS}"
            )
        cases.append(case)
    return cases


def _terms(result: Any) -> dict:
    b = result.baseline
    return {
        "total": round(float(result.total), 4),
        "baseline": round(float(result.baseline_total), 4),
        "status": b.get("status"),
        "schema": round(float(result.schema), 4),
        "structural": round(float(result.structural), 4),
        "syntax": round(float(result.syntax), 4),
        "hallucinations": [f"{h.kind}:{h.name}" for h in result.hallucinations],
        "invalid": getattr(result, "invalid", ""),
    }


def run_audit(
    cases: Sequence[AuditCase], computer: Any, db_root: str | os.PathLike, *, eps: float = 1e-9
) -> AuditReport:
    """Score every completion of every case with ``computer`` and check the rules R1–R6.

    ``computer`` is an :class:`~sqlr1x.rewards.computer.EnhancedRewardComputer`; completions are
    scored as full model outputs (``prefilled_think=False``) against ``{"sql": gold, "db_path"}``,
    the schema read from the database. ``eps`` absorbs float noise in the ``<=`` comparisons.
    """
    report = AuditReport(n_cases=len(cases))
    items = []
    keys = []
    for case in cases:
        db_path = os.path.join(os.fspath(db_root), case.db_id, f"{case.db_id}.sqlite")
        for c in case.completions:
            keys.append((case.id, c.id))
            items.append(
                {
                    "solution_str": c.completion,
                    "ground_truth": {"sql": case.gold, "db_path": db_path},
                    "prefilled_think": False,
                }
            )
    results = computer.compute_rewards(items)
    report.n_completions = len(results)
    for key, result in zip(keys, results, strict=True):
        report.scores[key] = _terms(result)
    for case in cases:
        _check_case(report, case, eps)
    return report


def _check_case(report: AuditReport, case: AuditCase, eps: float) -> None:
    score = {c.id: report.scores[(case.id, c.id)] for c in case.completions}
    by_kind: dict[str, list[AuditCompletion]] = {k: [] for k in KINDS}
    for c in case.completions:
        by_kind[c.kind].append(c)
    ids = {c.id: c for c in case.completions}

    def check(rule: str, better: AuditCompletion, worse: AuditCompletion, ok: bool, detail: str) -> None:
        report.checks[rule] += 1
        if ok:
            report.passed[rule] += 1
        else:
            report.violations.append(
                Violation(rule, case.id, better.id, worse.id, score[better.id], score[worse.id], detail)
            )

    def total(c: AuditCompletion) -> float:
        return score[c.id]["total"]

    correct = [c for k in _CORRECT for c in by_kind[k]]
    incorrect = [c for c in case.completions if c.kind not in _CORRECT]
    for good in correct:
        for bad in incorrect:
            check("R1", good, bad, total(good) > total(bad) + eps, f"{total(good)} > {total(bad)}")
    for near in by_kind["near_miss"]:
        for triv in by_kind["trivial"]:
            check("R2", near, triv, total(near) > total(triv) + eps, f"{total(near)} > {total(triv)}")
    for rule, kind in (("R3", "quoted_unknown"), ("R4", "unknown_table")):
        for c in by_kind[kind]:
            base = ids.get(c.base or "")
            if base is not None:
                check(rule, base, c, total(c) <= total(base) + eps, f"{total(c)} <= {total(base)}")
    attempts = [c for c in case.completions if c.kind not in (*_FAILED, "quoted_unknown")]
    for failed in (c for k in _FAILED for c in by_kind[k]):
        for attempt in attempts:
            check(
                "R5",
                attempt,
                failed,
                total(failed) <= total(attempt) + eps,
                f"{total(failed)} <= {total(attempt)}",
            )
    for plain in by_kind["correct"]:
        for rewrite in by_kind["equivalent"]:
            gap = abs(total(rewrite) - total(plain))
            check(
                "R6",
                plain,
                rewrite,
                gap <= R6_TOLERANCE + eps,
                f"|{total(rewrite)} - {total(plain)}| = {gap:.4f}",
            )


def format_report(report: AuditReport, *, max_violations: int | None = None) -> Iterable[str]:
    """Lines of a plain-text report: pass rate per rule, then every violation with its terms."""
    yield f"reward audit: {report.n_cases} golds, {report.n_completions} completions"
    for rule, text in RULES.items():
        yield (
            f"  {rule}  {report.pass_rate(rule):7.2%}  ({report.passed[rule]}/{report.checks[rule]})  {text}"
        )
    shown = report.violations if max_violations is None else report.violations[:max_violations]
    for v in shown:
        yield f"{v.rule} {v.case}: {v.better} should beat {v.worse} ({v.detail})"
        yield f"    {v.better}: {_fmt_terms(v.better_terms)}"
        yield f"    {v.worse}: {_fmt_terms(v.worse_terms)}"
    if len(shown) < len(report.violations):
        yield f"... {len(report.violations) - len(shown)} more violations"


def _fmt_terms(t: dict) -> str:
    h = ",".join(t["hallucinations"]) or "-"
    return (
        f"total {t['total']:+.3f} = baseline {t['baseline']:+.3f} ({t['status']}) + schema {t['schema']:+.3f}"
        f" + structural {t['structural']:+.3f} + syntax {t['syntax']:+.3f}; hallucinations {h}"
    )
