"""Canonical clause components (sqlr1x.sql.canonical): real sqlglot parses, no mocks."""

from __future__ import annotations

import pickle

import pytest

from sqlr1x.sql import analysis
from sqlr1x.sql.canonical import (
    Clause,
    ClauseComponents,
    Component,
    InferredOwners,
    clause_components,
    paired_components,
    similarity,
)
from sqlr1x.sql.schema import Schema


def items(sql: str, *clauses: Clause, schema=None) -> set[str]:
    c = clause_components(sql, schema)
    assert c is not None, sql
    return set(c.keys(*clauses)) if clauses else {x.label for x in c.items}


def test_analysis_re_exports_the_same_objects():
    assert analysis.clause_components is clause_components
    assert analysis.ClauseComponents is ClauseComponents


def test_every_clause_is_an_item():
    sql = (
        "SELECT DISTINCT e.department, count(*) FROM employees AS e JOIN departments AS d "
        "ON e.department_id = d.id WHERE d.budget > 10 GROUP BY e.department HAVING count(*) >= 2 "
        "ORDER BY count(*) DESC LIMIT 3 OFFSET 1"
    )
    c = clause_components(sql)
    assert c.select == {"employees.department", "count(*)"}
    assert c.distinct
    assert c.where == {"10 < departments.budget"}
    assert c.group_by == {"employees.department"}
    assert c.having == {"2 <= count(*)"}
    assert c.order_by == {"count(*) desc"}
    assert c.limit == {"3 offset 1"}
    assert c.joins == {"employees", "departments", "on departments.id = employees.department_id"}
    assert c.set_ops == frozenset()
    assert all(isinstance(i, Component) and isinstance(i.clause, Clause) for i in c.items)


def test_predicate_parts_read_from_the_column_side():
    for sql in ("SELECT a FROM t WHERE x > 10", "SELECT a FROM t WHERE 10 < x"):
        (where,) = clause_components(sql).of(Clause.WHERE)
        assert where.parts == ("t.x", ">", "10")
    (p,) = clause_components("SELECT a FROM t WHERE x NOT IN (2, 1)").of(Clause.WHERE)
    assert p.parts == ("t.x", "not in", "(1, 2)")
    (p,) = clause_components("SELECT a FROM t WHERE x IS NOT NULL").of(Clause.WHERE)
    assert p.parts == ("t.x", "is not", "null")
    (p,) = clause_components("SELECT a FROM t WHERE x NOT BETWEEN 1 AND 2").of(Clause.WHERE)
    assert p.parts == ("t.x", "not between", "1 and 2")
    (p,) = clause_components("SELECT a FROM t WHERE x NOT LIKE 'a%'").of(Clause.WHERE)
    assert p.parts == ("t.x", "not like", "'a%'")
    (p,) = clause_components("SELECT a FROM t WHERE x = 1 OR y = 2").of(Clause.WHERE)
    assert p.parts == ()  # an OR group matches only exactly


def test_similarity_rules():
    def w(*parts: str) -> Component:
        return Component(Clause.WHERE, " ".join(parts), parts)

    gold = w("t.x", ">", "10")
    assert similarity(gold, gold) == 1.0
    for one_wrong in (w("t.x", ">", "11"), w("t.x", "<", "10"), w("t.y", ">", "10")):
        assert similarity(one_wrong, gold) == pytest.approx(0.8)
    assert similarity(w("t.y", "<", "10"), gold) == pytest.approx(1 / 6)
    assert similarity(w("1", "=", "1"), gold) == 0.0
    having = Component(Clause.HAVING, gold.key, gold.parts)
    assert similarity(having, gold) == 0.0
    # anchored clauses: another table or set operator is simply wrong
    t, left = Component(Clause.TABLE, "t", ("t", "")), Component(Clause.TABLE, "left join t", ("t", "left"))
    assert similarity(left, t) == pytest.approx(0.75)
    assert similarity(Component(Clause.TABLE, "u", ("u", "")), t) == 0.0
    union = Component(Clause.SET_OP, "union", ("union",))
    assert similarity(Component(Clause.SET_OP, "except", ("except",)), union) == 0.0


def test_select_item_parts():
    c = clause_components("SELECT count(DISTINCT a), max(t.b), c, a + 1 FROM t")
    parts = {i.key: i.parts for i in c.of(Clause.SELECT)}
    assert parts == {
        "count(distinct t.a)": ("count distinct", "t", "a"),
        "max(t.b)": ("max", "t", "b"),
        "t.c": ("", "t", "c"),
        "(t.a + 1)": (),
    }


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("WITH c AS (SELECT * FROM t WHERE x > 1) SELECT c.a FROM c", "SELECT a FROM t WHERE x > 1"),
        ("SELECT s.a FROM (SELECT a, x FROM t) AS s WHERE s.x > 1", "SELECT a FROM t WHERE x > 1"),
        ("WITH c(k) AS (SELECT a FROM t) SELECT k FROM c ORDER BY k", "SELECT a FROM t ORDER BY a"),
        (
            "WITH a1 AS (SELECT * FROM t WHERE x = 1), a2 AS (SELECT * FROM a1 WHERE y = 2) SELECT z FROM a2",
            "SELECT z FROM t WHERE y = 2 AND x = 1",
        ),
        ("SELECT * FROM (SELECT a, b FROM t)", "SELECT a, b FROM t"),
        ("SELECT count(*) FROM (SELECT DISTINCT a FROM t)", "SELECT count(DISTINCT a) FROM t"),
        (
            "SELECT count(*) FROM (SELECT a FROM t WHERE b = 1 GROUP BY a)",
            "SELECT count(DISTINCT a) FROM t WHERE b = 1",
        ),
        ("SELECT a FROM t, u WHERE t.k = u.k", "SELECT a FROM t JOIN u ON u.k = t.k"),
        ("SELECT a FROM t JOIN u USING (k)", "SELECT a FROM t JOIN u ON t.k = u.k"),
        ("SELECT a, b AS n FROM t ORDER BY n DESC", "SELECT a, b FROM t ORDER BY b DESC"),
        ("SELECT a, b FROM t ORDER BY 2", "SELECT a, b FROM t ORDER BY b"),
        ("SELECT a, count(*) FROM t GROUP BY 1", "SELECT a, count(*) FROM t GROUP BY a"),
    ],
)
def test_rewrites_read_as_the_flat_form(a, b):
    assert clause_components(a) == clause_components(b)


def test_count_over_a_grouped_derived_table_needs_the_same_key():
    grouped_by_other = clause_components("SELECT count(*) FROM (SELECT a FROM t GROUP BY b)")
    assert grouped_by_other != clause_components("SELECT count(DISTINCT a) FROM t")
    assert grouped_by_other.group_by == {"t.b"}


def test_derived_and_cte_sources_inline_their_expressions():
    assert items("SELECT max(n) FROM (SELECT count(*) AS n FROM t GROUP BY a)", Clause.SELECT) == {
        "max(count(*))"
    }
    assert items("SELECT max(n) FROM (SELECT count(*) AS n FROM t GROUP BY a)", Clause.GROUP_BY) == {"t.a"}


def test_self_join_instances_and_outer_joins():
    c = clause_components(
        "SELECT a.name FROM emp AS a LEFT JOIN emp AS b ON a.boss = b.id WHERE b.name = 'X'"
    )
    assert c.joins == {"emp", "left join emp#2", "on emp#2.id = emp.boss"}
    assert c.where == {"'X' = emp#2.name"}
    # an outer join's ON condition stays a join condition even when it is not an equality
    c = clause_components("SELECT a FROM t LEFT JOIN u ON u.k = t.k AND u.x > 1")
    assert c.joins == {"t", "left join u", "on t.k = u.k", "on 1 < u.x"} and not c.where


def test_set_operations_keep_their_operator_and_order():
    c = clause_components("SELECT a FROM t WHERE x = 1 EXCEPT SELECT a FROM u ORDER BY a LIMIT 2")
    assert c.set_ops == {"except"} and c.select == {"t.a", "except u.a"}
    assert c.joins == {"t", "except u"} and c.where == {"1 = t.x"}
    # the subtracted arm is marked: swapping the arms of EXCEPT changes the components
    swapped = clause_components("SELECT a FROM u EXCEPT SELECT a FROM t WHERE x = 1 ORDER BY a LIMIT 2")
    assert swapped != c
    assert c.order_by == {"t.a asc"} and c.limit == {"2"}
    assert clause_components("SELECT a FROM t UNION ALL SELECT a FROM u").set_ops == {"union all"}
    assert clause_components("SELECT a FROM t INTERSECT SELECT a FROM u").set_ops == {"intersect"}


def test_order_by_keys_keep_their_position():
    a = clause_components("SELECT a FROM t ORDER BY a, b DESC")
    assert a.order_by == {"t.a asc", "t.b (2) desc"}
    assert a != clause_components("SELECT a FROM t ORDER BY b DESC, a")


def test_double_quotes_literal_position_only():
    # a column position: always a column
    assert items('SELECT "name" FROM employees', Clause.SELECT) == {"employees.name"}
    assert items("SELECT name FROM employees WHERE \"name\" = 'J'", Clause.WHERE) == {"'J' = employees.name"}
    # a literal position, naming no known column: a string
    assert items('SELECT name FROM employees WHERE name = "J"', Clause.WHERE) == {"'J' = employees.name"}
    assert items('SELECT name FROM employees WHERE "J" = name', Clause.WHERE) == {"'J' = employees.name"}
    assert items('SELECT name FROM employees WHERE salary BETWEEN "a" AND "b"', Clause.WHERE) == {
        "employees.salary between 'a' and 'b'"
    }
    # ...unless the token names a column that the query (or the schema) knows
    assert items('SELECT name FROM employees WHERE bonus = "salary" AND salary > 1', Clause.WHERE) == {
        "employees.bonus = employees.salary",
        "1 < employees.salary",
    }
    schema = {"tables": {"employees": {"columns": ["name", "salary", "bonus"]}}}
    assert items('SELECT name FROM employees WHERE bonus = "salary"', Clause.WHERE, schema=schema) == {
        "employees.bonus = employees.salary"
    }
    assert items('SELECT name FROM employees WHERE bonus = "John"', Clause.WHERE, schema=schema) == {
        "'John' = employees.bonus"
    }


def test_unqualified_columns_of_a_join():
    # the query's own qualified columns say who offers `salary`; nothing says who offers `name`
    c = clause_components("SELECT name, salary FROM e AS x JOIN d AS y ON x.k = y.k WHERE x.salary > 1")
    assert c.select == {"name", "e.salary"}
    assert c.unresolved == {"name"}
    assert ("e", "salary") in c.refs
    # with the gold's knowledge, `name` is e's
    pred, gold = paired_components(
        "SELECT name, salary FROM e AS x JOIN d AS y ON x.k = y.k",
        "SELECT e.name, e.salary FROM e JOIN d ON e.k = d.k",
    )
    assert pred == gold and pred.select == {"e.name", "e.salary"}
    # two tables offer it: it stays unqualified
    pred, _ = paired_components(
        "SELECT name FROM e JOIN d ON e.k = d.k",
        "SELECT e.name FROM e JOIN d ON e.k = d.k WHERE d.name = 'x'",
    )
    assert pred.select == {"name"}


def test_schema_decides_over_inference():
    schema = {"tables": {"e": {"columns": ["k"]}, "d": {"columns": ["k", "name"]}}}
    pred, gold = paired_components(
        "SELECT name FROM e JOIN d ON e.k = d.k", "SELECT e.name FROM e JOIN d ON e.k = d.k", schema
    )
    assert pred.select == {"d.name"} and gold.select == {"e.name"}


def test_recursive_and_chained_ctes_stay_small():
    rec = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5) SELECT n FROM c"
    assert clause_components(rec) is not None
    parts = ["c0 AS (SELECT 1 AS x)"] + [
        f"c{i} AS (SELECT p.x + q.x AS x FROM c{i - 1} AS p JOIN c{i - 1} AS q ON p.x = q.x)"
        for i in range(1, 60)
    ]
    sql = "WITH " + ", ".join(parts) + " SELECT x FROM c59"
    c = clause_components(sql)
    assert c is not None and sum(len(i.key) for i in c.items) < 300_000
    assert c != clause_components(sql.replace("SELECT 1 AS x", "SELECT 2 AS x"))


def test_dml_statements():
    c = clause_components("UPDATE employees SET salary = 1 WHERE name = 'x'")
    assert c.joins == {"employees"} and c.where == {"'x' = employees.name"}
    assert clause_components("DELETE FROM t WHERE a > 1").where == {"1 < t.a"}


def test_unparseable_and_caching():
    assert clause_components("SELEC oops (") is None
    assert clause_components("") is None
    sql = "SELECT a FROM t WHERE b = 1"
    assert clause_components(sql) is clause_components(sql)
    schema = Schema.coerce({"tables": {"t": {"columns": ["a", "b"]}}})
    assert clause_components(sql, schema) is clause_components(
        sql, {"tables": {"t": {"columns": ["a", "b"]}}}
    )
    # components travel to worker processes
    c = clause_components(sql)
    assert pickle.loads(pickle.dumps(c)) == c


def test_inferred_owners_is_a_plain_value():
    owners = InferredOwners(frozenset({("e", "name")}), frozenset({"name"}))
    assert owners.has("e", "name") and not owners.has("d", "name")
    assert hash(owners) == hash(InferredOwners(frozenset({("e", "name")}), frozenset({"name"})))
