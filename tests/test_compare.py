"""Result comparison modes (Spider test-suite, BIRD, ordered), DISTINCT removal, ORDER BY detection."""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlr1x.db import SQLiteExecutor, execution_match, gold_has_order_by, remove_distinct, results_match


def brute_force_spider(pred, gold, order_matters):
    """Reference: try every column permutation (what result_eq decides, without its pruning)."""
    if not pred and not gold:
        return True
    if len(pred) != len(gold) or len(pred[0]) != len(gold[0]):
        return False
    for perm in itertools.permutations(range(len(gold[0]))):
        permuted = [tuple(row[i] for i in perm) for row in pred]
        if (permuted == gold) if order_matters else (Counter(permuted) == Counter(gold)):
            return True
    return False


# --------------------------------------------------------------------------- results_match
def test_spider_counts_duplicates_bird_does_not():
    assert not results_match([(1,), (1,)], [(1,)], "spider")
    assert results_match([(1,), (1,)], [(1,)], "bird")
    assert not results_match([(1,), (1,), (2,)], [(1,), (2,), (2,)], "spider")
    assert results_match([(1,), (1,), (2,)], [(1,), (2,), (2,)], "bird")
    assert not results_match([(1,), (1,)], [(1,)], "ordered")


def test_row_order():
    pred, gold = [(1,), (2,)], [(2,), (1,)]
    assert results_match(pred, gold, "spider")
    assert not results_match(pred, gold, "spider", order_matters=True)
    assert results_match(pred, gold, "bird")
    assert not results_match(pred, gold, "ordered")
    assert results_match(gold, gold, "ordered") and results_match(gold, gold, "spider", order_matters=True)


def test_column_permutation_spider_only():
    gold = [("Alice", 100.0), ("Bob", 200.0)]
    pred = [(100.0, "Alice"), (200.0, "Bob")]
    assert results_match(pred, gold, "spider")
    assert results_match(list(reversed(pred)), gold, "spider")
    assert results_match(pred, gold, "spider", order_matters=True)
    assert not results_match(list(reversed(pred)), gold, "spider", order_matters=True)
    assert not results_match(pred, gold, "bird")
    assert not results_match(pred, gold, "ordered")


def test_column_permutation_must_be_consistent_across_rows():
    # Every row is a permutation of the gold row, but no single column order maps all rows.
    gold = [(1, 2), (3, 4)]
    pred = [(1, 2), (4, 3)]
    assert not results_match(pred, gold, "spider")
    gold3 = [(1, 1, 2), (1, 2, 1)]
    pred3 = [(1, 1, 2), (2, 1, 1)]
    assert results_match(pred3, gold3, "spider") == brute_force_spider(pred3, gold3, False)


def test_nulls():
    assert results_match([(None,)], [(None,)], "spider")
    assert results_match([(None,)], [(None,)], "bird")
    assert results_match([(None, 1)], [(1, None)], "spider")
    assert not results_match([(None,)], [(0,)], "spider")
    assert not results_match([(None,)], [("",)], "bird")
    assert not results_match([(None, 1), (None, 1)], [(None, 1), (1, None)], "spider")


@pytest.mark.parametrize("mode", ["spider", "bird", "ordered"])
def test_empty_results(mode):
    assert results_match([], [], mode)
    assert not results_match([], [(1,)], mode)
    assert not results_match([(1,)], [], mode)


def test_column_count_must_agree():
    assert not results_match([(1, 1)], [(1,)], "spider")
    assert not results_match([(1, 1)], [(1,)], "bird")


def test_python_equality_for_numbers_and_unhashables():
    assert results_match([(1, "a")], [(1.0, "a")], "spider")
    assert results_match([(1,)], [(1.0,)], "bird")
    assert results_match([[1, "a"], [2, "b"]], [("b", 2), ("a", 1)], "spider")  # lists as rows
    assert results_match([([1, 2], {"k": 1})], [([1, 2], {"k": 1})], "bird")  # unhashable values
    assert not results_match([([1, 2],)], [([2, 1],)], "spider")
    assert not results_match([("1",)], [(1,)], "spider")


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="unknown comparison mode"):
        results_match([], [], "exact")


def test_wide_results_do_not_blow_up():
    rng = random.Random(0)
    n_cols, n_rows = 14, 60
    # Every column holds the same multiset of values: 14! column orders pass the column filter.
    base = list(range(n_rows))
    gold_cols = [rng.sample(base, n_rows) for _ in range(n_cols)]
    gold = [tuple(c[r] for c in gold_cols) for r in range(n_rows)]
    perm = rng.sample(range(n_cols), n_cols)
    pred = [tuple(row[i] for i in perm) for row in gold]
    rng.shuffle(pred)
    t0 = time.perf_counter()
    assert results_match(pred, gold, "spider")
    broken = list(pred)
    broken[0] = (broken[0][1], broken[0][0], *broken[0][2:])  # swap two values in one row only
    assert not results_match(broken, gold, "spider")
    identical = [tuple([v] * n_cols) for v in base]  # all columns equal: permutations are equivalent
    assert results_match(identical, list(reversed(identical)), "spider")
    assert time.perf_counter() - t0 < 2.0


values = st.sampled_from([0, 1, 2, None, "a"])


@st.composite
def table_pairs(draw):
    n_cols = draw(st.integers(1, 4))
    n_rows = draw(st.integers(1, 5))
    row = st.tuples(*[values] * n_cols)
    gold = draw(st.lists(row, min_size=n_rows, max_size=n_rows))
    if draw(st.booleans()):  # a genuine column + row permutation of gold
        perm = draw(st.permutations(range(n_cols)))
        pred = draw(st.permutations([tuple(r[i] for i in perm) for r in gold]))
    else:
        pred = draw(st.lists(row, min_size=n_rows, max_size=n_rows))
    return list(pred), gold


@settings(max_examples=300, deadline=None)
@given(table_pairs(), st.booleans())
def test_spider_mode_agrees_with_brute_force(pair, order_matters):
    pred, gold = pair
    assert results_match(pred, gold, "spider", order_matters=order_matters) == brute_force_spider(
        pred, gold, order_matters
    )
    assert results_match(pred, gold, "bird") == (set(pred) == set(gold))


# --------------------------------------------------------------------------- remove_distinct
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT DISTINCT name FROM employees", "SELECT name FROM employees"),
        ("select distinct(name) from employees", "select (name) from employees"),
        (
            "SELECT name FROM employees WHERE name = 'distinct'",
            "SELECT name FROM employees WHERE name = 'distinct'",
        ),
        ('SELECT "distinct" FROM t', 'SELECT "distinct" FROM t'),
        ("SELECT DISTINCT a FROM t -- distinct rows", "SELECT a FROM t -- distinct rows"),
        (
            "SELECT COUNT(DISTINCT department) FROM employees",
            "SELECT COUNT(DISTINCT department) FROM employees",
        ),
        (
            "SELECT DISTINCT a FROM t WHERE a IN (SELECT DISTINCT b FROM u)",
            "SELECT a FROM t WHERE a IN (SELECT DISTINCT b FROM u)",
        ),
        ("SELECT a FROM t WHERE a IS NOT DISTINCT FROM b", "SELECT a FROM t WHERE a IS NOT DISTINCT FROM b"),
        ("SELECT 'unterminated DISTINCT", "SELECT 'unterminated DISTINCT"),
        ("SELECT name FROM employees", "SELECT name FROM employees"),
    ],
)
def test_remove_distinct(sql, expected):
    assert remove_distinct(sql) == expected


def test_remove_distinct_upstream_mode_drops_aggregate_distinct_too():
    sql = "SELECT DISTINCT a, COUNT(DISTINCT b) FROM t WHERE c = 'DISTINCT'"
    assert remove_distinct(sql, keep_aggregate=False) == "SELECT a, COUNT(b) FROM t WHERE c = 'DISTINCT'"


def test_remove_distinct_keeps_non_ascii_text_intact():
    sql = "SELECT DISTINCT nom FROM t WHERE ville = 'Zürich — distinct' AND x = 1"
    assert remove_distinct(sql) == "SELECT nom FROM t WHERE ville = 'Zürich — distinct' AND x = 1"


# --------------------------------------------------------------------------- gold_has_order_by
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT name FROM employees ORDER BY salary DESC LIMIT 1", True),
        ("select name from employees order  by salary", True),
        ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", True),
        ("WITH x AS (SELECT a FROM t ORDER BY a) SELECT a FROM x", False),
        ("WITH x AS (SELECT a FROM t) SELECT a FROM x ORDER BY a", True),
        ("SELECT a FROM (SELECT a FROM t ORDER BY a LIMIT 3)", False),
        ("SELECT a FROM t WHERE b = 'order by'", False),
        ("(SELECT a FROM t ORDER BY a)", True),
        ("SELECT name FROM employees", False),
        ("SELECT FROM WHERE ORDER BY", True),  # unparseable: upstream substring test
        ("SELECT ,,, FROM", False),
    ],
)
def test_gold_has_order_by(sql, expected):
    assert gold_has_order_by(sql) is expected


# --------------------------------------------------------------------------- execution_match
@pytest.fixture(scope="module")
def ex():
    with SQLiteExecutor(timeout=2.0) as executor:
        yield executor


def test_execution_match_equivalent_queries(employees_db, ex):
    gold = "SELECT name FROM employees WHERE department = 'Engineering'"
    pred = "SELECT e.name FROM employees AS e JOIN departments AS d ON e.department_id = d.id WHERE d.name = 'Engineering'"
    for mode in ("spider", "bird"):
        assert execution_match(pred, gold, employees_db, mode, executor=ex)
    assert not execution_match("SELECT name FROM employees", gold, employees_db, executor=ex)


def test_execution_match_spider_vs_bird(employees_db, ex):
    # Column order: Spider allows permutations, BIRD compares tuples.
    assert execution_match(
        "SELECT salary, name FROM employees", "SELECT name, salary FROM employees", employees_db
    )
    assert not execution_match(
        "SELECT salary, name FROM employees", "SELECT name, salary FROM employees", employees_db, "bird"
    )
    # Duplicates: BIRD compares sets, Spider bags.
    pred, gold = "SELECT department FROM employees WHERE salary = 200", "SELECT 'Engineering'"
    assert execution_match(pred, gold, employees_db, "bird", executor=ex)
    assert not execution_match(pred, gold, employees_db, "spider", executor=ex)
    # Order: significant in Spider only when the gold has ORDER BY.
    asc, desc = "SELECT name FROM employees ORDER BY name", "SELECT name FROM employees ORDER BY name DESC"
    assert not execution_match(asc, desc, employees_db, "spider", executor=ex)
    assert execution_match(asc, "SELECT name FROM employees", employees_db, "spider", executor=ex)
    assert execution_match(asc, desc, employees_db, "bird", executor=ex)
    assert not execution_match(asc, desc, employees_db, "ordered", executor=ex)


def test_execution_match_distinct_handling(employees_db, ex):
    pred, gold = "SELECT department FROM employees", "SELECT DISTINCT department FROM employees"
    assert execution_match(pred, gold, employees_db, "spider", executor=ex)  # DISTINCT dropped from both
    assert execution_match(pred, gold, employees_db, "bird", executor=ex)  # sets
    assert not execution_match(pred, gold, employees_db, "ordered", executor=ex)
    # Aggregate DISTINCT is kept (upstream would drop it and call these equal).
    assert not execution_match(
        "SELECT COUNT(department) FROM employees",
        "SELECT COUNT(DISTINCT department) FROM employees",
        employees_db,
        executor=ex,
    )


def test_execution_match_failures_are_false(employees_db, ex, tmp_path):
    gold = "SELECT name FROM employees"
    assert not execution_match("SELECT nope FROM employees", gold, employees_db, executor=ex)
    assert not execution_match(None, gold, employees_db, executor=ex)
    assert not execution_match("DELETE FROM employees", gold, employees_db, executor=ex)
    # A failing gold never rewards an executable prediction (the SQL-R1 bug).
    assert not execution_match(
        "SELECT name FROM employees", "SELECT nope FROM employees", employees_db, executor=ex
    )
    assert not execution_match(gold, gold, tmp_path / "missing.sqlite", executor=ex)


def test_execution_match_operator_postprocess_in_spider_mode(employees_db, ex):
    gold = "SELECT name FROM employees WHERE salary >= 200"
    assert execution_match("SELECT name FROM employees WHERE salary > = 200", gold, employees_db, executor=ex)
    assert not execution_match(
        "SELECT name FROM employees WHERE salary > = 200", gold, employees_db, "bird", executor=ex
    )


def test_execution_match_truncated_results_are_not_compared(employees_db):
    with SQLiteExecutor(max_rows=2) as small:
        sql = "SELECT name FROM employees"
        assert not execution_match(sql, sql, employees_db, executor=small)
        assert execution_match("SELECT 1", "SELECT 1", employees_db, executor=small)


def test_execution_match_caches_gold(employees_db):
    class Counting(SQLiteExecutor):
        calls: list[str] = []

        def execute(self, db_path, sql):
            self.calls.append(sql)
            return super().execute(db_path, sql)

    with Counting() as ex:
        gold = "SELECT count(*) FROM employees"
        for pred in ("SELECT count(id) FROM employees", "SELECT 5", "SELECT 4"):
            execution_match(pred, gold, employees_db, executor=ex)
        assert ex.calls.count(gold) == 1 and len(ex.calls) == 4
