"""SchemaAwareReward: weight × number of distinct hallucinated tables/columns (semantics: docs/rewards.md#enhanced-components)."""

from __future__ import annotations

import pytest

import sqlr1x.sql.schema as schema_module
from sqlr1x.rewards import SchemaAwareReward
from sqlr1x.rewards._common import coerce_schema
from sqlr1x.sql.analysis import parse_sql
from sqlr1x.sql.schema import Schema


def test_seed_example_verbatim():
    from extensions.reward_enhanced import SchemaAwareReward

    schema = {"tables": {"employees": {"columns": ["id", "name", "salary", "department"]}}}
    reward = SchemaAwareReward(weight=-0.5)
    sql = "SELECT name FROM customers"  # 'customers' doesn't exist
    assert reward.compute(sql, schema) == -0.5


@pytest.fixture
def reward() -> SchemaAwareReward:
    return SchemaAwareReward(weight=-0.5)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT name, salary FROM employees WHERE department = 'Sales'", 0.0),
        ("SELECT nme FROM employees", -0.5),
        ("SELECT nme, slary FROM employees", -1.0),
        ("SELECT nme FROM employees WHERE NME = 'x' ORDER BY Nme", -0.5),  # distinct, case-insensitive
        ("SELECT c.name, c.city, c.zip FROM customers AS c", -0.5),  # its qualified columns not counted again
        ("SELECT name FROM customers JOIN orders ON customers.id = orders.customer_id", -1.0),
        ("SELECT name FROM customers, employees", -0.5),
        ("SELECT NAME FROM EMPLOYEES WHERE Salary > 1", 0.0),
        ("SELECT e.name FROM employees AS e", 0.0),  # table alias
        ("WITH rich AS (SELECT name FROM employees WHERE salary > 100) SELECT name FROM rich", 0.0),  # CTE
        ("SELECT s.n FROM (SELECT name AS n FROM employees) AS s", 0.0),  # subquery alias and its column
        ("SELECT salary * 2 AS double_pay FROM employees ORDER BY double_pay", 0.0),  # SELECT alias
        ('SELECT name FROM employees WHERE name = "John"', 0.0),  # Spider's double-quoted literal
        ('SELECT "name", [salary], `department` FROM "employees"', 0.0),  # quoted identifiers
        ("SELECT [nme] FROM employees", -0.5),  # a bracketed identifier is never a literal
        ("SELECT e.nme FROM employees AS e", -0.5),
        ("SELECT name FROM employees WHERE id IN (SELECT emp_id FROM bonuses)", -0.5),
        ("SELECT count(*) FROM employees", 0.0),
    ],
)
def test_semantics(reward, employees_schema, sql, expected):
    assert reward.compute(sql, employees_schema) == expected


def test_unparseable_sql_scores_zero(reward, employees_schema):
    for sql in ("SELEC nme FRM", "", "SELECT name FROM employees WHERE"):
        assert reward.compute(sql, employees_schema) == 0.0
    assert reward.compute(None, employees_schema) == 0.0


def test_weight_scales_count(employees_schema):
    assert SchemaAwareReward(weight=-1.0).compute("SELECT a, b, c FROM employees", employees_schema) == -3.0
    assert SchemaAwareReward(weight=0.0).compute("SELECT a FROM employees", employees_schema) == 0.0


def test_hallucinations_names(reward, employees_schema):
    found = reward.hallucinations(
        "SELECT nme FROM employees WHERE EXISTS (SELECT 1 FROM x)", employees_schema
    )
    assert found == [("column", "nme"), ("table", "x")]
    assert [h.kind for h in found] == ["column", "table"]


def test_accepts_parsed_sql(reward, employees_schema):
    assert reward.compute(parse_sql("SELECT nme FROM employees"), employees_schema) == -0.5


def test_every_schema_format_gives_the_same_value(reward, employees_db):
    sql = "SELECT name, bonus FROM employees WHERE id IN (SELECT id FROM projects)"
    spider_entry = {
        "db_id": "company",
        "table_names_original": ["departments", "employees"],
        "column_names_original": [
            [-1, "*"],
            [0, "id"],
            [0, "name"],
            [0, "budget"],
            [1, "id"],
            [1, "name"],
            [1, "salary"],
            [1, "department"],
            [1, "department_id"],
            [1, "hire date"],
        ],
        "column_types": ["text"] * 10,
        "primary_keys": [1, 4],
        "foreign_keys": [[8, 1]],
    }
    values = {
        reward.compute(sql, spider_entry),
        reward.compute(sql, str(employees_db)),
        reward.compute(sql, employees_db),
        reward.compute(sql, Schema.from_sqlite(employees_db)),
    }
    assert values == {-1.0}


def test_schema_is_coerced_once_per_content(monkeypatch, reward):
    calls = []
    original = schema_module.Schema.coerce.__func__

    def counting(cls, x):
        if not isinstance(x, Schema):
            calls.append(x)
        return original(cls, x)

    monkeypatch.setattr(schema_module.Schema, "coerce", classmethod(counting))
    schema = {"tables": {"cache_probe": {"columns": ["a", "b"]}}}
    for _ in range(5):
        assert reward.compute("SELECT a, zz FROM cache_probe", schema) == -0.5
    assert len(calls) == 1
    # a mutated dict is a different schema and is coerced again
    schema["tables"]["cache_probe"]["columns"].append("zz")
    assert reward.compute("SELECT a, zz FROM cache_probe", schema) == 0.0
    assert len(calls) == 2


def test_bad_schema_raises_clear_error(reward):
    with pytest.raises(ValueError, match="invalid schema"):
        reward.compute("SELECT a FROM t", 12)
    schema, reason = coerce_schema(["not", "a", "schema"])
    assert schema is None and "invalid schema" in reason
