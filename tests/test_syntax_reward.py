"""EnhancedSyntaxReward: one DML statement accepted by sqlglot *and* SQLite's parser (EXPLAIN)."""

from __future__ import annotations

import os

import pytest

from sqlr1x.rewards import EnhancedSyntaxReward, check_syntax
from sqlr1x.rewards.syntax import _EXPLAINER
from sqlr1x.sql.analysis import parse_sql


@pytest.fixture
def reward() -> EnhancedSyntaxReward:
    return EnhancedSyntaxReward(weight=0.2)


def test_seed_signature_verbatim():
    from extensions.reward_enhanced import EnhancedSyntaxReward

    syntax_reward = EnhancedSyntaxReward(weight=0.2)
    assert syntax_reward.compute("SELECT name FROM employees") == 0.2


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT name FROM employees",
        "select name from employees where salary > 100 order by name limit 3",
        "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
        "SELECT a FROM t UNION SELECT b FROM u",
        "INSERT INTO t (a) VALUES (1)",
        "UPDATE t SET a = 1 WHERE b = 2",
        "DELETE FROM t WHERE a = 1",
        "SELECT name FROM no_such_table",  # names are the schema reward's job, not syntax
        "SELECT no_such_column FROM employees;",
        "SELECT 1 -- trailing comment",
        "SELECT 1; -- comment after the semicolon",
        'SELECT name FROM employees WHERE name = "John"',
    ],
)
def test_valid_dml_earns_the_weight(reward, sql):
    assert reward.compute(sql) == 0.2


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT a, FROM t", "sqlite"),  # sqlglot alone accepts this
        ("", "empty"),
        ("   \n", "empty"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("CREATE TABLE t (a INT)", "not a DML"),
        ("DROP TABLE employees", "not a DML"),
        ("PRAGMA table_info(employees)", "not a DML"),
        ("ATTACH DATABASE '/tmp/x.db' AS x", "not a DML"),
        ("this is not sql at all", ""),
        ("SELECT * FROM t WHERE", "sqlglot"),
        ("SELEC name FROM employees", ""),
        ("SELECT name FROM employees WHERE (salary > 1", ""),
    ],
)
def test_invalid_scores_zero_with_reason(reward, sql, why):
    assert reward.compute(sql) == 0.0
    check = reward.check(sql)
    assert not check.valid and check.reason
    assert why in check.reason


def test_none_and_parsed_input(reward):
    assert reward.compute(None) == 0.0
    assert reward.compute(parse_sql("SELECT 1")) == 0.2
    assert reward.compute(parse_sql("SELECT a, FROM t")) == 0.0


def test_weight_is_configurable():
    assert EnhancedSyntaxReward(weight=0.7).compute("SELECT 1") == 0.7
    assert EnhancedSyntaxReward().weight == 0.2


def test_statement_kind_reported():
    assert check_syntax("WITH a AS (SELECT 1) SELECT * FROM a").statement == "select"
    assert check_syntax("SELECT 1 EXCEPT SELECT 2").statement == "select"
    assert check_syntax("DELETE FROM t").statement == "delete"


def test_results_are_cached():
    sql = "SELECT 'cache-probe' AS x"
    assert check_syntax(sql) is check_syntax(sql)


def test_explain_never_touches_files(tmp_path):
    target = tmp_path / "created.db"
    # Even if such SQL got past the sqlglot gate, the private connection refuses to attach.
    assert _EXPLAINER.error(f"ATTACH DATABASE '{target}' AS x")
    assert not os.path.exists(target)
    assert check_syntax(f"ATTACH DATABASE '{target}' AS x").valid is False
    assert not os.path.exists(target)


def test_nul_byte_and_huge_input(reward):
    assert reward.compute("SELECT 1\x00") == 0.0
    assert reward.compute("SELECT " + "1 + " * 20_000 + "1") in (0.0, 0.2)
