"""sqlr1x.sql.analysis: cached parsing, hallucinated schema elements, clause components."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlr1x.sql.analysis import (
    ClauseComponents,
    Hallucination,
    ParsedSQL,
    clause_components,
    find_hallucinations,
    parse_sql,
    referenced_tables,
)
from sqlr1x.sql.schema import Schema, SchemaError


@pytest.fixture(scope="module")
def company(employees_db) -> Schema:
    """The conftest database: employees (with "hire date") and departments."""
    return Schema.from_sqlite(employees_db)


# ------------------------------------------------------------------------ parse_sql
def test_parse_ok_and_cached():
    a = parse_sql("SELECT name FROM employees")
    assert a.ok and a.error is None and a.n_statements == 1
    assert parse_sql("SELECT name FROM employees") is a
    assert parse_sql(a) is a


@pytest.mark.parametrize(
    "sql, expected_error",
    [
        ("SELEC name FROM (", "Error"),
        ("SELECT 'unterminated", "TokenError"),
        ("", "empty"),
        ("  ;  ", "empty"),
    ],
)
def test_parse_failures_are_typed(sql, expected_error):
    p = parse_sql(sql)
    assert isinstance(p, ParsedSQL)
    assert not p.ok and p.expression is None and p.n_statements == 0
    assert expected_error in p.error


def test_parse_non_string():
    p = parse_sql(None)  # type: ignore[arg-type]
    assert not p.ok and p.error == "not a string"


def test_parse_counts_statements():
    p = parse_sql("SELECT 1; SELECT 2;")
    assert p.ok and p.n_statements == 2 and len(p.statements) == 2
    assert p.expression is p.statements[0]


def test_analysis_does_not_mutate_cached_ast(company):
    sql = "SELECT T1.name FROM employees AS T1 WHERE T1.salary > 1"
    before = parse_sql(sql).expression.sql()
    find_hallucinations(sql, company)
    clause_components(sql)
    referenced_tables(sql)
    assert parse_sql(sql).expression.sql() == before


# -------------------------------------------------------------------- hallucinations
def test_seed_example_is_exactly_one_table(employees_schema):
    assert find_hallucinations("SELECT name FROM customers", employees_schema) == [("table", "customers")]
    assert find_hallucinations("SELECT name FROM customers", employees_schema) == [
        Hallucination("table", "customers")
    ]


def test_spider_double_quoted_string_is_not_a_hallucination(employees_schema):
    assert find_hallucinations('SELECT name FROM employees WHERE name = "John"', employees_schema) == []


def test_double_quoted_identifier_still_resolves_as_column(company):
    # "hire date" is a real column: a double-quoted token that resolves is an identifier.
    assert find_hallucinations('SELECT "hire date" FROM employees WHERE "Hire Date" > 1', company) == []
    # qualified double quotes are never string literals
    assert find_hallucinations('SELECT e."nope" FROM employees AS e', company) == [("column", "nope")]


def test_unknown_column_and_valid_query(employees_schema):
    assert find_hallucinations("SELECT bonus FROM employees", employees_schema) == [("column", "bonus")]
    assert find_hallucinations("SELECT id, name, salary, department FROM employees", employees_schema) == []


def test_distinct_elements_in_text_order(company):
    sql = "SELECT foo, e.bar FROM employees AS e WHERE FOO > 1 AND e.BAR = 2"
    assert find_hallucinations(sql, company) == [("column", "foo"), ("column", "bar")]
    # unqualified `foo` is ambiguous once an unknown table is in scope; `e.bar` is not
    sql = "SELECT foo, e.bar FROM employees AS e JOIN ghosts ON ghosts.x = e.id WHERE e.BAR = 2"
    # next to a real table, the unknown table supplies no columns: foo is still counted (R4)
    assert find_hallucinations(sql, company) == [("column", "foo"), ("column", "bar"), ("table", "ghosts")]


def test_columns_of_unknown_table_not_counted_again(company):
    sql = "SELECT c.x, c.y, customers.z FROM customers AS c JOIN employees e ON c.id = e.id"
    assert find_hallucinations(sql, company) == [("table", "customers")]


def test_an_added_unknown_table_never_hides_columns(company):
    # R4: an unknown table next to a real one supplies no columns, so the count only grows
    assert find_hallucinations("SELECT mystery FROM employees", company) == [("column", "mystery")]
    assert find_hallucinations("SELECT mystery FROM employees, customers", company) == [
        ("column", "mystery"),
        ("table", "customers"),
    ]
    # a column the real table has is not counted; alone, the unknown table is the one error
    assert find_hallucinations("SELECT name FROM employees, customers", company) == [("table", "customers")]
    assert find_hallucinations("SELECT mystery FROM customers", company) == [("table", "customers")]
    assert find_hallucinations(
        "SELECT name FROM employees WHERE id IN (SELECT emp_id FROM bonuses)", company
    ) == [("table", "bonuses")]


def test_aliases_are_not_schema_elements(company):
    sql = (
        "SELECT T1.name AS who, count(*) AS cnt FROM employees AS T1 JOIN departments AS T2 "
        "ON T1.department_id = T2.id GROUP BY who HAVING cnt > 1 ORDER BY cnt DESC"
    )
    assert find_hallucinations(sql, company) == []


def test_wrong_column_through_alias(company):
    sql = "SELECT T2.salary FROM employees AS T1 JOIN departments AS T2 ON T1.department_id = T2.id"
    assert find_hallucinations(sql, company) == [("column", "salary")]


def test_qualifier_not_in_scope(company):
    assert find_hallucinations("SELECT x.name FROM employees", company) == [("table", "x")]
    # a real table that is not in FROM: the column reference resolves to nothing
    assert find_hallucinations("SELECT departments.budget FROM employees", company) == [("column", "budget")]


def test_cte_and_recursive_cte(company):
    sql = "WITH top AS (SELECT name, salary AS pay FROM employees) SELECT top.name, pay, missing FROM top"
    assert find_hallucinations(sql, company) == [("column", "missing")]
    rec = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5) SELECT n FROM c"
    assert find_hallucinations(rec, company) == []
    assert (
        find_hallucinations("WITH Top AS (SELECT * FROM employees) SELECT anything FROM TOP", company) == []
    )


def test_derived_table_columns(company):
    sql = "SELECT sub.name, sub.salary FROM (SELECT name FROM employees) AS sub"
    assert find_hallucinations(sql, company) == [("column", "salary")]


def test_subquery_and_correlated_subquery(company):
    sql = (
        "SELECT name FROM employees AS e WHERE salary > (SELECT avg(salary) FROM employees AS e2 "
        "WHERE e2.department = e.department) AND department_id IN (SELECT id FROM departments WHERE budgt > 1)"
    )
    assert find_hallucinations(sql, company) == [("column", "budgt")]


def test_using_join(company):
    assert find_hallucinations("SELECT name FROM employees JOIN departments USING (id)", company) == []
    assert find_hallucinations("SELECT name FROM employees JOIN departments USING (salary)", company) == [
        ("column", "salary")
    ]


def test_stars(company):
    assert find_hallucinations("SELECT *, e.*, d.* FROM employees e JOIN departments d ON 1", company) == []
    assert find_hallucinations("SELECT q.* FROM employees", company) == [("table", "q")]
    assert find_hallucinations("SELECT count(*) FROM employees", company) == []


def test_case_insensitive_everywhere(company):
    sql = "SELECT E.NAME, Salary FROM EMPLOYEES e WHERE e.Department_ID = 1 ORDER BY ROWID"
    assert find_hallucinations(sql, company) == []


@pytest.mark.parametrize(
    "quoted", ["`hire date`", "[hire date]", '"hire date"', "e.`hire date`", "e.[Hire Date]"]
)
def test_quoted_identifiers(company, quoted):
    assert find_hallucinations(f"SELECT {quoted} FROM employees AS e", company) == []


@pytest.mark.parametrize("quoted", ["`fire date`", "[fire date]"])
def test_backtick_and_bracket_unknown_column_counts(company, quoted):
    assert find_hallucinations(f"SELECT {quoted} FROM employees", company) == [("column", "fire date")]


def test_unparseable_sql_has_no_hallucinations(company):
    assert find_hallucinations("SELEC name FROM (", company) == []
    assert find_hallucinations("", company) == []


def test_set_operations_and_multiple_statements(company):
    assert find_hallucinations("SELECT name FROM employees UNION SELECT title FROM departments", company) == [
        ("column", "title")
    ]
    assert find_hallucinations("SELECT 1; SELECT x FROM nowhere", company) == [("table", "nowhere")]


def test_dml_target_is_checked(company):
    assert find_hallucinations("UPDATE employees SET bonus = 1 WHERE id = 2", company) == [
        ("column", "bonus")
    ]
    assert find_hallucinations("DELETE FROM staff WHERE id = 2", company) == [("table", "staff")]


def test_schema_forms_are_equivalent(employees_db, company):
    sql = "SELECT name, budget, nope FROM employees JOIN departments ON department_id = departments.id"
    expected = [("column", "nope")]
    assert find_hallucinations(sql, company) == expected
    assert find_hallucinations(sql, str(employees_db)) == expected
    assert find_hallucinations(sql, company.to_dict()) == expected


def test_bad_schema_raises_schema_error():
    with pytest.raises(SchemaError):
        find_hallucinations("SELECT 1", 42)


def test_hallucinations_agree_with_sqlite(employees_db, company):
    """Where our analysis finds nothing, SQLite prepares the query; where it finds something, SQLite fails."""
    con = sqlite3.connect(employees_db)
    queries = [
        "SELECT e.name FROM employees AS e WHERE e.salary > (SELECT avg(salary) FROM employees)",
        "SELECT d.name, count(*) AS n FROM departments d JOIN employees e ON e.department_id = d.id GROUP BY d.name HAVING n > 0",
        "WITH x AS (SELECT id FROM departments) SELECT * FROM x",
        "SELECT e.nam FROM employees AS e",
        "SELECT name FROM staff",
        "SELECT salary FROM departments",
    ]
    try:
        for q in queries:
            found = find_hallucinations(q, company)
            try:
                con.execute("EXPLAIN " + q)
                ok = True
            except sqlite3.OperationalError:
                ok = False
            assert ok == (found == []), (q, found)
    finally:
        con.close()


def test_referenced_tables():
    sql = "WITH c AS (SELECT * FROM Orders) SELECT * FROM c JOIN Customers AS k ON 1 WHERE x IN (SELECT y FROM items)"
    assert referenced_tables(sql) == {"orders", "customers", "items"}
    assert referenced_tables("not sql at all (") == set()


# --------------------------------------------------------------- clause components
BASE = (
    "SELECT T1.name, T2.budget FROM employees AS T1 JOIN departments AS T2 ON T1.department_id = T2.id "
    "WHERE T2.budget > 1000 AND T1.salary < 50"
)


def test_components_content():
    c = clause_components(BASE)
    assert isinstance(c, ClauseComponents)
    assert c.select == {"employees.name", "departments.budget"}
    assert c.where == {"1000 < departments.budget", "employees.salary < 50"}
    assert c.joins == {"employees", "departments", "on departments.id = employees.department_id"}


@pytest.mark.parametrize(
    "variant",
    [
        # reordered SELECT items and AND-ed predicates
        "SELECT T2.budget, T1.name FROM employees AS T1 JOIN departments AS T2 ON T1.department_id = T2.id "
        "WHERE T1.salary < 50 AND T2.budget > 1000",
        # swapped operands of = and of a comparison (a < b == b > a)
        "SELECT T1.name, T2.budget FROM employees AS T1 JOIN departments AS T2 ON T2.id = T1.department_id "
        "WHERE 1000 < T2.budget AND 50 > T1.salary",
        # different aliases, no aliases, join order
        "SELECT e.name, d.budget FROM departments d JOIN employees e ON e.department_id = d.id "
        "WHERE d.budget > 1000 AND e.salary < 50",
        "SELECT employees.name, departments.budget FROM employees JOIN departments "
        "ON employees.department_id = departments.id WHERE departments.budget > 1000 AND employees.salary < 50",
        # letter case and parentheses
        "select t1.NAME, t2.Budget from EMPLOYEES as t1 join Departments as T2 on (t1.department_id = t2.ID) "
        "where (T2.budget > 1000) and t1.salary < 50",
    ],
)
def test_components_invariance(variant):
    assert clause_components(variant) == clause_components(BASE)


@pytest.mark.parametrize(
    "variant, clause",
    [
        (BASE.replace("T1.salary < 50", "T1.salary <= 50"), "where"),
        (BASE.replace("T1.salary < 50", "T1.salary > 50"), "where"),
        (BASE.replace("T2.budget > 1000", "T2.budget > 999"), "where"),
        (BASE.replace("T2.budget FROM", "T2.name FROM"), "select"),
        (BASE.replace("JOIN", "LEFT JOIN"), "joins"),
        (BASE.replace("T1.department_id = T2.id", "T1.id = T2.id"), "joins"),
    ],
)
def test_components_sensitivity(variant, clause):
    a, b = clause_components(BASE), clause_components(variant)
    assert getattr(a, clause) != getattr(b, clause)
    for other in {"select", "where", "joins"} - {clause}:
        assert getattr(a, other) == getattr(b, other)


def test_components_string_literal_case_kept_and_spider_quotes():
    a = clause_components("SELECT name FROM employees WHERE name = 'John'")
    assert a.where == {"'John' = employees.name"}
    assert clause_components('SELECT name FROM employees WHERE name = "John"') == a
    assert clause_components("SELECT name FROM employees WHERE name = 'john'") != a


def test_components_unqualified_single_table_equals_qualified():
    assert clause_components("SELECT name FROM employees WHERE salary > 3") == clause_components(
        "SELECT e.name FROM employees e WHERE e.salary > 3"
    )


def test_components_in_list_and_or_order():
    a = clause_components("SELECT a FROM t WHERE x IN (1, 2) AND (y = 1 OR z = 2)")
    b = clause_components("SELECT a FROM t WHERE (z = 2 OR y = 1) AND x IN (2, 1)")
    assert a == b and len(a.where) == 2


def test_components_subquery_aliases_resolved():
    a = clause_components(
        "SELECT name FROM employees WHERE id IN (SELECT T1.id FROM departments AS T1 WHERE T1.budget > 5)"
    )
    b = clause_components(
        "SELECT name FROM employees WHERE id IN (SELECT d.id FROM departments d WHERE 5 < d.budget)"
    )
    assert a == b


def test_components_absent_clauses_and_unparseable():
    c = clause_components("SELECT count(*) FROM employees")
    assert c.where == frozenset() and c.select == {"count(*)"} and c.joins == {"employees"}
    assert clause_components("SELEC garbage (") is None
    assert clause_components("") is None


def test_components_set_operation_merges_arms():
    c = clause_components("SELECT a FROM t WHERE x = 1 UNION SELECT b FROM u")
    assert c.select == {"t.a", "u.b"} and c.where == {"1 = t.x"} and c.joins == {"t", "u"}


# ---------------------------------------------------------------------- robustness
SQL_TOKENS = st.sampled_from(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "JOIN",
        "ON",
        "AND",
        "OR",
        "employees",
        "departments",
        "e",
        "name",
        "x.",
        "(",
        ")",
        ",",
        "*",
        "=",
        "'s'",
        '"John"',
        "`id`",
        "[id]",
        "1",
        "AS",
        "WITH",
        "UNION",
        "IN",
        ";",
        "GROUP BY",
        "USING",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(SQL_TOKENS, max_size=25).map(" ".join)))
def test_analysis_never_raises(employees_schema, sql):
    found = find_hallucinations(sql, employees_schema)
    assert all(isinstance(h, Hallucination) and h.kind in ("table", "column") for h in found)
    assert len({(h.kind, h.name.lower()) for h in found}) == len(found)
    comps = clause_components(sql)
    assert comps is None or isinstance(comps, ClauseComponents)
    assert (comps is None) == (not parse_sql(sql).ok)


def test_deeply_nested_input_does_not_raise(employees_schema):
    sql = "SELECT " + "(" * 3000 + "1" + ")" * 3000 + " FROM employees"
    assert isinstance(find_hallucinations(sql, employees_schema), list)
    clause_components(sql)


def test_trailing_comment_after_semicolon_is_not_a_statement():
    from sqlr1x.sql.analysis import parse_sql

    assert parse_sql("SELECT 1; -- done").n_statements == 1
    assert parse_sql("SELECT 1; SELECT 2 -- two").n_statements == 2


def _sqlite_rejects(db, sql: str) -> bool:
    """SQLite refuses to compile ``sql`` (EXPLAIN only compiles; the connection is read-only)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        con.execute("EXPLAIN " + sql)
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        con.close()


def test_derived_table_and_cte_cannot_see_the_query_they_feed(employees_db, company):
    # The outer query's source exposes `bonus` only because the inner query selects it: SQLite
    # rejects both ("no such column: bonus"), so the inner reference is a hallucination.
    for sql in (
        "SELECT * FROM (SELECT bonus FROM employees)",
        "WITH top AS (SELECT bonus FROM employees) SELECT bonus FROM top",
    ):
        assert _sqlite_rejects(employees_db, sql)
        assert find_hallucinations(sql, company) == [("column", "bonus")], sql
    # ...while a FROM subquery inside a correlated subquery still sees the queries further out.
    sql = (
        "SELECT name FROM employees AS e WHERE EXISTS "
        "(SELECT * FROM (SELECT id FROM departments AS d WHERE d.id = e.department_id))"
    )
    assert not _sqlite_rejects(employees_db, sql)
    assert find_hallucinations(sql, company) == []


def test_set_operation_order_by_resolves_in_its_arms(employees_db, company):
    ok = [
        "SELECT name FROM employees UNION SELECT name FROM departments ORDER BY name",
        "SELECT name AS who FROM employees EXCEPT SELECT name FROM departments ORDER BY who",
        "SELECT salary FROM employees UNION SELECT budget FROM departments ORDER BY budget DESC LIMIT 1",
    ]
    for sql in ok:
        assert not _sqlite_rejects(employees_db, sql)
        assert find_hallucinations(sql, company) == [], sql
    sql = "SELECT name FROM employees UNION SELECT name FROM departments ORDER BY bonus"
    assert find_hallucinations(sql, company) == [("column", "bonus")]


def test_recursive_cte_self_reference_uses_its_column_list(company):
    sql = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5) SELECT count(*) FROM c"
    assert find_hallucinations(sql, company) == []
    bad = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT c.m + 1 FROM c WHERE n < 5) SELECT n FROM c"
    assert find_hallucinations(bad, company) == [("column", "m")]


def test_components_not_like_spellings_are_one_predicate():
    # sqlglot parses `x NOT LIKE p` as Like(negate=True) but `NOT x LIKE p` as Not(Like(...)).
    a = clause_components("SELECT name FROM employees WHERE name NOT LIKE '%a%'")
    assert a == clause_components("SELECT name FROM employees WHERE NOT name LIKE '%a%'")
    assert a == clause_components('SELECT e.name FROM employees AS e WHERE e.name NOT LIKE "%a%"')
    assert a != clause_components("SELECT name FROM employees WHERE name LIKE '%a%'")


def test_insert_column_list_is_checked(employees_db, company):
    sql = "INSERT INTO employees (name, bonus) VALUES ('x', 1)"
    assert _sqlite_rejects(employees_db, sql)  # "table employees has no column named bonus"
    assert find_hallucinations(sql, company) == [("column", "bonus")]
    assert (
        find_hallucinations("INSERT INTO employees (Name, \"hire date\") VALUES ('x', '2020')", company) == []
    )
    assert find_hallucinations("INSERT INTO staff (name) VALUES ('x')", company) == [("table", "staff")]


def test_components_cte_body_counts_like_a_derived_table():
    wrong = clause_components("WITH c AS (SELECT name FROM employees WHERE salary > 10) SELECT name FROM c")
    right = clause_components("WITH c AS (SELECT name FROM employees WHERE salary > 99) SELECT name FROM c")
    assert wrong != right  # the CTE body is part of the query's structure
    # ...and the CTE's name does not matter: it reads like the same derived table.
    assert right == clause_components(
        "WITH top AS (SELECT e.name FROM employees e WHERE 99 < e.salary) SELECT top.name FROM top"
    )
    assert right == clause_components(
        "SELECT d.name FROM (SELECT name FROM employees WHERE salary > 99) AS d"
    )
    rec = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5) SELECT n FROM c"
    assert clause_components(rec) is not None


def test_components_chained_ctes_stay_small():
    # Each CTE joins the previous one twice: inlining naively doubles the text per CTE.
    parts = ["c0 AS (SELECT 1 AS x)"] + [
        f"c{i} AS (SELECT p.x FROM c{i - 1} AS p JOIN c{i - 1} AS q ON p.x = q.x)" for i in range(1, 60)
    ]
    sql = "WITH " + ", ".join(parts) + " SELECT x FROM c59"
    c = clause_components(sql)
    assert c is not None and sum(len(j) for j in c.joins) < 20_000
    assert c != clause_components(sql.replace("SELECT 1 AS x", "SELECT 2 AS x"))


# ------------------------------------------------- clause_components with a schema
SINGER_SCHEMA = {
    "tables": {
        "singer": {"columns": ["Singer_ID", "Name", "Age"]},
        "concert": {"columns": ["concert_id", "singer_id", "Year", "stadium"]},
        "stadium": {"columns": ["stadium_id", "name"]},
    }
}
SINGER_GOLD = "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id"
SINGER_PRED = "SELECT name FROM singer JOIN concert ON singer.singer_id = concert.singer_id"


def test_schema_qualifies_unqualified_column_of_a_join():
    without = clause_components(SINGER_PRED)
    assert without.select == {"name"}
    assert without != clause_components(SINGER_GOLD)
    pred = clause_components(SINGER_PRED, schema=SINGER_SCHEMA)
    assert pred.select == {"singer.name"}
    assert pred == clause_components(SINGER_GOLD, schema=SINGER_SCHEMA)
    # Case-insensitive, also in WHERE and ON; a Schema object works like the dict.
    sql = "select NAME, year from SINGER join CONCERT on Singer.Singer_Id = Concert.Singer_Id where AGE > 30"
    c = clause_components(sql, schema=Schema.coerce(SINGER_SCHEMA))
    assert c.select == {"singer.name", "concert.year"}
    assert c.where == {"30 < singer.age"}


def test_schema_leaves_ambiguous_and_unknown_columns_unqualified():
    # singer_id is in both singer and concert; nope is in no table.
    sql = "SELECT singer_id, nope, age FROM singer JOIN concert ON singer.singer_id = concert.singer_id"
    assert clause_components(sql, schema=SINGER_SCHEMA).select == {"singer_id", "nope", "singer.age"}
    # name is in singer and stadium: ambiguous when both are joined.
    three = "SELECT name, year FROM singer JOIN concert JOIN stadium"
    assert clause_components(three, schema=SINGER_SCHEMA).select == {"name", "concert.year"}
    # A self-join: both sources have the column.
    assert clause_components("SELECT age FROM singer AS a JOIN singer AS b", schema=SINGER_SCHEMA).select == {
        "age"
    }


def test_schema_respects_derived_sources():
    # The derived table may provide `age` (its outputs are unknown with *): unqualified.
    star = "SELECT age, year FROM concert JOIN (SELECT * FROM singer) AS s"
    assert clause_components(star, schema=SINGER_SCHEMA).select == {"age", "year"}
    # Known outputs: `age` comes from the subquery only, `year` from concert only.
    named = "SELECT age, year FROM concert JOIN (SELECT age FROM singer) AS s"
    # (the derived table is inlined: `age` is the expression it names)
    assert clause_components(named, schema=SINGER_SCHEMA).select == {"singer.age", "concert.year"}
    cte = "WITH s(a) AS (SELECT age FROM singer) SELECT a, year FROM concert JOIN s"
    assert clause_components(cte, schema=SINGER_SCHEMA).select == {"singer.age", "concert.year"}


def test_schema_reordered_and_aliased_variants_match():
    base = clause_components(
        "SELECT T1.name, T2.year FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id "
        "WHERE T2.year > 2014 AND T1.age < 40",
        schema=SINGER_SCHEMA,
    )
    for variant in (
        "SELECT year, name FROM concert JOIN singer ON concert.singer_id = singer.singer_id "
        "WHERE age < 40 AND 2014 < year",
        "select c.YEAR, s.NAME from CONCERT c join SINGER s on s.singer_id = c.singer_id "
        "where 40 > AGE and YEAR > 2014",
    ):
        assert clause_components(variant, schema=SINGER_SCHEMA) == base


def test_schema_cache_is_per_schema_key():
    other = {"tables": {"singer": {"columns": ["singer_id"]}, "concert": {"columns": ["singer_id", "name"]}}}
    assert clause_components(SINGER_PRED, schema=SINGER_SCHEMA).select == {"singer.name"}
    assert clause_components(SINGER_PRED, schema=other).select == {"concert.name"}
    # The no-schema result is unaffected by the schema calls, and equal schemas share entries.
    assert clause_components(SINGER_PRED).select == {"name"}
    assert clause_components(SINGER_PRED, schema=Schema.coerce(SINGER_SCHEMA)) is clause_components(
        SINGER_PRED, schema=Schema.coerce(SINGER_SCHEMA)
    )


def test_nesting_deeper_than_sqlite_accepts_is_refused_before_parsing():
    import sqlite3

    from sqlr1x.sql.parse import MAX_NESTING, nesting_depth

    deep = "SELECT * FROM " + "(SELECT * FROM " * 3000 + "t" + ")" * 3000
    parsed = parse_sql(deep)
    assert not parsed.ok and "nesting deeper" in parsed.error and nesting_depth(deep) == 3000
    # the bound is above what SQLite itself parses, so no query SQLite runs is refused
    at_bound = "SELECT " + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING
    assert parse_sql(at_bound).ok
    con = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError, match="parser stack overflow"):
        con.execute("EXPLAIN " + at_bound)
    # many parentheses side by side are not nesting
    wide = "SELECT " + " + ".join(["(1)"] * (MAX_NESTING * 2))
    assert parse_sql(wide).ok
