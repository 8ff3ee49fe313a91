"""The reward audit (rules R1-R6 of docs/rewards.md) on the shipped cases, and its command."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from sqlr1x.cli import main as cli_main
from sqlr1x.config import load_config
from sqlr1x.rewards.audit import KINDS, RULES, load_cases, run_audit
from sqlr1x.rewards.computer import EnhancedRewardComputer

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "reward_audit" / "cases.jsonl"
DB_ROOT = ROOT / "src" / "sqlr1x" / "data" / "demo" / "databases"
# Rules that depend on the structural reward, rewritten on branch reward-struct (issue 10 item 2).
# strict: once the structural rewrite lands these pass, and the marker must go.
STRUCTURAL_RULES = {"R2", "R6"}


def _weights(config: str | None) -> dict:
    if config is None:
        return {}
    reward = load_config(ROOT / config).reward
    keys = (
        "schema_weight",
        "structural_select_weight",
        "structural_where_weight",
        "structural_join_weight",
        "syntax_weight",
    )
    return {k: getattr(reward, k) for k in keys}


@pytest.fixture(scope="module", params=[None, "configs/train_24gb.yaml"], ids=["default", "train_24gb"])
def report(request):
    computer = EnhancedRewardComputer(**_weights(request.param))
    return run_audit(load_cases(CASES), computer, DB_ROOT)


@pytest.fixture(scope="module")
def baseline_report():
    return run_audit(load_cases(CASES), EnhancedRewardComputer(enable_enhanced=False), DB_ROOT)


def _violations(report, rule):
    return [f"{v.case}: {v.better} vs {v.worse} ({v.detail})" for v in report.violations if v.rule == rule]


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(
            r,
            marks=pytest.mark.xfail(
                strict=True, reason="needs the structural rewrite (branch reward-struct, issue 10 item 2)"
            ),
        )
        if r in STRUCTURAL_RULES
        else r
        for r in RULES
    ],
)
def test_audit_rule_holds(report, rule):
    assert report.checks[rule] > 0
    assert _violations(report, rule) == []


@pytest.mark.parametrize("rule", ["R1", "R3", "R4", "R5", "R6"])
def test_baseline_alone_keeps_the_rules_it_can(baseline_report, rule):
    # The SQL-R1 baseline has no dense terms: it cannot rank a near miss above a trivial query (R2),
    # but with our deviations it keeps every other rule.
    assert _violations(baseline_report, rule) == []


def test_cases_cover_at_least_40_golds_with_every_kind():
    cases = load_cases(CASES)
    assert len(cases) >= 40
    assert len({c.db_id for c in cases}) == 5
    for case in cases:
        kinds = Counter(c.kind for c in case.completions)
        assert set(kinds) == set(KINDS), case.id
        for c in case.completions:
            if c.kind != "no_answer":
                assert c.completion.startswith("<think>") and "```sql\n" in c.completion
                assert c.completion.endswith("```\n</answer>")
    rewrites = {c.id for case in cases for c in case.completions if c.kind == "equivalent"}
    for kind in ("alias", "reordered", "comma_join", "cte", "derived", "count_distinct"):
        assert f"rewrite_{kind}" in rewrites


def test_case_file_is_in_sync_with_its_generator_and_valid():
    sys.path.insert(0, str(CASES.parent))
    try:
        import make_cases
    finally:
        sys.path.pop(0)
    built = make_cases.build()
    shipped = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines()]
    assert built == shipped, "regenerate: PYTHONPATH=src python tests/reward_audit/make_cases.py"
    # equivalents really equal the gold by execution_match, near misses/trivials run and differ, ...
    assert make_cases.validate(built, DB_ROOT) == []


def _case(gold, completions):
    wrap = "<think>\nq\n</think>\n<answer>\n```sql\n{}\n```\n</answer>"
    return {
        "id": "t1",
        "db_id": "company",
        "gold": gold,
        "completions": [
            {"id": cid, "kind": kind, "completion": wrap.format(sql), **({"base": base} if base else {})}
            for cid, kind, sql, base in completions
        ],
    }


def test_command_exits_nonzero_and_prints_violation_terms(tmp_path, capsys):
    gold = "SELECT name FROM employees WHERE salary > 80000"
    path = tmp_path / "cases.jsonl"
    bad = _case(
        gold,
        [
            ("correct", "correct", gold, None),
            # mislabelled on purpose: not equivalent, so R1 and R6 must report it
            ("rewrite_wrong", "equivalent", "SELECT name FROM employees", None),
            ("broken", "broken", "SELECT name, FROM employees", None),
        ],
    )
    path.write_text(json.dumps(bad) + "\n", encoding="utf-8")
    assert cli_main(["reward", "audit", "--cases", str(path)]) == 1
    out = capsys.readouterr().out
    assert "R1" in out and "R6" in out and "rewrite_wrong" in out
    assert "baseline +0.000 (mismatch)" in out  # the terms of the violating completion


def test_command_passes_and_reads_weights_from_a_config(tmp_path, capsys):
    gold = "SELECT name FROM employees WHERE salary > 80000"
    path = tmp_path / "cases.jsonl"
    good = _case(
        gold,
        [
            ("correct", "correct", gold, None),
            ("alias", "equivalent", "SELECT e.name FROM employees AS e WHERE e.salary > 80000", None),
            ("unknown_column", "hallucinated", "SELECT name, pay FROM employees WHERE salary > 80000", None),
            (
                "quoted",
                "quoted_unknown",
                'SELECT name, "pay" FROM employees WHERE salary > 80000',
                "unknown_column",
            ),
            ("broken", "broken", "SELECT name, FROM employees", None),
        ],
    )
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")
    config = ROOT / "configs" / "train_24gb.yaml"
    assert cli_main(["reward", "audit", "--cases", str(path), "--config", str(config), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rules"]["R3"] == {"checks": 1, "passed": 1, "pass_rate": 1.0}
    assert data["rules"]["R1"]["checks"] == 2 * 3 and data["violations"] == []


def test_load_cases_rejects_an_unknown_kind(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(_case("SELECT 1", [("x", "surprise", "SELECT 1", None)])) + "\n")
    with pytest.raises(ValueError, match="surprise"):
        load_cases(path)
