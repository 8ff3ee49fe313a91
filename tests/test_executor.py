"""Guarded SQLite execution: read-only enforcement, timeouts, row caps, error kinds, caching, batches."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import pickle
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import make_db
from sqlr1x.db import ERROR_KINDS, ExecResult, SQLiteExecutor, execute, results_match
from sqlr1x.db.executor import MatchOutcome, MatchTask

INFINITE_CTE = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db_copy(employees_db: Path, tmp_path: Path) -> Path:
    """A private copy of the employees database for tests that attempt writes."""
    dst = tmp_path / "copy.sqlite"
    shutil.copyfile(employees_db, dst)
    return dst


@pytest.fixture
def ex():
    with SQLiteExecutor(timeout=2.0) as executor:
        yield executor


def test_select_returns_rows_and_columns(ex, employees_db):
    r = ex.execute(employees_db, 'SELECT name, "hire date" FROM employees WHERE salary = 200 ORDER BY id')
    assert r.ok and r.error_kind is None and r.error is None
    assert r.rows == [("Bob", "2021-06-15"), ("Carol", None)]
    assert r.columns == ["name", "hire date"]
    assert not r.truncated and r.elapsed >= 0


WRITE_ATTEMPTS = [
    "DELETE FROM employees",
    "UPDATE employees SET salary = 0",
    "INSERT INTO employees (id, name) VALUES (99, 'Eve')",
    "REPLACE INTO departments VALUES (1, 'X', 0)",
    "DROP TABLE employees",
    "CREATE TABLE t (x)",
    "CREATE TEMP TABLE t (x)",
    "CREATE INDEX i ON employees(name)",
    "ALTER TABLE employees ADD COLUMN x",
    "WITH d AS (SELECT 1) DELETE FROM employees",
    "PRAGMA journal_mode=WAL",
    "PRAGMA user_version=5",
    "PRAGMA writable_schema=ON",
    "SELECT load_extension('x')",
    "SELECT LOAD_EXTENSION('/tmp/evil.so', 'init')",
    "BEGIN IMMEDIATE",
    "VACUUM",
    "REINDEX",
    "ANALYZE",
    "ATTACH ':memory:' AS m",
]


@pytest.mark.parametrize("sql", WRITE_ATTEMPTS)
def test_writes_are_refused_and_file_is_unchanged(db_copy, sql):
    before = sha256(db_copy)
    with SQLiteExecutor(timeout=2.0) as ex:
        r = ex.execute(db_copy, sql)
        assert r.error_kind == "not_authorized", (sql, r)
        assert not r.ok and r.rows == []
        # The connection stays usable and the data untouched.
        assert ex.execute(db_copy, "SELECT count(*) FROM employees").rows == [(5,)]
    assert sha256(db_copy) == before
    assert sorted(p.name for p in db_copy.parent.iterdir()) == ["copy.sqlite"]  # no -wal/-journal


@pytest.mark.parametrize(
    "statement", ["ATTACH '{p}' AS x", "ATTACH DATABASE '{p}' AS x", "VACUUM INTO '{p}'"]
)
def test_attach_or_vacuum_into_cannot_create_a_file(db_copy, tmp_path, statement):
    target = tmp_path / "created.sqlite"
    before = sha256(db_copy)
    r = execute(db_copy, statement.format(p=target))
    assert r.error_kind == "not_authorized"
    assert not target.exists()
    assert sha256(db_copy) == before


def test_infinite_recursive_cte_times_out_on_time(employees_db):
    with SQLiteExecutor(timeout=0.3) as ex:
        t0 = time.perf_counter()
        r = ex.execute(employees_db, INFINITE_CTE)
        wall = time.perf_counter() - t0
        assert r.error_kind == "timeout"
        assert wall < 0.3 + 0.1 and 0.3 <= r.elapsed < 0.4
        # The deadline is per call: the same connection runs the next query normally.
        assert ex.execute(employees_db, "SELECT count(*) FROM employees").rows == [(5,)]


def test_module_execute_takes_its_own_timeout(employees_db):
    t0 = time.perf_counter()
    assert execute(employees_db, INFINITE_CTE, timeout=0.2).error_kind == "timeout"
    assert time.perf_counter() - t0 < 0.3
    assert execute(employees_db, "SELECT 1", timeout=0.2).rows == [(1,)]


def test_row_cap_truncates(employees_db):
    with SQLiteExecutor(max_rows=3) as ex:
        r = ex.execute(employees_db, "SELECT id FROM employees ORDER BY id")
        assert r.ok and r.truncated and r.rows == [(1,), (2,), (3,)]
    exact = execute(employees_db, "SELECT id FROM employees", max_rows=5)
    assert not exact.truncated and len(exact.rows) == 5
    unlimited = execute(employees_db, "SELECT id FROM employees", max_rows=None)
    assert not unlimited.truncated and len(unlimited.rows) == 5


def test_oversized_values_are_refused(employees_db):
    r = execute(employees_db, "SELECT length(zeroblob(1000000000))")
    assert r.error_kind == "too_large" and "too big" in r.error


def test_missing_database_is_reported_and_not_created(tmp_path):
    missing = tmp_path / "nope.sqlite"
    r = execute(missing, "SELECT 1")
    assert r.error_kind == "missing_db" and not r.ok
    assert not missing.exists()
    assert execute(tmp_path, "SELECT 1").error_kind == "missing_db"  # a directory is no database


@pytest.mark.parametrize("sql", ["", "   \n", "-- just a comment", "/* c */ ;", ";", None])
def test_empty_sql(employees_db, sql):
    assert execute(employees_db, sql).error_kind == "empty"


@pytest.mark.parametrize(
    "sql", ["SELECT 1; SELECT 2", "SELECT 1; DROP TABLE employees", "SELECT name FROM employees;;"]
)
def test_multiple_statements(db_copy, sql):
    before = sha256(db_copy)
    assert execute(db_copy, sql).error_kind == "multiple_statements"
    assert sha256(db_copy) == before


def test_trailing_semicolon_and_comment_are_one_statement(employees_db):
    assert execute(employees_db, "SELECT count(*) FROM employees; -- done").rows == [(5,)]


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELEC name FROM employees", "syntax"),
        ("SELECT name FROM employees WHERE", "syntax"),
        ("SELECT 'unterminated FROM employees", "syntax"),
        ("SELECT name FROM customers", "no_such_table"),
        ("SELECT nickname FROM employees", "no_such_column"),
        ("SELECT abs(1, 2, 3)", "runtime"),
        ("SELECT no_such_function(1)", "runtime"),
        ("SELECT sum(9223372036854775807) FROM employees", "runtime"),
        ("SELECT 1 \x00", "runtime"),
        ("SELECT '\ud800'", "runtime"),
    ],
)
def test_error_kinds(employees_db, sql, kind):
    r = execute(employees_db, sql)
    assert r.error_kind == kind, r
    assert r.error and r.rows == [] and r.error_kind in ERROR_KINDS


def test_sqlite_master_is_readable(employees_db):
    names = {
        row[0] for row in execute(employees_db, "SELECT name FROM sqlite_master WHERE type = 'table'").rows
    }
    assert names == {"employees", "departments"}


def test_invalid_utf8_text_is_replaced_not_raised(tmp_path):
    db = make_db(
        tmp_path / "bad.sqlite", "CREATE TABLE t (s TEXT); INSERT INTO t VALUES (CAST(x'ff41' AS TEXT));"
    )
    with SQLiteExecutor() as ex:
        r = ex.execute(db, "SELECT s FROM t")
        assert r.ok and r.rows == [("\ufffdA",)]
        assert ex.execute(db, "SELECT s || 'b' FROM t").rows == [("\ufffdAb",)]


def test_odd_file_names_are_quoted_in_the_uri(employees_db, tmp_path):
    odd = tmp_path / "we?ird #name%20 100%.sqlite"
    shutil.copyfile(employees_db, odd)
    assert execute(odd, "SELECT count(*) FROM employees").rows == [(5,)]
    assert not (tmp_path / "we").exists()


def test_connection_is_reused_and_reopened_when_the_file_changes(tmp_path):
    db = make_db(tmp_path / "live.sqlite")
    with SQLiteExecutor() as ex:
        assert ex.execute(db, "SELECT count(*) FROM employees").rows == [(5,)]
        first = next(iter(ex._connections.values()))
        assert ex.execute(str(db), "SELECT count(*) FROM departments").rows == [(3,)]
        assert list(ex._connections.values()) == [first]  # same path (str or Path): one connection

        con = sqlite3.connect(db)
        con.execute("INSERT INTO employees (id, name) VALUES (6, 'Fay')")
        con.commit()
        con.close()
        os.utime(db, ns=(time.time_ns(), time.time_ns() + 10**9))  # coarse-mtime filesystems
        assert ex.execute(db, "SELECT count(*) FROM employees").rows == [(6,)]

        replacement = make_db(
            tmp_path / "other.sqlite", "CREATE TABLE employees (id); INSERT INTO employees VALUES (1);"
        )
        os.replace(replacement, db)
        assert ex.execute(db, "SELECT count(*) FROM employees").rows == [(1,)]

        db.unlink()
        assert ex.execute(db, "SELECT 1").error_kind == "missing_db"
        assert not db.exists()


class CountingExecutor(SQLiteExecutor):
    """Counts the statements that actually run in this process."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0

    def execute(self, db_path, sql):
        self.calls += 1
        return super().execute(db_path, sql)


def test_execute_cached_runs_each_query_once_per_file_version(tmp_path):
    db = make_db(tmp_path / "gold.sqlite")
    with CountingExecutor() as ex:
        a = ex.execute_cached(db, "SELECT name FROM employees ORDER BY id")
        a.rows.append(("mutated",))  # callers get copies: the cache stays intact
        b = ex.execute_cached(str(db), "SELECT name FROM employees ORDER BY id")
        assert ex.calls == 1 and len(b.rows) == 5
        ex.execute_cached(db, "SELECT 1")
        assert ex.calls == 2

        con = sqlite3.connect(db)
        con.execute("DELETE FROM employees WHERE id = 5")
        con.commit()
        con.close()
        os.utime(db, ns=(time.time_ns(), time.time_ns() + 10**9))
        c = ex.execute_cached(db, "SELECT name FROM employees ORDER BY id")
        assert ex.calls == 3 and len(c.rows) == 4


def test_result_cache_is_bounded_lru(employees_db):
    with CountingExecutor(cache_size=2) as ex:
        for sql in ("SELECT 1", "SELECT 2", "SELECT 1", "SELECT 3", "SELECT 1", "SELECT 2"):
            ex.execute_cached(employees_db, sql)
        # 1, 2 miss; 1 hits; 3 evicts 2; 1 hits; 2 misses again.
        assert ex.calls == 4 and len(ex._cache) == 2


def _summary(results: list[ExecResult]) -> list[tuple]:
    return [(r.rows, r.columns, r.error_kind, r.truncated) for r in results]


def _batch(employees_db: Path, n: int) -> list[tuple[Path, str]]:
    queries = [
        "SELECT name FROM employees WHERE salary > {i} ORDER BY id",
        "SELECT count(*) + {i} FROM employees",
        "SELECT nope{i} FROM employees",
        "DELETE FROM employees WHERE id = {i}",
    ]
    return [(employees_db, queries[i % len(queries)].format(i=i * 10)) for i in range(n)]


def test_execute_many_small_batch_runs_in_process(employees_db):
    pairs = _batch(employees_db, 6)
    with SQLiteExecutor() as ex:
        results = ex.execute_many(pairs, workers=2)
        assert ex._pool is None
        assert _summary(results) == _summary([ex.execute(db, sql) for db, sql in pairs])


def test_execute_many_in_processes_matches_sequential_and_survives_timeouts(employees_db):
    pairs = _batch(employees_db, 40)
    pairs[5] = (employees_db, INFINITE_CTE)
    pairs[30] = (employees_db, INFINITE_CTE)
    with SQLiteExecutor(timeout=0.3, max_rows=2) as ex:
        ex.inline_budget = 0.0  # force everything through the pool
        sequential = [ex.execute(db, sql) for db, sql in pairs]
        parallel = ex.execute_many(pairs, workers=2)
        assert ex._pool is not None
        assert _summary(parallel) == _summary(sequential)
        assert parallel[5].error_kind == parallel[30].error_kind == "timeout"
        assert any(r.truncated for r in parallel)
        pool = ex._pool
        again = ex.execute_many(pairs[:20], workers=2)  # same workers, still alive after the timeouts
        assert ex._pool is pool
        assert _summary(again) == _summary(sequential[:20])


def test_execute_many_cache_dedupes_before_dispatch(employees_db):
    unique = _batch(employees_db, 8)
    pairs = unique * 3 + [(str(employees_db), unique[0][1])]
    with SQLiteExecutor() as ex:
        dispatched: list[int] = []
        run_batch = ex._run_batch
        ex._run_batch = lambda items, workers: dispatched.append(len(items)) or run_batch(items, workers)
        first = ex.execute_many(pairs, workers=2, cache=True)
        second = ex.execute_many(pairs, workers=2, cache=True)
        assert dispatched == [8, 0]
        expected = _summary([ex.execute(db, sql) for db, sql in pairs])
        assert _summary(first) == _summary(second) == expected
        first[0].rows.append(("mutated",))
        assert ex.execute_cached(*unique[0]).rows == expected[0][0]


def test_execute_many_without_cache_runs_duplicates(employees_db):
    with CountingExecutor() as ex:
        ex.execute_many([(employees_db, "SELECT 1")] * 3, workers=1)
        assert ex.calls == 3


def _match_tasks(db: Path) -> list[MatchTask]:
    gold = "SELECT name, salary FROM employees WHERE salary >= 100"
    ordered = "SELECT name FROM employees WHERE salary IS NOT NULL ORDER BY salary, name"
    return [
        MatchTask(
            str(db),
            gold,
            (
                gold,  # identical to the gold: reuses its result
                "SELECT salary, name FROM employees WHERE salary >= 100",  # permuted columns: match
                "SELECT name, salary FROM employees ORDER BY id DESC",  # mismatch, truncated
                "SELECT nope FROM employees",  # error
                INFINITE_CTE,  # timeout
                "SELECT name, salary FROM employees WHERE salary > 1000",  # empty result
            ),
        ),
        MatchTask(
            str(db),
            ordered,
            (
                "SELECT name FROM employees WHERE salary IS NOT NULL ORDER BY salary DESC, name",
                "SELECT name FROM employees WHERE salary IS NOT NULL ORDER BY salary, name",
            ),
            order_matters=True,
        ),
        MatchTask(str(db), "SELECT nope FROM employees", ("SELECT 1", "SELECT broken(")),  # gold error
        MatchTask(str(db), "SELECT 7", ("SELECT nope",)),  # gold not needed: not executed
        MatchTask(str(db), "SELECT id FROM employees", (), gold_required=True),  # gold only
    ]


def _outcome_summary(outcomes: list[MatchOutcome]) -> list[tuple]:
    def res(r):
        return None if r is None else (r.rows, r.columns, r.error_kind, r.truncated)

    return [
        (res(o.gold), [res(p) for p in o.preds], o.matches, o.pred_empty, o.errors, o.failed)
        for o in outcomes
    ]


def test_run_match_compares_like_results_match(employees_db):
    tasks = _match_tasks(employees_db)
    # pred_limit=None: every query gets ``timeout`` and the gold runs only when a prediction ran.
    with CountingExecutor(timeout=0.3, max_rows=3, pred_limit=None) as ex:
        outcomes = [ex.run_match(t) for t in tasks]
        first = outcomes[0]
        assert first.matches == (True, True, False, None, None, False)
        assert [p.error_kind for p in first.preds] == [None, None, None, "no_such_column", "timeout", None]
        assert first.pred_empty == (False, False, False, True, True, True)
        assert all(p.rows == [] for p in first.preds)  # rows stay where the comparison ran
        assert first.gold.rows == ex.execute(employees_db, tasks[0].gold_sql).rows
        assert first.preds[2].truncated and not first.preds[0].truncated
        assert outcomes[1].matches == (False, True)  # gold has ORDER BY: order matters
        assert outcomes[2].gold.error_kind == "no_such_column" and outcomes[2].matches == (None, None)
        assert outcomes[3].gold is None  # no prediction executed
        assert outcomes[4].gold.rows == [(1,), (2,), (3,)]
        # Each verdict is exactly results_match on the rows of the two queries.
        for task, outcome in zip(tasks, outcomes, strict=True):
            for sql, verdict in zip(task.pred_sqls, outcome.matches, strict=True):
                pred, gold = ex.execute(task.db_path, sql), ex.execute(task.db_path, task.gold_sql)
                expected = (
                    results_match(pred.rows, gold.rows, order_matters=task.order_matters)
                    if pred.ok and gold.ok
                    else None
                )
                assert verdict == expected, sql
        ex.calls = 0
        ex.run_match(tasks[0])
        assert ex.calls == 6  # the gold once (also serving the identical prediction), 5 predictions


def test_matches_in_worker_processes_equal_in_process(employees_db):
    tasks = _match_tasks(employees_db) * 3
    with SQLiteExecutor(timeout=0.3, max_rows=3) as ex:
        local = [ex.run_match(t) for t in tasks]
        ex.inline_budget = 0.0  # everything through the pool...
        pending = ex.submit_matches(tasks, workers=2, cache_gold=False)
        assert ex._pool is not None and pending._chunks
        assert _outcome_summary(pending.result()) == _outcome_summary(local)
        # ...and when the caller takes back the chunks no worker started, the same again
        stealing = ex.submit_matches(tasks, workers=2, cache_gold=False)
        for _, _, fut in stealing._chunks[1:]:
            fut.cancel()
        assert _outcome_summary(stealing.result()) == _outcome_summary(local)


def test_small_match_batches_run_in_process(employees_db):
    with SQLiteExecutor() as ex:
        outcomes = ex.compare_many(_match_tasks(employees_db)[1:3], workers=2)
        assert ex._pool is None and outcomes[1].matches == (None, None)


def test_submit_matches_uses_and_fills_the_gold_cache(employees_db):
    gold = "SELECT name FROM employees ORDER BY id"
    task = MatchTask(str(employees_db), gold, ("SELECT name FROM employees ORDER BY name",))
    uncached = MatchTask(str(employees_db), "SELECT 2", ("SELECT 2",), cache=False)
    with CountingExecutor() as ex:
        first = ex.compare_many([task, uncached], workers=1)
        assert ex.calls == 3 and first[0].matches == (True,)
        assert ex.execute_cached(employees_db, gold).rows == first[0].gold.rows and ex.calls == 3
        second = ex.compare_many([task, uncached], workers=1)
        assert ex.calls == 5  # the gold came from the cache; the uncached task ran again
        assert _outcome_summary(second) == _outcome_summary(first)


def test_matches_survive_a_dying_worker(employees_db):
    # Killing the workers mid-batch stands for an out-of-memory kill.
    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT count(*) FROM c"
    tasks = [MatchTask(str(employees_db), f"SELECT {i}", (f"SELECT {i}", slow)) for i in range(40)]
    with SQLiteExecutor() as ex:
        ex.inline_budget = 0.0
        pending = ex.submit_matches(tasks, workers=2)
        time.sleep(0.2)
        for proc in list(ex._pool._processes.values()):
            proc.kill()
        deadline = time.monotonic() + 10
        while not ex._pool._broken and time.monotonic() < deadline:
            time.sleep(0.01)
        outcomes = pending.result()
        failed = [i for i, o in enumerate(outcomes) if o.failed]
        assert failed  # the chunks in flight were lost...
        for i, o in enumerate(outcomes):
            cached = ex._cache_key(employees_db, f"SELECT {i}") in ex._cache
            if o.failed:  # ...reported as runtime errors, and never cached as gold results
                assert [p.error_kind for p in o.preds] == ["runtime"] * 2 and not cached
            else:
                assert o.matches == (True, False) and cached
        assert ex._pool is None
        again = ex.compare_many(tasks[:20], workers=2)  # a fresh pool
        assert all(o.matches == (True, False) for o in again)


def test_executor_pickles_its_configuration_only(employees_db):
    ex = SQLiteExecutor(timeout=1.5, max_rows=7, cache_size=3)
    ex.execute_cached(employees_db, "SELECT 1")
    clone = pickle.loads(pickle.dumps(ex))
    assert (clone.timeout, clone.max_rows, clone.cache_size) == (1.5, 7, 3)
    assert len(clone._connections) == 0 and len(clone._cache) == 0
    assert clone.execute(employees_db, "SELECT 2").rows == [(2,)]
    ex.close()
    clone.close()


def test_invalid_configuration_is_rejected():
    with pytest.raises(ValueError, match="timeout"):
        SQLiteExecutor(timeout=0)
    with pytest.raises(ValueError, match="max_rows"):
        SQLiteExecutor(max_rows=-1)


def test_no_database_path(employees_db):
    assert execute(None, "SELECT 1").error_kind == "missing_db"


def _child_execute(db: str, queue) -> None:
    r = execute(db, "SELECT count(*) FROM employees")
    queue.put((r.rows, r.error_kind))


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs the fork start method")
def test_forked_child_gets_its_own_connections(employees_db):
    execute(employees_db, "SELECT 1")  # the parent's default executor now holds a connection
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_execute, args=(str(employees_db), queue))
    child.start()
    child.join(10)
    assert child.exitcode == 0
    assert queue.get(timeout=1) == ([(5,)], None)
    assert execute(employees_db, "SELECT count(*) FROM employees").rows == [(5,)]
