"""StructuralReward: per-clause F1 of normalised SELECT items, WHERE predicates and JOINs."""

from __future__ import annotations

import pytest

from sqlr1x.rewards import StructuralReward
from sqlr1x.rewards.structural import clause_f1
from sqlr1x.sql.analysis import parse_sql

FULL = 0.3 + 0.3 + 0.2


@pytest.fixture
def reward() -> StructuralReward:
    return StructuralReward(select_weight=0.3, where_weight=0.3, join_weight=0.2)


def test_seed_signature_verbatim():
    from extensions.reward_enhanced import StructuralReward

    structural_reward = StructuralReward(select_weight=0.3, where_weight=0.3, join_weight=0.2)
    generated_sql = ground_truth_sql = "SELECT name FROM employees WHERE salary > 100"
    assert structural_reward.compute(generated_sql, ground_truth_sql) == FULL


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT name FROM employees",
        "SELECT name, salary FROM employees WHERE salary > 100 AND department = 'Sales'",
        "SELECT e.name FROM employees AS e JOIN departments AS d ON e.department_id = d.id WHERE d.budget > 10",
        "SELECT count(*) FROM employees GROUP BY department",
    ],
)
def test_identical_queries_get_exactly_the_weight_sum(reward, sql):
    assert reward.compute(sql, sql) == FULL
    assert StructuralReward(0.5, 0.25, 0.125).compute(sql, sql) == 0.5 + 0.25 + 0.125


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("SELECT salary, name FROM employees", "SELECT name, salary FROM employees"),
        (
            "SELECT name FROM employees WHERE department = 'Sales' AND salary > 100",
            "SELECT name FROM employees WHERE salary > 100 AND department = 'Sales'",
        ),
        ("SELECT name FROM employees WHERE 100 < salary", "SELECT name FROM employees WHERE salary > 100"),
        (
            "SELECT name FROM employees WHERE 'Sales' = department",
            "SELECT name FROM employees WHERE department = 'Sales'",
        ),
        ("select NAME from EMPLOYEES where SALARY > 100", "SELECT name FROM employees WHERE salary > 100"),
        (
            "SELECT e.name FROM employees AS e WHERE e.salary > 100",
            "SELECT name FROM employees WHERE salary > 100",
        ),
        (
            "SELECT T2.name FROM departments AS T1 JOIN employees AS T2 ON T2.department_id = T1.id",
            "SELECT employees.name FROM employees JOIN departments ON departments.id = employees.department_id",
        ),
    ],
)
def test_order_alias_case_and_operand_order_do_not_matter(reward, pred, gold):
    assert reward.compute(pred, gold) == FULL


def test_partial_credit_is_f1_times_weight(reward):
    # SELECT {name} vs {name, salary}: F1 = 2/3; WHERE and JOIN identical
    got = reward.compute("SELECT name FROM employees", "SELECT name, salary FROM employees")
    assert got == pytest.approx(0.3 * 2 / 3 + 0.3 + 0.2)
    # WHERE {a} vs {a, b}: F1 = 2/3
    got = reward.compute(
        "SELECT name FROM employees WHERE salary > 100",
        "SELECT name FROM employees WHERE salary > 100 AND department = 'Sales'",
    )
    assert got == pytest.approx(0.3 + 0.3 * 2 / 3 + 0.2)


def test_clause_on_one_side_only_scores_zero(reward):
    # gold has WHERE, prediction has none: where F1 = 0
    assert reward.compute(
        "SELECT name FROM employees", "SELECT name FROM employees WHERE salary > 1"
    ) == pytest.approx(0.5)
    # prediction adds a WHERE the gold does not have
    assert reward.compute(
        "SELECT name FROM employees WHERE salary > 1", "SELECT name FROM employees"
    ) == pytest.approx(0.5)


def test_clause_absent_on_both_sides_gets_full_credit(reward):
    diff = reward.diff("SELECT id FROM employees", "SELECT name FROM employees")
    assert diff.clause("where").f1 == 1.0
    assert diff.clause("select").f1 == 0.0
    assert diff.score == pytest.approx(0.3 + 0.2)


def test_wrong_join_table(reward):
    got = reward.diff(
        "SELECT employees.name FROM employees JOIN projects ON projects.id = employees.department_id",
        "SELECT employees.name FROM employees JOIN departments ON departments.id = employees.department_id",
    )
    join = got.clause("join")
    assert "employees" in join.matched
    assert any("departments" in x for x in join.missing) and any("projects" in x for x in join.extra)
    assert 0.0 < join.f1 < 1.0


def test_unparseable_prediction_scores_zero(reward):
    gold = "SELECT name FROM employees"
    for pred in (
        "SELEC name FRM employees",
        "SELEC x",
        "",
        None,
        "SELECT name FROM employees WHERE",
        "garbage",
    ):
        assert reward.compute(pred, gold) == 0.0
    assert reward.diff("SELEC x", gold).reason == "prediction is unparseable"


def test_unparseable_gold_scores_zero(reward):
    assert reward.compute("SELECT 1", "SELEC oops") == 0.0
    assert reward.diff("SELECT 1", "SELEC oops").reason == "gold SQL is unparseable"


def test_several_statements_are_not_compared(reward):
    assert reward.compute("SELECT name FROM employees; SELECT 1", "SELECT name FROM employees") == 0.0


def test_diff_reports_matched_missing_extra(reward):
    diff = reward.diff("SELECT name, id FROM employees", "SELECT name, salary FROM employees")
    select = diff.clause("select")
    assert len(select.matched) == 1 and len(select.missing) == 1 and len(select.extra) == 1
    assert any("salary" in x for x in select.missing) and any("id" in x for x in select.extra)
    assert [c.clause for c in diff.clauses] == ["select", "where", "join"]
    assert diff.score == pytest.approx(sum(c.score for c in diff.clauses))


def test_trailing_comment_after_semicolon_is_one_statement(reward):
    assert reward.compute("SELECT name FROM employees; -- done", "SELECT name FROM employees") == FULL


def test_accepts_parsed_sql(reward):
    sql = "SELECT name FROM employees"
    assert reward.compute(parse_sql(sql), parse_sql(sql)) == FULL


def test_clause_f1():
    assert clause_f1(frozenset(), frozenset()) == 1.0
    assert clause_f1(frozenset({"a"}), frozenset()) == 0.0
    assert clause_f1(frozenset({"a", "b"}), frozenset({"b", "c"})) == 0.5


def test_wrong_cte_body_loses_the_join_credit(reward):
    gold = "WITH top AS (SELECT name FROM employees WHERE salary > 99) SELECT name FROM top"
    pred = "WITH top AS (SELECT name FROM employees WHERE salary > 10) SELECT name FROM top"
    # SELECT {_d1.name} both sides: 0.3; WHERE absent on both sides: 0.3; the one FROM item (the
    # CTE body) differs: 0.0.
    assert reward.compute(pred, gold) == pytest.approx(0.6)
    # the CTE's name is an alias: renaming it keeps full credit
    assert reward.compute(gold.replace("top", "best"), gold) == FULL
