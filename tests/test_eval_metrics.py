"""Per-example scores on a real SQLite database with known answers, and their aggregate."""

from __future__ import annotations

import math

import pytest

from sqlr1x.data.example import Example
from sqlr1x.db.compare import execution_match
from sqlr1x.eval.metrics import aggregate, score_completion, score_sql, summary
from sqlr1x.eval.stats import bootstrap_mean, paired_bootstrap, unpaired_bootstrap


def make_example(db, gold, *, id="q1", difficulty=None):
    return Example(
        id=id,
        question="?",
        evidence="",
        db_id="company",
        db_path=str(db),
        gold_sql=gold,
        source="test",
        split="dev",
        difficulty=difficulty,
    )


def test_exact_match_scores_everything_right(employees_db):
    s = score_sql(make_example(employees_db, "SELECT name FROM employees"), "SELECT name FROM employees")
    assert (s.status, s.ex_spider, s.ex_bird, s.syntax_error, s.exec_error) == ("ok", True, True, False, None)
    assert s.hallucinations == [] and not s.hallucinated
    assert s.structural == pytest.approx(1.0)
    assert s.format_ok is None and s.completion_chars is None


@pytest.mark.parametrize(
    ("pred", "gold", "spider", "bird"),
    [
        # duplicates: a bag differs, a set does not
        (
            "SELECT salary FROM employees WHERE department = 'Engineering'",
            "SELECT salary FROM employees WHERE id = 2",
            False,
            True,
        ),
        # column permutation: Spider allows it, BIRD compares tuples
        ("SELECT salary, name FROM employees", "SELECT name, salary FROM employees", True, False),
        # DISTINCT is dropped in Spider mode
        ("SELECT DISTINCT department FROM employees", "SELECT department FROM employees", True, True),
        # row order only matters when the gold has ORDER BY
        (
            "SELECT name FROM employees ORDER BY name DESC",
            "SELECT name FROM employees ORDER BY name",
            False,
            True,
        ),
        ("SELECT name FROM employees ORDER BY name DESC", "SELECT name FROM employees", True, True),
        # empty results match each other
        (
            "SELECT name FROM employees WHERE salary > 1000",
            "SELECT name FROM employees WHERE id < 0",
            True,
            True,
        ),
        ("SELECT name FROM employees WHERE salary > 1000", "SELECT name FROM employees", False, False),
    ],
)
def test_spider_and_bird_semantics_agree_with_the_foundation(employees_db, pred, gold, spider, bird):
    s = score_sql(make_example(employees_db, gold), pred)
    assert (s.ex_spider, s.ex_bird) == (spider, bird)
    assert s.ex_spider == execution_match(pred, gold, employees_db, "spider")
    assert s.ex_bird == execution_match(pred, gold, employees_db, "bird")


def test_hallucinations_syntax_and_execution_errors(employees_db):
    ex = make_example(employees_db, "SELECT name FROM employees WHERE salary > 100")
    s = score_sql(ex, "SELECT nme FROM customers")
    assert s.hallucinations == [("table", "customers")] and s.hallucinated
    assert (s.exec_error, s.syntax_error, s.ex_spider) == ("no_such_table", False, False)
    s = score_sql(ex, "SELECT name, FROM employees")  # sqlglot accepts it, SQLite does not
    assert s.syntax_error and s.exec_error == "syntax"
    s = score_sql(ex, "SELECT name FROM (((")
    assert s.syntax_error and s.structural == 0.0 and s.hallucinations == []
    s = score_sql(ex, "SELECT name FROM employees")  # right SELECT, missing WHERE
    assert 0.0 < s.structural < 1.0 and not s.ex_spider


def test_failures_are_scored_as_wrong_with_a_status(employees_db, tmp_path):
    ex = make_example(employees_db, "SELECT name FROM employees")
    s = score_sql(ex, None, status="missing_prediction")
    assert (s.status, s.ex_spider, s.syntax_error, s.exec_error) == (
        "missing_prediction",
        False,
        True,
        "no_sql",
    )
    assert score_sql(ex, "   ").status == "no_sql"
    gone = make_example(tmp_path / "missing.sqlite", "SELECT name FROM employees")
    s = score_sql(gone, "SELECT name FROM employees")
    assert (s.status, s.ex_spider, s.exec_error) == ("missing_db", False, "missing_db")
    bad_gold = make_example(employees_db, "SELECT nope FROM employees")
    s = score_sql(bad_gold, "SELECT name FROM employees")
    assert (s.status, s.ex_spider, s.ex_bird, s.gold_error) == ("gold_error", False, False, "no_such_column")


def test_score_completion_extracts_and_checks_the_format(employees_db):
    ex = make_example(employees_db, "SELECT COUNT(*) FROM employees")
    good = "reasoning</think>\n<answer>\n```sql\nSELECT COUNT(*) FROM employees\n```\n</answer>"
    s = score_completion(ex, good)
    assert s.format_ok and s.ex_spider and s.completion_chars == len(good)
    s = score_completion(ex, "no tags at all, no sql")
    assert s.format_ok is False and s.status == "no_sql" and s.syntax_error


def test_aggregate_counts_every_example_and_brackets_the_mean(employees_db):
    gold = "SELECT name FROM employees"
    scores = [
        score_sql(make_example(employees_db, gold, id=f"q{i}", difficulty="easy"), gold) for i in range(6)
    ]
    scores += [score_sql(make_example(employees_db, gold, id="h", difficulty="hard"), "SELECT x FROM ghosts")]
    scores += [score_sql(make_example(employees_db, gold, id="m"), None, status="missing_prediction")]
    agg = aggregate(scores, n_boot=500, seed=1)
    m = agg["metrics"]
    assert agg["n"] == 8 and m["ex_spider"]["n"] == 8
    assert m["ex_spider"]["mean"] == pytest.approx(6 / 8)
    assert m["ex_spider"]["ci_low"] < 0.75 < m["ex_spider"]["ci_high"]
    assert m["hallucination_rate"]["mean"] == pytest.approx(1 / 8)
    assert m["syntax_error_rate"]["mean"] == pytest.approx(1 / 8)  # the missing prediction
    assert m["exec_error_rate"]["mean"] == pytest.approx(2 / 8)
    assert m["format_valid_rate"]["n"] == 0 and math.isnan(m["format_valid_rate"]["mean"])
    assert agg["status"]["ok"] == 7 and agg["status"]["missing_prediction"] == 1
    assert agg["exec_error_kinds"] == {"no_such_table": 1, "no_sql": 1}
    assert agg["top_hallucinations"] == {"table:ghosts": 1}
    assert list(agg["by_difficulty"]) == ["easy", "hard"]
    assert agg["by_difficulty"]["easy"]["ex_spider"] == 1.0 and agg["by_difficulty"]["hard"]["ex_bird"] == 0.0
    assert agg["by_hardness"]["easy"]["n"] == 8
    flat = summary(aggregate(scores, n_boot=0))
    assert flat["ex_bird"] == pytest.approx(0.75)


def test_bootstrap_helpers():
    mean, lo, hi = bootstrap_mean([1.0] * 5)
    assert (mean, lo, hi) == (1.0, 1.0, 1.0)
    assert all(math.isnan(v) for v in bootstrap_mean([]))
    assert bootstrap_mean([0, 1], seed=3) == bootstrap_mean([0, 1], seed=3)
    d = paired_bootstrap([0, 0, 1, 1, 0, 1, 0, 0], [1, 0, 1, 1, 1, 1, 0, 1], seed=0)
    assert d["delta"] == pytest.approx(3 / 8) and d["rel_delta"] == pytest.approx(1.0)
    assert 0 < d["delta_low"] <= d["delta"] <= d["delta_high"]
    same = paired_bootstrap([0, 1, 1], [0, 1, 1])
    assert same["delta"] == same["delta_low"] == same["delta_high"] == 0.0
    assert math.isnan(paired_bootstrap([0, 0], [1, 1])["rel_delta"])  # relative to 0 is undefined
    u = unpaired_bootstrap([0, 0, 0, 0], [1, 1, 1, 1, 1])
    assert u["delta"] == 1.0 and u["delta_low"] == 1.0
    with pytest.raises(ValueError, match="length"):
        paired_bootstrap([1], [1, 2])
