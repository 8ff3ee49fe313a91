"""Reward integrity (issue 10): no dodge pays, and what is not the policy's fault is no reward."""

from __future__ import annotations

import logging

import pytest

import sqlr1x.rewards.computer as computer_module
from conftest import make_db
from sqlr1x.data.example import Example
from sqlr1x.db.compare import execution_match, remove_distinct, results_match
from sqlr1x.db.executor import SQLiteExecutor
from sqlr1x.eval.metrics import score_sql
from sqlr1x.integrations.trl import make_reward_funcs
from sqlr1x.integrations.verl import SCORE_KEYS, compute_score
from sqlr1x.rewards import EnhancedRewardComputer, SchemaAwareReward, SQLR1Baseline
from sqlr1x.rewards.computer import SCHEMA_PENALTY_SHARE, bounded_schema_penalty
from sqlr1x.sql.analysis import find_hallucinations
from sqlr1x.sql.resolve import string_read_identifiers

SEED_SCHEMA = {"tables": {"employees": {"columns": ["id", "name", "salary", "department"]}}}
GOLD = "SELECT name, salary FROM employees"


def wrap(sql: str) -> str:
    return f"<think>\nlook at employees\n</think>\n<answer>\n```sql\n{sql}\n```\n</answer>"


@pytest.fixture(autouse=True)
def _fresh_warnings():
    computer_module._WARNED.clear()
    yield
    computer_module._WARNED.clear()


# ------------------------------------------------------------------------------ double quotes
def test_seed_example_is_unchanged():
    assert SchemaAwareReward(weight=-0.5).compute("SELECT name FROM customers", SEED_SCHEMA) == -0.5
    assert find_hallucinations("SELECT name FROM customers", SEED_SCHEMA) == [("table", "customers")]


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ('SELECT name FROM employees WHERE name = "John"', []),  # Spider's literal
        ('SELECT name FROM employees WHERE "John" = name', []),
        ('SELECT name FROM employees WHERE department IN ("Sales", "HR")', []),
        ('SELECT name FROM employees WHERE name LIKE "J%"', []),
        ('SELECT name FROM employees WHERE name BETWEEN "A" AND "K"', []),
        ('SELECT name FROM employees AS e WHERE e.name = "John"', []),
        ('SELECT name, "pay" FROM employees', [("column", "pay")]),  # SELECT item: an identifier
        ('SELECT name FROM employees ORDER BY "pay"', [("column", "pay")]),
        ('SELECT name FROM employees WHERE "pay" > 10', [("column", "pay")]),  # other side no column
        ('SELECT name FROM employees WHERE "pay" = "John"', [("column", "pay"), ("column", "John")]),
        ('SELECT "name", "salary" FROM employees', []),  # real columns, double-quoted
    ],
)
def test_double_quotes_are_literals_only_in_literal_positions(sql, found):
    assert find_hallucinations(sql, SEED_SCHEMA) == found


def test_string_read_identifiers():
    assert string_read_identifiers('SELECT name, "pay" FROM employees', SEED_SCHEMA) == ["pay"]
    assert string_read_identifiers('SELECT name FROM employees WHERE name = "John"', SEED_SCHEMA) == []
    assert string_read_identifiers("SELECT name, pay FROM employees", SEED_SCHEMA) == []


def test_double_quoting_an_unknown_column_no_longer_outscores_the_honest_query(employees_db):
    computer = EnhancedRewardComputer()
    quoted = computer.compute_reward(wrap('SELECT name, "pay" FROM employees'), GOLD, db_path=employees_db)
    honest = computer.compute_reward(wrap("SELECT name, pay FROM employees"), GOLD, db_path=employees_db)
    assert quoted.baseline["status"] == "quoted_identifier"  # it ran in SQLite, but earns no exec credit
    assert quoted.baseline["exec"] == -2.0 and quoted.baseline_total == honest.baseline_total == -1.0
    assert quoted.hallucinations == honest.hallucinations == [("column", "pay")]
    assert quoted.total <= honest.total
    # the SQL-R1 baseline alone keeps the deviation too
    base = SQLR1Baseline()
    assert base(wrap('SELECT name, "pay" FROM employees'), GOLD, db_path=employees_db)["score"] == -1.0


def test_spider_double_quoted_literal_still_earns_the_full_reward(employees_db):
    gold = "SELECT name FROM employees WHERE department = 'Sales'"
    r = EnhancedRewardComputer().compute_reward(
        wrap('SELECT name FROM employees WHERE department = "Sales"'), gold, db_path=employees_db
    )
    assert r.correct and r.hallucinations == [] and r.schema == 0.0


# ------------------------------------------------------------------------------ unknown tables, R5
def test_adding_an_unknown_table_never_raises_the_reward(employees_db):
    computer = EnhancedRewardComputer()
    for sql in ("SELECT nme, slry, dept FROM employees", "SELECT name, salary FROM employees"):
        plain = computer.compute_reward(wrap(sql), GOLD, db_path=employees_db)
        added = computer.compute_reward(wrap(sql + ", customers"), GOLD, db_path=employees_db)
        assert len(added.hallucinations) == len(plain.hallucinations) + 1
        assert added.total <= plain.total


@pytest.mark.parametrize("syntax_weight", [0.2, 0.05, 0.0])
def test_broken_syntax_and_no_answer_never_outscore_an_honest_attempt(employees_db, syntax_weight):
    computer = EnhancedRewardComputer(syntax_weight=syntax_weight, schema_weight=-2.0)
    broken = computer.compute_reward(wrap("SELECT name, FROM employees"), GOLD, db_path=employees_db)
    nothing = computer.compute_reward("<think>\nno idea\n</think>", GOLD, db_path=employees_db)
    assert broken.structural == broken.schema == 0.0 and broken.total == nothing.total == -1.0
    for n in (1, 2, 5, 20, 60):
        cols = ", ".join(f"col_{i}" for i in range(n))
        attempt = computer.compute_reward(wrap(f"SELECT {cols} FROM employees"), GOLD, db_path=employees_db)
        assert len(attempt.hallucinations) == n
        assert attempt.total >= broken.total  # strictly greater whenever syntax + structural > 0
        if syntax_weight > 0:
            assert attempt.total > broken.total


def test_bounded_penalty_is_monotone_and_bounded():
    earned = 0.5
    values = [bounded_schema_penalty(-0.5, n, earned) for n in range(0, 200)]
    assert values[0] == 0.0
    assert all(b < a for a, b in zip(values, values[1:], strict=False))  # every name still costs
    assert all(v > -SCHEMA_PENALTY_SHARE * earned for v in values)
    assert bounded_schema_penalty(-0.5, 3, 0.0) == 0.0
    assert bounded_schema_penalty(0.5, 3, 0.0) == 1.5  # a positive weight is not a penalty


# ------------------------------------------------------------------------------ DISTINCT
@pytest.fixture(scope="module")
def distinct_db(tmp_path_factory):
    return make_db(
        tmp_path_factory.mktemp("distinct") / "d.sqlite",
        "CREATE TABLE t(c, g); INSERT INTO t VALUES (1, 'a'), (1, 'a'), (2, 'b'), (3, 'b'), (3, 'c');",
    )


def _official(pred: str, gold: str, db) -> bool:
    """The test-suite evaluator's verdict: every DISTINCT token removed from both, then result_eq."""
    ex = SQLiteExecutor()
    p = ex.execute(db, remove_distinct(pred, keep_aggregate=False))
    g = ex.execute(db, remove_distinct(gold, keep_aggregate=False))
    return p.ok and g.ok and results_match(p.rows, g.rows, "spider", order_matters="order by" in gold.lower())


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("SELECT count(*) FROM (SELECT DISTINCT c FROM t)", "SELECT count(DISTINCT c) FROM t"),
        (
            "SELECT count(*) FROM (SELECT DISTINCT c FROM t WHERE c IS NOT NULL)",
            "SELECT count(DISTINCT c) FROM t",
        ),
        ("SELECT DISTINCT c FROM t", "SELECT c FROM t"),
        ("SELECT c FROM t", "SELECT DISTINCT c FROM t"),
        ("SELECT DISTINCT g FROM t WHERE c > 1", "SELECT g FROM t WHERE c > 1"),
        ("SELECT count(DISTINCT c) FROM t", "SELECT count(*) FROM (SELECT DISTINCT c FROM t)"),
    ],
)
def test_what_the_official_evaluator_accepts_we_accept(distinct_db, pred, gold):
    assert _official(pred, gold, distinct_db)
    assert execution_match(pred, gold, distinct_db)
    r = EnhancedRewardComputer().compute_reward(wrap(pred), gold, db_path=distinct_db)
    assert r.correct


def test_distinct_removal_is_top_level_only():
    assert remove_distinct("SELECT DISTINCT c FROM (SELECT DISTINCT c FROM t)") == (
        "SELECT c FROM (SELECT DISTINCT c FROM t)"
    )
    assert remove_distinct("SELECT DISTINCT a FROM t UNION SELECT DISTINCT b FROM u") == (
        "SELECT a FROM t UNION SELECT b FROM u"
    )
    assert remove_distinct("WITH x AS (SELECT DISTINCT a FROM t) SELECT DISTINCT a FROM x") == (
        "WITH x AS (SELECT DISTINCT a FROM t) SELECT a FROM x"
    )


# ------------------------------------------------------------------------------ no silent rewards
def _trl_call(funcs, completions, gold, db):
    logged = {}
    out = [
        f(
            prompts=["q <think>"] * len(completions),
            completions=completions,
            gold_sql=[gold] * len(completions),
            db_path=[db] * len(completions),
            log_metric=lambda k, v: logged.__setitem__(k, v),
        )
        for f in funcs
    ]
    return out, logged


def test_missing_database_is_no_reward_anywhere(tmp_path, caplog):
    missing = str(tmp_path / "gone" / "gone.sqlite")
    funcs, _ = make_reward_funcs({})
    completions = [wrap(GOLD).replace("<think>\n", "", 1), wrap("SELECT 1").replace("<think>\n", "", 1)]
    with caplog.at_level(logging.WARNING, logger="sqlr1x.rewards"):
        out, logged = _trl_call(funcs, completions, GOLD, missing)
        _trl_call(funcs, [c + " " for c in completions], GOLD, missing)
    assert all(v is None for values in out for v in values)
    assert logged["sqlr1x/invalid_samples"] == 2.0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and missing in r.getMessage()]
    assert len(warnings) == 1  # once per database
    scores = compute_score("synsql", wrap(GOLD), GOLD, {"db_path": missing})
    assert sorted(scores) == sorted(SCORE_KEYS)
    assert scores["invalid"] == 1.0 and scores["score"] == 0.0


def test_failing_gold_is_no_reward(employees_db):
    r = EnhancedRewardComputer().compute_reward(
        wrap(GOLD), "SELECT nope FROM employees", db_path=employees_db
    )
    assert r.invalid == "gold_error" and not r.valid and r.total == 0.0
    ok = compute_score("synsql", wrap(GOLD), GOLD, {"db_path": str(employees_db)})
    assert ok["invalid"] == 0.0 and ok["score"] > 6


SLOW = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 50000000) SELECT count(*) FROM r"


def test_gold_timeout_is_no_reward_and_never_cached(employees_db):
    ex = SQLiteExecutor(timeout=0.05)
    first = ex.execute_cached(employees_db, SLOW)
    assert first.error_kind == "timeout"
    assert ex._cache_get(ex._cache_key(employees_db, SLOW)) is None  # a timeout is not a result
    baseline = SQLR1Baseline(timeout=0.05, executor=ex)
    computer = EnhancedRewardComputer(baseline_reward_fn=baseline)
    r = computer.compute_reward(wrap("SELECT count(*) FROM employees"), SLOW, db_path=employees_db)
    assert r.invalid == "gold_timeout" and r.total == 0.0


def test_result_cut_by_the_row_cap_is_no_reward(employees_db):
    baseline = SQLR1Baseline(max_rows=2)
    r = EnhancedRewardComputer(baseline_reward_fn=baseline).compute_reward(
        wrap("SELECT name FROM employees"), "SELECT name FROM employees", db_path=employees_db
    )
    assert r.invalid == "truncated" and r.total == 0.0


def test_a_prediction_alone_over_the_row_cap_is_a_mismatch_in_spider_mode(employees_db):
    """The gold fits under the cap and the prediction does not: as bags they differ (the policy's fault)."""
    baseline = SQLR1Baseline(max_rows=3)
    computer = EnhancedRewardComputer(baseline_reward_fn=baseline)
    bomb = "SELECT a.name FROM employees a, employees b"
    r = computer.compute_reward(wrap(bomb), "SELECT name FROM employees LIMIT 2", db_path=employees_db)
    assert r.baseline["status"] == "mismatch" and "truncated" in r.baseline["reason"]
    assert r.valid and r.baseline_total == 0.0
    # BIRD compares sets: the cut rows might all be duplicates of the gold's, so it is not comparable
    bird = EnhancedRewardComputer(baseline_reward_fn=SQLR1Baseline(max_rows=3, compare_mode="bird"))
    r = bird.compute_reward(wrap(bomb), "SELECT name FROM employees LIMIT 2", db_path=employees_db)
    assert r.invalid == "truncated" and r.total == 0.0


def test_predictions_cut_by_the_batch_deadline_are_no_reward(employees_db):
    """A query the batch deadline stopped may be an innocent one queued behind slow ones: no reward."""
    from sqlr1x.db.executor import PredictionLimit

    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
    ex = SQLiteExecutor(timeout=30.0, pred_limit=PredictionLimit(ceiling=30.0), batch_timeout=0.3)
    computer = EnhancedRewardComputer(baseline_reward_fn=SQLR1Baseline(executor=ex), workers=1)
    items = [
        {"solution_str": wrap(endless + f" -- {i}"), "ground_truth": GOLD, "db_path": str(employees_db)}
        for i in range(3)
    ]
    results = computer.compute_rewards(items)
    assert [r.baseline["status"] for r in results] == ["deadline"] * 3
    assert all(r.invalid == "deadline" and r.total == 0.0 for r in results)
    ex.close()


# ------------------------------------------------------------------------------ one definition
@pytest.mark.parametrize(
    "pred",
    [
        GOLD,
        "SELECT e.salary, e.name FROM employees AS e",
        "SELECT name, salary FROM employees WHERE salary > 100",
        "SELECT name, bonus FROM employees",
        "SELECT count(*) FROM (SELECT DISTINCT department FROM employees WHERE department IS NOT NULL)",
        "SELECT name, FROM employees",
        'SELECT name, "pay" FROM employees',
        "SELECT T1.name, T2.name FROM employees AS T1 JOIN departments AS T2 ON T1.department_id = T2.id",
    ],
)
@pytest.mark.parametrize(
    "gold", [GOLD, "SELECT count(DISTINCT department) FROM employees", "SELECT name FROM departments"]
)
def test_reward_and_eval_agree(employees_db, pred, gold):
    example = Example("x", "q", "", "company", str(employees_db), gold, "test", "dev")
    computer = EnhancedRewardComputer()
    reward = computer.compute_reward(wrap(pred), gold, db_path=employees_db)
    evaluated = score_sql(example, pred)
    assert reward.correct == bool(evaluated.ex_spider)
    weights = computer.structural_reward
    total = weights.select_weight + weights.where_weight + weights.join_weight
    assert evaluated.structural == pytest.approx(max(0.0, min(1.0, reward.structural / total)))
    assert evaluated.hallucinations == [tuple(h) for h in reward.hallucinations]
    assert evaluated.syntax_error == (not reward.syntax_valid)
