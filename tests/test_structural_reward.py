"""StructuralReward: per-clause F1 of normalised SELECT items, WHERE predicates and JOINs."""

from __future__ import annotations

import pytest

from conftest import make_db
from sqlr1x.rewards import EnhancedRewardComputer, StructuralReward
from sqlr1x.rewards.structural import clause_f1
from sqlr1x.sql.analysis import parse_sql
from sqlr1x.sql.schema import Schema, SchemaError

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


# ------------------------------------------------------------------ with a schema
SINGER_SCHEMA = {
    "tables": {
        "singer": {"columns": ["singer_id", "name", "age"]},
        "concert": {"columns": ["concert_id", "singer_id", "year"]},
    }
}
SINGER_GOLD = "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id"
SINGER_PRED = "SELECT name FROM singer JOIN concert ON singer.singer_id = concert.singer_id"
SINGER_DB = """
CREATE TABLE singer(singer_id INTEGER PRIMARY KEY, name TEXT, age INTEGER);
CREATE TABLE concert(concert_id INTEGER PRIMARY KEY, singer_id INTEGER REFERENCES singer, year INTEGER);
INSERT INTO singer VALUES (1, 'Ann', 30), (2, 'Bo', 41);
INSERT INTO concert VALUES (10, 1, 2014), (11, 2, 2015), (12, 1, 2016);
"""


def test_schema_gives_full_select_credit(reward):
    assert reward.compute(SINGER_PRED, SINGER_GOLD) == pytest.approx(0.3 + 0.2)
    assert reward.compute(SINGER_PRED, SINGER_GOLD, schema=SINGER_SCHEMA) == pytest.approx(FULL)
    diff = reward.diff(SINGER_PRED, SINGER_GOLD, schema=SINGER_SCHEMA)
    assert diff.clause("select").matched == {"singer.name"} and not diff.clause("select").missing
    # Parsed inputs and a Schema object work the same; without a schema the cached diff is not reused.
    parsed = reward.diff(parse_sql(SINGER_PRED), parse_sql(SINGER_GOLD), schema=Schema.coerce(SINGER_SCHEMA))
    assert parsed.score == pytest.approx(FULL)
    assert reward.diff(SINGER_PRED, SINGER_GOLD).clause("select").f1 == 0.0


def test_schema_ambiguous_or_unknown_columns_get_no_credit(reward):
    gold = "SELECT T1.singer_id FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id"
    pred = "SELECT singer_id FROM singer JOIN concert ON singer.singer_id = concert.singer_id"  # ambiguous
    assert reward.diff(pred, gold, schema=SINGER_SCHEMA).clause("select").f1 == 0.0
    unknown = "SELECT nope FROM singer JOIN concert ON singer.singer_id = concert.singer_id"
    assert (
        reward.diff(
            unknown,
            "SELECT T1.nope FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id",
            schema=SINGER_SCHEMA,
        )
        .clause("select")
        .f1
        == 0.0
    )


def test_schema_reordered_aliased_variant_scores_full(reward):
    gold = (
        "SELECT T1.name, T2.year FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id "
        "WHERE T2.year > 2014 AND T1.age < 40"
    )
    pred = "SELECT year, name FROM concert JOIN singer ON concert.singer_id = singer.singer_id WHERE age < 40 AND 2014 < year"
    assert reward.compute(pred, gold) < FULL
    assert reward.compute(pred, gold, schema=SINGER_SCHEMA) == pytest.approx(FULL)


def test_schema_invalid_raises(reward):
    with pytest.raises(SchemaError):
        reward.compute(SINGER_PRED, SINGER_GOLD, schema=42)


def test_computer_uses_the_schema_for_the_structural_reward(tmp_path):
    db = make_db(tmp_path / "singer.sqlite", SINGER_DB)
    text = f"<think>reasoning</think>\n<answer>```sql\n{SINGER_PRED}\n```</answer>"
    computer = EnhancedRewardComputer()
    single = computer.compute_reward(text, SINGER_GOLD, db_path=str(db))
    assert single.structural == pytest.approx(FULL)
    assert single.structural_diff.clause("select").matched == {"singer.name"}
    assert single.baseline["status"] == "match"
    batch = computer.compute_rewards(
        [
            {"solution_str": text, "ground_truth": SINGER_GOLD, "db_path": str(db)},
        ]
    )
    assert [r.structural for r in batch] == pytest.approx([FULL])
    # without a database the SQL-R1 baseline makes a sample invalid (no reward): use a seed-style one
    seed_style = EnhancedRewardComputer(baseline_reward_fn=lambda solution_str, ground_truth: 0.0)
    given = seed_style.compute_reward(text, SINGER_GOLD, schema=SINGER_SCHEMA)
    assert given.structural == pytest.approx(FULL)
    assert seed_style.compute_reward(text, SINGER_GOLD).structural == pytest.approx(0.3 + 0.2)  # no schema
